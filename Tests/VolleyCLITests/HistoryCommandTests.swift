import Foundation
import Testing
import VolleyStore
import VolleyTestSupport

/// The history through the real binary: saving, listing, showing, exporting, deleting, and
/// staying intact when Volley is killed mid-save or several Volleys save at once.
@Suite(.serialized) struct HistoryCommandTests {
    @Test func runsAreSavedListedShownExportedAndDeleted() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let first = try runVolley(
            ["run", server.baseURL + "/", "-c", "2", "-n", "100", "-q", "--label", "before"],
            home: home
        )
        #expect(first.status == 0)
        #expect(first.stderr.contains("saved as run #1"))
        let second = try runVolley(["run", server.baseURL + "/mix", "-c", "2", "-n", "50", "-q"], home: home)
        #expect(second.stderr.contains("saved as run #2"))
        let unsaved = try runVolley(["run", server.baseURL + "/", "-n", "10", "-q", "--no-save"], home: home)
        #expect(!unsaved.stderr.contains("saved as"))

        let list = try runVolley(["history"], home: home)
        #expect(list.status == 0)
        #expect(list.stdout.contains("#1") && list.stdout.contains("#2") && !list.stdout.contains("#3"))
        #expect(list.stdout.contains("before"))
        let filtered = try runVolley(["history", "--label", "before", "--json"], home: home)
        let listed = try #require(
            try JSONSerialization.jsonObject(with: Data(filtered.stdout.utf8)) as? [[String: Any]]
        )
        #expect(listed.map { $0["id"] as? Int } == [1])

        let show = try runVolley(["show", "1"], home: home)
        #expect(show.stdout.contains("Run #1  ·  before"))
        #expect(show.stdout.contains("100 completed"))
        let shownJSON = try runVolley(["show", "last", "--json"], home: home)
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(shownJSON.stdout.utf8)) as? [String: Any]
        )
        #expect(summary["requests"] as? Int == 50)

        let csv = try runVolley(["export", "1", "--format", "csv"], home: home)
        #expect(csv.stdout.hasPrefix("t_s,rps,completed"))
        let junit = try runVolley(["export", "last~1", "--format", "junit"], home: home)
        #expect(junit.stdout.contains("<testcase classname=\"run\" name=\"requests completed\"/>"))
        let requestsCSV = try runVolley(["export", "2", "--format", "csv", "--table", "requests"], home: home)
        #expect(requestsCSV.stdout.split(separator: "\n").count == 2)

        #expect(try runVolley(["delete", "1"], home: home).status == 0)
        let missing = try runVolley(["show", "1"], home: home)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no run #1"))
        #expect(try runVolley(["show", "nonsense"], home: home).status == 2)
        try await server.shutdown()
    }

    @Test func aPlanRunIsSavedWithItsPerNameHistograms() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volley-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = dir.appendingPathComponent("p.yaml")
        try """
        name: saved-plan
        base_url: \(server.baseURL)
        scenarios:
          s:
            executor: shared-iterations
            vus: 2
            iterations: 20
            steps:
              - request: GET /
              - request: GET /status/404
        """.write(to: plan, atomically: true, encoding: .utf8)
        let r = try runVolley(["run", plan.path, "-q", "--label", "plan"], home: home)
        #expect(r.stderr.contains("saved as run #1"))
        let store = try HistoryStore(directory: home)
        let stored = try store.load(1)
        #expect(stored.record.kind == "plan")
        #expect(stored.record.plan == "saved-plan")
        #expect(stored.histograms?.byName.keys.sorted() == ["GET /", "GET /status/404"])
        // The plan's text is kept with the run.
        let shown = try runVolley(["show", "1", "--plan"], home: home)
        #expect(shown.stdout.contains("name: saved-plan"))
        #expect(try runVolley(["show", "1", "--plan"], home: home).status == 0)
        try await server.shutdown()
    }

    /// SIGKILL while a process saves full-size runs in a loop: the database stays readable
    /// and every run committed before the kill is intact.
    @Test func killDashNineMidSaveLeavesTheHistoryIntact() throws {
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let process = Process()
        process.executableURL = try volleyBinary()
        process.arguments = ["debug-history-stress", "--count", "100000"]
        var env = ProcessInfo.processInfo.environment
        env["VOLLEY_HOME"] = home
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // Wait for a few commits, then kill at an arbitrary point of the next save.
        let deadline = Date().addingTimeInterval(20)
        var seen = ""
        while Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            seen += String(decoding: chunk, as: UTF8.self)
            if seen.components(separatedBy: "saved ").count > 6 { break }
        }
        Thread.sleep(forTimeInterval: Double.random(in: 0.001...0.05))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        let store = try HistoryStore(directory: home)
        #expect(try store.integrityCheck() == "ok")
        let runs = try store.list(HistoryFilter(limit: 100_000))
        #expect(runs.count >= 5)
        for listing in runs {
            let run = try store.load(listing.id)
            #expect(run.record.summary.requests == 30_000)
            #expect(run.histograms?.latency.totalCount == 30_000)
        }
    }

    /// Several Volley processes saving at once: every save lands, nothing is corrupted.
    @Test func concurrentProcessesSaveWithoutCorruption() throws {
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        var processes: [Process] = []
        for seed in 1...3 {
            let process = Process()
            process.executableURL = try volleyBinary()
            process.arguments = ["debug-history-stress", "--count", "15", "--seed", String(seed)]
            var env = ProcessInfo.processInfo.environment
            env["VOLLEY_HOME"] = home
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        let deadline = Date().addingTimeInterval(60)
        while processes.contains(where: \.isRunning) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        for process in processes where process.isRunning { process.terminate() }
        for process in processes {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
        let store = try HistoryStore(directory: home)
        #expect(try store.integrityCheck() == "ok")
        let runs = try store.list(HistoryFilter(limit: 1_000))
        #expect(runs.count == 45)
        #expect(Set(runs.compactMap(\.label)) == ["stress 1", "stress 2", "stress 3"])
    }
}

/// `--out samples.ndjson`: one line per request, plan names included, drawn by the report.
@Suite(.serialized) struct SamplesOutputTests {
    @Test func everyRequestIsOneLine() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volley-samples-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: home)
            try? FileManager.default.removeItem(at: dir)
        }
        let samples = dir.appendingPathComponent("s.ndjson").path
        let r = try runVolley(
            [
                "run", server.baseURL + "/mix", "-c", "3", "-n", "3000", "-q", "--out", samples, "--html",
                dir.appendingPathComponent("r.html").path,
            ],
            home: home
        )
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOfFile: samples, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3000)
        for line in lines.prefix(50) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["t"] is Double && object["latency_ms"] is Double && object["request_id"] is String)
            #expect(object["status"] is Int)
        }
        let html = try String(contentsOfFile: dir.appendingPathComponent("r.html").path, encoding: .utf8)
        #expect(html.contains("with individual requests"))

        let plan = dir.appendingPathComponent("p.yaml")
        try """
        name: sampled
        base_url: \(server.baseURL)
        scenarios:
          s:
            executor: shared-iterations
            vus: 2
            iterations: 10
            steps:
              - request: GET /
              - request: GET /status/500
        """.write(to: plan, atomically: true, encoding: .utf8)
        let planSamples = dir.appendingPathComponent("p.ndjson").path
        _ = try runVolley(["run", plan.path, "-q", "--out", planSamples], home: home)
        let planLines = try String(contentsOfFile: planSamples, encoding: .utf8).split(separator: "\n")
        #expect(planLines.count == 20)
        #expect(planLines.filter { $0.contains("\"name\":\"GET /status/500\",\"status\":500") }.count == 10)

        let bad = try runVolley(
            ["run", server.baseURL + "/", "-n", "5", "--out", "/nonexistent/dir/s.ndjson"],
            home: home
        )
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("cannot write samples"))
        try await server.shutdown()
    }
}

@Suite(.serialized) struct ProbeOptionTests {
    @Test func unreachableAndUnsupportedProbesAreClear() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let warned = try runVolley(
            ["run", server.baseURL + "/", "-n", "20", "-q", "--probe", "http://127.0.0.1:1/metrics"],
            home: home
        )
        #expect(warned.status == 0)
        #expect(warned.stderr.contains("cannot be reached") && warned.stderr.contains("goes on without it"))
        let refused = try runVolley(
            [
                "run", server.baseURL + "/", "-n", "20", "-q", "--probe", "http://127.0.0.1:1/metrics",
                "--require-probes",
            ],
            home: home
        )
        #expect(refused.status == 1)
        let unsupported = try runVolley(
            ["run", server.baseURL + "/", "-n", "5", "--probe", "mysql://admin:hunter2@127.0.0.1/db"],
            home: home
        )
        #expect(unsupported.status == 2)
        #expect(!unsupported.stderr.contains("hunter2"))
        // A PostgreSQL probe that cannot connect is named, with why, and never its password.
        let postgres = try runVolley(
            ["run", server.baseURL + "/", "-n", "5", "-q", "--probe", "postgres://admin:hunter2@127.0.0.1:1/db"],
            home: home
        )
        #expect(postgres.status == 0)
        #expect(postgres.stderr.contains("connection refused"), "\(postgres.stderr)")
        #expect(postgres.stderr.contains(#"127.0.0.1:1, database "db", user "admin""#))
        #expect(!postgres.stderr.contains("hunter2"))
        try await server.shutdown()
    }
}
