import Foundation
import Testing
import VolleyTestSupport

@Suite(.serialized) struct SweepCommandTests {
    @Test func aSweepPrintsOneRowPerLevelAndItsAnalysis() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(
            ["sweep", server.baseURL + "/delay/10", "--concurrency", "1,2,4", "-d", "1s", "--label", "t", "--json"],
            home: home
        )
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("What the sweep shows"))
        let output = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let runs = try #require(output["runs"] as? [[String: Any]])
        #expect(runs.map { $0["level"] as? Double } == [1, 2, 4])
        // A 10 ms server scales linearly here: ≈ 100, 200, 400 req/s, and no knee.
        let rps = runs.compactMap { $0["rps"] as? Double }
        #expect(rps[2] > rps[0] * 3)
        let analysis = try #require(output["analysis"] as? [String: Any])
        #expect(analysis["knee"] == nil)
        let history = try runVolley(["history", "--label", "sweep t"], home: home)
        #expect(history.stdout.contains("sweep t c4 r1"))
        // The sweep as one experiment, with its HTML report.
        #expect(r.stderr.contains("Saved as experiment E1"))
        #expect(try runVolley(["experiments"], home: home).stdout.contains("E1  sweep"))
        let html = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(UUID().uuidString).html").path
        defer { try? FileManager.default.removeItem(atPath: html) }
        #expect(try runVolley(["experiment", "E1", "--html", html], home: home).status == 0)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("Throughput against load") && page.contains("Latency against load"))
        let json = try runVolley(["experiment", "last"], home: home)
        #expect(json.stdout.contains("\"closed_model\" : true"))
        #expect(try runVolley(["experiment", "E9"], home: home).status == 2)
        // Capacity arithmetic from the sweep: the service time of its lowest level.
        let capacity = try runVolley(["capacity", "--experiment", "E1", "--workers", "2"], home: home)
        #expect(capacity.status == 0, "\(capacity.stderr)")
        #expect(capacity.stdout.contains("mean latency at the sweep's lowest level"))
        try await server.shutdown()
    }

    /// A plan is swept over its VUs (`vus: ${VUS}`), and every level samples the plan's own
    /// probes, as `volley run plan.yaml` does.
    @Test func aPlanIsSweptOverItsVUsWithItsOwnProbes() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let plan = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: plan) }
        try """
        base_url: \(server.baseURL)
        probes: ["pid:\(getpid())"]
        scenarios:
          s:
            executor: constant-vus
            vus: ${VUS:-1}
            duration: 1s
            steps:
              - request: GET /delay/10
        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let r = try runVolley(["sweep", plan, "--concurrency", "1,4", "--json"], home: home)
        try await server.shutdown()
        #expect(r.status == 0, "\(r.stderr)")
        let output = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let runs = try #require(output["runs"] as? [[String: Any]])
        #expect(runs.map { $0["level"] as? Double } == [1, 4])
        let rps = runs.compactMap { $0["rps"] as? Double }
        #expect(rps.count == 2 && rps[1] > rps[0] * 2, "4 VUs on a 10 ms server: \(rps)")
        let id = try #require(runs.last?["run_id"] as? Int)
        let shown = try runVolley(["show", String(id), "--json"], home: home)
        #expect(shown.stdout.contains("\"kind\" : \"process\""), "\(shown.stdout.prefix(400))")
        // Read as a probed sweep: it says what the probes did not find, rather than nothing.
        #expect(r.stderr.contains("Diagnosis"), "\(r.stderr)")
    }

    @Test func badLevelsAreRefused() throws {
        let r = try runVolley(["sweep", "http://127.0.0.1:1/", "--concurrency", "1,x"])
        #expect(r.status == 2)
        #expect(try runVolley(["sweep", "http://127.0.0.1:1/"]).status == 2)
        #expect(try runVolley(["sweep", "http://127.0.0.1:1/", "--concurrency", "1.5"]).status == 2)
        // Levels no run could reach are refused before any level runs (1e20 used to trap).
        for (flag, levels) in [("--concurrency", "1e9"), ("--rate", "1e20"), ("--rate", "100,2e7")] {
            let huge = try runVolley(["sweep", "http://127.0.0.1:1/", flag, levels, "-d", "1s", "--no-save"])
            #expect(huge.status == 2, "\(flag) \(levels): \(huge.stderr)")
            #expect(!huge.stderr.contains("Sweep of"), "refused before the first level")
        }
        let matrix = try runVolley([
            "matrix", "--base", "http://127.0.0.1:1", "--counts", "99999999999", "--offsets", "1ms", "--route", "/",
        ])
        #expect(matrix.status == 2 && matrix.stderr.contains("--counts takes whole numbers from 1 to 100,000"))
    }
}

@Suite(.serialized) struct TimeCommandTests {
    @Test func timeitStyleRepeatsAndBestOf() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(["time", server.baseURL + "/delay/5", "-n", "20", "-r", "3"], home: home)
        #expect(r.status == 0, "\(r.stderr)")
        let repeats = r.stdout.split(separator: "\n").filter { $0.hasPrefix("  repeat ") }
        #expect(repeats.count == 3)
        let best = try #require(r.stdout.split(separator: "\n").first { $0.contains("best of 3") })
        // 5 ms per request on one connection: between 5 and 8 ms each.
        let afterColon = try #require(best.split(separator: ":", maxSplits: 1).last)
        let ms = try #require(afterColon.split(separator: " ").compactMap { Double($0) }.first)
        #expect(ms >= 5 && ms < 8, "\(best)")
        #expect(r.stdout.contains("Saved as experiment E1"))
        let html = FileManager.default.temporaryDirectory.appendingPathComponent("time-\(UUID().uuidString).html").path
        defer { try? FileManager.default.removeItem(atPath: html) }
        #expect(try runVolley(["experiment", "E1", "--html", html], home: home).status == 0)
        #expect(try String(contentsOfFile: html, encoding: .utf8).contains("Time per request, by repeat"))
        #expect(try runVolley(["time", "http://127.0.0.1:1/", "-n", "2", "-r", "1"], home: home).status == 1)
        #expect(try runVolley(["time", server.baseURL + "/", "-n", "0"], home: home).status == 2)
        try await server.shutdown()
    }
}

@Suite(.serialized) struct FindMaxCommandTests {
    @Test func aServiceThatKeepsItsLatencyPassesUpToTheCeiling() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(
            [
                "find-max", server.baseURL + "/delay/5", "--slo", "p99<100ms,errors<1%", "--start", "50", "--ceiling",
                "200",
                "-d", "1s",
            ],
            home: home
        )
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Every rate up to 200 req/s met p99<100ms,errors<1%"))
        let steps = r.stdout.split(separator: "\n").filter { $0.hasSuffix("✓") }
        #expect(steps.count == 3)  // 50, 100, 200
        #expect(r.stdout.contains("Saved as experiment E1"))
        let html = FileManager.default.temporaryDirectory.appendingPathComponent("fm-\(UUID().uuidString).html").path
        defer { try? FileManager.default.removeItem(atPath: html) }
        #expect(try runVolley(["experiment", "E1", "--html", html], home: home).status == 0)
        #expect(try String(contentsOfFile: html, encoding: .utf8).contains("Achieved against target rate"))
        try await server.shutdown()
    }

    @Test func anSLONoRateMeetsExitsOne() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(
            ["find-max", server.baseURL + "/delay/20", "--slo", "p99<5ms", "--start", "4", "-d", "1s"],
            home: home
        )
        #expect(r.status == 1)
        #expect(r.stdout.contains("No rate met p99<5ms"))
        #expect(try runVolley(["find-max", server.baseURL + "/", "--slo", "p98<1s"], home: home).status == 2)
        try await server.shutdown()
    }
}

@Suite struct CapacityCommandTests {
    @Test func capacityFromAServiceTime() throws {
        let r = try runVolley(
            ["capacity", "--service-time", "25ms", "--workers", "5", "--instances", "2", "--target-rate", "300"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("= 400 requests/s"))
        #expect(r.stdout.contains("at least 4 workers per instance"))
        #expect(try runVolley(["capacity", "--workers", "2"]).status == 2)
        #expect(try runVolley(["capacity", "--service-time", "fast", "--workers", "2"]).status == 2)
    }
}

@Suite(.serialized) struct MatrixCommandTests {
    @Test func outcomePercentagesAddUpAndRoutesAreSeparate() async throws {
        let server = try await TestServer.start()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volley-matrix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("ids.json")
        try #"[{"code": 200}, {"code": 404}, {"code": 500}]"#.write(to: data, atomically: true, encoding: .utf8)
        let r = try runVolley(
            [
                "matrix", "--base", server.baseURL, "--counts", "6,12", "--offsets", "10ms,20ms", "--route",
                "/status/${row.code}", "--route", "/", "--data", data.path, "--json",
            ],
            limit: 60
        )
        #expect(r.status == 0, "\(r.stderr)")
        let output = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let cells = try #require(output["cells"] as? [[String: Any]])
        #expect(cells.count == 4)
        for cell in cells {
            let outcomes = try #require(cell["outcomes"] as? [String: Double])
            #expect(abs(outcomes.values.reduce(0, +) - 100) < 1e-6)
            // Each route sends COUNT requests.
            #expect(cell["requests"] as? Int == 2 * (cell["count"] as? Int ?? 0))
        }
        let routes = try #require(output["routes"] as? [[String: Any]])
        let home = try #require(routes.first { $0["route"] as? String == "/" }?["outcomes"] as? [String: Double])
        #expect(home["success"] == 100)
        let random = try #require(
            routes.first { $0["route"] as? String == "/status/${row.code}" }?["outcomes"] as? [String: Double]
        )
        #expect((random["4xx"] ?? 0) > 0 && (random["5xx"] ?? 0) > 0)
        let matrixHTML = dir.appendingPathComponent("matrix.html").path
        #expect(try runVolley(["experiment", "last", "--html", matrixHTML]).status == 0)
        #expect(try String(contentsOfFile: matrixHTML, encoding: .utf8).contains("class=\"heat\""))
        #expect(try runVolley(["matrix", "--counts", "x", "--offsets", "1s", "--route", "/"]).status == 2)
        #expect(
            try runVolley([
                "matrix", "--counts", "1", "--offsets", "1s", "--route", "/${row.id}", "--base", server.baseURL,
            ])
            .status == 2
        )
        try await server.shutdown()
    }
}
