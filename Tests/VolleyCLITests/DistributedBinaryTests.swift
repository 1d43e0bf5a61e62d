import Foundation
import Synchronization
import Testing
import VolleyCore
import VolleyReport
import VolleyTestSupport

/// Issue 18's proof with real processes: N `volley run --segment i/N --bundle` processes,
/// then `volley merge`, equal one process running the same plan — counts, statuses, checks,
/// iterations and the verdict.
@Suite(.serialized) struct DistributedBinaryTests {
    /// A plan with a unique feed, shared iterations, a failing step, checks and thresholds.
    private func writePlan(baseURL: String, in dir: URL) throws -> String {
        let rows = "id\n" + (1...30).map(String.init).joined(separator: "\n") + "\n"
        try rows.write(to: dir.appendingPathComponent("ids.csv"), atomically: true, encoding: .utf8)
        let plan = """
            name: merge-proof
            base_url: \(baseURL)
            feeds:
              ids:
                file: ids.csv
                order: unique
            thresholds:
              - "error_rate < 10%"
              - "p(99) < 10s"
              - "checks > 40%"
            scenarios:
              rows:
                executor: shared-iterations
                vus: 4
                iterations: 30
                steps:
                  - request: GET /businesses/id/${ids.id}
                    name: item
                    check: { status: 200 }
                  - request: GET /error/503
                    name: broken
                    check: { status: 200 }
            """
        let path = dir.appendingPathComponent("plan.yaml").path
        try plan.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volley-dist-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs the segments as concurrent processes.
    private func runSegments(_ count: Int, _ args: @Sendable (Int) -> [String]) -> [Outcome] {
        let results = Mutex<[Int: Outcome]>([:])
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let outcome = (try? runVolley(args(i), limit: 60)) ?? Outcome(status: -1, stdout: "", stderr: "did not run")
            results.withLock { $0[i] = outcome }
        }
        return (0..<count).map { results.withLock { $0 }[$0]! }
    }

    @Test func threeSegmentsMergedAreTheSingleRun() async throws {
        let server = try await TestServer.start()
        let dir = try tempDir()
        let plan = try writePlan(baseURL: server.baseURL, in: dir)

        let single = try runVolley(["run", plan, "--json", "-q", "--no-save"], limit: 60)
        let singleReceived = server.requestsReceived
        let segments = runSegments(3) { i in
            [
                "run", plan, "--segment", "\(i)/3", "--bundle", dir.appendingPathComponent("seg-\(i).json").path,
                "--json", "-q", "--no-save",
            ]
        }
        let segmentsReceived = server.requestsReceived - singleReceived
        let junit = dir.appendingPathComponent("merged.xml").path
        let html = dir.appendingPathComponent("merged.html").path
        let merged = try runVolley(
            ["merge"] + (0..<3).map { dir.appendingPathComponent("seg-\($0).json").path }
                + ["--json", "--no-save", "--junit", junit, "--html", html]
        )
        try await server.shutdown()

        // The error rate is 50 %: a failed threshold, exit 99, in the single run and the merge.
        #expect(single.status == 99, "\(single.stderr)")
        #expect(merged.status == 99, "\(merged.stderr)")
        let one = try JSONReport.decode(single.stdout)
        let all = try JSONReport.decode(merged.stdout)
        let parts = try segments.map { try JSONReport.decode($0.stdout) }
        #expect(segmentsReceived == singleReceived)
        #expect(all.scheduled == one.scheduled)
        #expect(all.completed == one.completed)
        #expect(all.completed == 60)
        #expect(all.status == one.status)
        #expect(all.status == ["200": 30, "503": 30])
        #expect(all.iterations == one.iterations)
        #expect(all.checks == one.checks)
        #expect(all.requestsByName?.map(\.name) == one.requestsByName?.map(\.name))
        #expect(all.requestsByName?.map(\.requests) == one.requestsByName?.map(\.requests))
        #expect(all.thresholds?.map(\.passed) == one.thresholds?.map(\.passed))
        #expect(all.thresholds?.map(\.passed) == [false, true, true])
        // Each segment ran its share: 10 + 10 + 10 iterations of the 30 rows.
        #expect(parts.map { $0.iterations?.completed ?? 0 } == [10, 10, 10])
        #expect(parts.map(\.segment) == ["0/3", "1/3", "2/3"])
        // The merged extremes are the segments' exact extremes.
        #expect(all.latencyMs.max == parts.map(\.latencyMs.max).max())
        #expect(all.latencyMs.min == parts.map(\.latencyMs.min).min())
        #expect(all.distributed?.merged == [0, 1, 2])
        #expect(all.distributed?.missing == [])
        #expect(merged.stderr.contains("merged from 3 of 3 segments"))
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("error_rate &lt; 10%"))
        #expect(xml.contains("threshold failed: actual 0.5000"))
        let report = try String(contentsOfFile: html, encoding: .utf8)
        #expect(report.contains("Merged from 3 of 3 segments"))
    }

    @Test func bundlesThatAreNotOneRunAreRefusedClearly() async throws {
        let server = try await TestServer.start()
        let dir = try tempDir()
        func bundle(_ name: String, _ extra: [String]) throws -> String {
            let path = dir.appendingPathComponent(name).path
            let r = try runVolley(
                ["run", server.baseURL + "/", "-n", "20", "-c", "2", "-q", "--no-save", "--bundle", path] + extra
            )
            #expect(r.status == 0, "\(r.stderr)")
            return path
        }
        let a0 = try bundle("a0.json", ["--segment", "0/2"])
        let a1 = try bundle("a1.json", ["--segment", "1/2"])
        let other = try bundle("b1.json", ["--segment", "1/2", "-X", "HEAD"])
        try await server.shutdown()

        let mixed = try runVolley(["merge", a0, other, "--no-save"])
        #expect(mixed.status == 2)
        #expect(mixed.stderr.contains("is from another run"))
        let twice = try runVolley(["merge", a0, a0, "--no-save"])
        #expect(twice.status == 2)
        #expect(twice.stderr.contains("given twice"))
        let missing = try runVolley(["merge", a0, "--no-save"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("segment 1 of 2 missing"))
        // What finished is kept, and the run fails: exit 1, the summary says what is missing.
        let partial = try runVolley(["merge", a0, "--allow-missing", "--no-save"])
        #expect(partial.status == 1)
        #expect(partial.stdout.contains("incomplete: segment 1 missing"))
        #expect(partial.stdout.contains("10 completed"))
        let whole = try runVolley(["merge", a0, a1, "--no-save"])
        #expect(whole.status == 0)
        #expect(whole.stdout.contains("20 completed"))
        let notABundle = dir.appendingPathComponent("plan.yaml").path
        try "name: x\n".write(toFile: notABundle, atomically: true, encoding: .utf8)
        let foreign = try runVolley(["merge", notABundle])
        #expect(foreign.status == 2)
        #expect(foreign.stderr.contains("not a Volley result bundle"))
        #expect(foreign.stderr.contains("hint:"))
    }
}
