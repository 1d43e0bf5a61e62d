import Foundation
import Synchronization
import Testing
import VolleyCore
import VolleyReport
import VolleyTestSupport

/// Issue 18's proof of one start, one setup and one abort, with real processes on one
/// machine: segments coordinated through segment 0's rendezvous on 127.0.0.1.
@Suite(.serialized) struct RendezvousBinaryTests {
    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volley-rdv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A setup that creates a todo and captures its id, a scenario that needs the id (a step
    /// whose variable has no value is skipped, never sent), a failing step, thresholds.
    private func writePlan(baseURL: String, in dir: URL) throws -> String {
        let plan = """
            name: rendezvous-proof
            base_url: \(baseURL)
            setup:
              - request: POST /api/v1/todos
                json: { title: "shared" }
                check: { status: 201 }
                capture: { todo: json $.id }
            thresholds:
              - "error_rate < 10%"
              - "p(99) < 10s"
            scenarios:
              rows:
                executor: shared-iterations
                vus: 6
                iterations: 30
                steps:
                  - request: GET /businesses/id/${todo}
                    name: item
                    check: { status: 200 }
                  - request: GET /error/503
                    name: broken
            """
        let path = dir.appendingPathComponent("plan.yaml").path
        try plan.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func threeProcessesWithOneStartAndOneSetupAreTheSingleRun() async throws {
        let server = try await TestServer.start()
        let dir = try tempDir()
        let plan = try writePlan(baseURL: server.baseURL, in: dir)
        let single = try runVolley(["run", plan, "--json", "-q", "--no-save"], limit: 60)
        let singleReceived = server.requestsReceived
        let port = try freeLoopbackPort()
        // Started in reverse order: the others wait for segment 0 to listen.
        let segments = try (0..<3).reversed().map { i in
            try ChildProcess([
                "run", plan, "--segment", "\(i)/3", "--rendezvous", "127.0.0.1:\(port)", "--json", "-q", "--no-save",
            ])
        }.reversed()
        let outcomes = segments.map { $0.finish(limit: 60) }
        let received = server.requestsReceived - singleReceived
        try await server.shutdown()

        #expect(single.status == 99)
        // Segment 0 judges the merged run (99: half the requests fail); the others' verdict
        // is segment 0's, so they end with 0 once their results are delivered.
        #expect(outcomes.map(\.status) == [99, 0, 0], "\(outcomes.map(\.stderr))")
        let one = try JSONReport.decode(single.stdout)
        let merged = try JSONReport.decode(outcomes[0].stdout)
        // One setup: the server saw exactly the single run's requests (1 POST + 60), not 3 POSTs.
        #expect(received == singleReceived)
        #expect(merged.scheduled == one.scheduled)
        #expect(merged.completed == one.completed)
        #expect(merged.status == one.status)
        #expect(merged.status == ["200": 30, "201": 1, "503": 30])
        #expect(merged.iterations == one.iterations)
        #expect(merged.checks == one.checks)
        // Every segment had the setup's capture: no step skipped for want of ${todo}.
        #expect(merged.requestsByName?.map(\.skipped) == [0, 0, 0])
        #expect(merged.requestsByName?.map(\.requests) == one.requestsByName?.map(\.requests))
        #expect(merged.thresholds?.map(\.passed) == [false, true])
        #expect(outcomes[1].stderr.contains("results delivered to segment 0"))
        // One start: every segment's time zero within 10 ms of the others' (on segment 0's clock).
        let info = try #require(merged.distributed)
        #expect(info.merged == [0, 1, 2])
        #expect(info.startSkewMs < 10, "start skew \(info.startSkewMs) ms")
        #expect(info.segments.allSatisfy { abs($0.clockOffsetMs) < 5 && ($0.clockRTTMs ?? 0) > 0 })
        #expect(outcomes[0].stderr.contains("start skew"))
    }

    @Test func aSegmentThatDiesFailsTheRunStopsTheOthersAndKeepsWhatFinished() async throws {
        let server = try await TestServer.start()
        let port = try freeLoopbackPort()
        let url = server.baseURL + "/delay/2"
        let segments = try (0..<3).map { i in
            try ChildProcess([
                "run", url, "-c", "3", "-d", "20s", "--segment", "\(i)/3", "--rendezvous", "127.0.0.1:\(port)",
                "--json", "-q", "--no-save",
            ])
        }
        try await Task.sleep(for: .milliseconds(2500))
        kill(segments[2].process.processIdentifier, SIGKILL)
        let killedAt = Date()
        let zero = segments[0].finish(limit: 15)
        let stoppedAfter = Date().timeIntervalSince(killedAt)
        let one = segments[1].finish(limit: 15)
        _ = segments[2].finish(limit: 5)
        try await server.shutdown()

        // Not the 20 s asked for: stopped when segment 2 was lost; failed, not interrupted.
        #expect(stoppedAfter < 10, "segment 0 ended \(stoppedAfter) s after segment 2 died")
        #expect(zero.status == 1, "\(zero.stderr)")
        #expect(one.status == 1, "\(one.stderr)")
        #expect(zero.stderr.contains("segment 2/3 lost"))
        #expect(one.stderr.contains("segment 2/3 lost"))
        let merged = try JSONReport.decode(zero.stdout)
        #expect(merged.distributed?.merged == [0, 1])
        #expect(merged.distributed?.missing == [2])
        #expect(merged.completed > 0)
        #expect(zero.stderr.contains("incomplete: segment 2"))
    }

    @Test func aSegmentThatNeverComesFailsTheBarrierNamingIt() async throws {
        let server = try await TestServer.start()
        let port = try freeLoopbackPort()
        let args = { (i: Int) in
            [
                "run", server.baseURL + "/", "-n", "10", "--segment", "\(i)/3", "--rendezvous", "127.0.0.1:\(port)",
                "--barrier-timeout", "2s", "-q", "--no-save",
            ]
        }
        let zero = try ChildProcess(args(0))
        let one = try ChildProcess(args(1))
        let a = zero.finish(limit: 15)
        let b = one.finish(limit: 15)
        try await server.shutdown()
        #expect(a.status == 1)
        #expect(b.status == 1)
        #expect(a.stderr.contains("missing 2"), "\(a.stderr)")
        #expect(server.requestsReceived == 0)
    }

    @Test func rendezvousFlagsAreCheckedBeforeAnyLoad() throws {
        let noSegment = try runVolley(["run", "http://127.0.0.1:1/", "--rendezvous", "127.0.0.1:7070", "-n", "1"])
        #expect(noSegment.status == 2)
        #expect(noSegment.stderr.contains("--rendezvous needs the segment"))
        let badAddress = try runVolley([
            "run", "http://127.0.0.1:1/", "--segment", "0/2", "--rendezvous", "nowhere", "-n", "1",
        ])
        #expect(badAddress.status == 2)
        #expect(badAddress.stderr.contains("has no port"))
        let both = try runVolley([
            "run", "http://127.0.0.1:1/", "--segment", "0/2", "--rendezvous", "127.0.0.1:7070", "--start-at", "+1s",
            "-n",
            "1",
        ])
        #expect(both.status == 2)
        #expect(both.stderr.contains("--start-at and --rendezvous both given"))
        let past = try runVolley(["run", "http://127.0.0.1:1/", "--start-at", "2020-01-01T00:00:00Z", "-n", "1"])
        #expect(past.status == 2)
        #expect(past.stderr.contains("hint:"))
    }
}
