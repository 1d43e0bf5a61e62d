import Foundation
import Testing
import VolleyCore
import VolleyReport
import VolleyTestSupport

/// The built `volley` binary, next to the test bundle in SwiftPM's products directory.
func volleyBinary() throws -> URL {
    var dir = Bundle.main.bundleURL
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("volley")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    throw CLIBinaryMissing()
}

private struct CLIBinaryMissing: Error {}

/// The history directory of every CLI test that does not ask for its own.
let testHistoryHome = FileManager.default.temporaryDirectory
    .appendingPathComponent("volley-test-home-\(ProcessInfo.processInfo.processIdentifier)").path

/// A fresh, empty history directory.
func freshHistoryHome() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("volley-home-\(UUID().uuidString)").path
}

/// Writes `text` as a plan file `name` in a new temporary directory.
private func writePlan(_ name: String, _ text: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
        "volley-plan-\(UInt32.random(in: 0...UInt32.max))"
    )
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url
}

struct Outcome {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the binary with a hard time limit; `interruptAfter` sends SIGINT like Ctrl-C.
func runVolley(
    _ args: [String],
    interruptAfter: Double? = nil,
    limit: Double = 30,
    home: String? = nil
) throws -> Outcome {
    let process = Process()
    process.executableURL = try volleyBinary()
    process.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    // Runs are saved to the history: never to the user's ~/.volley from a test.
    env["VOLLEY_HOME"] = home ?? testHistoryHome
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = LockedData()
    let errData = LockedData()
    let group = DispatchGroup()
    for (pipe, sink) in [(out, outData), (err, errData)] {
        group.enter()
        DispatchQueue.global().async {
            sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
    }
    if let interruptAfter {
        Thread.sleep(forTimeInterval: interruptAfter)
        kill(process.processIdentifier, SIGINT)
    }
    let deadline = Date().addingTimeInterval(limit)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning {
        process.terminate()
        Issue.record("volley \(args) did not finish within \(limit) s")
    }
    process.waitUntilExit()
    group.wait()
    return Outcome(
        status: process.terminationStatus,
        stdout: String(decoding: outData.get(), as: UTF8.self),
        stderr: String(decoding: errData.get(), as: UTF8.self)
    )
}

private final class LockedData: @unchecked Sendable {
    // Safety: every access goes through `lock`.
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.withLock { data = d } }
    func get() -> Data { lock.withLock { data } }
}

/// End to end: the real binary, its streams and its exit codes (docs/exit-codes.md).
@Suite(.serialized) struct BinaryTests {
    @Test func jsonGoesToStdoutAndTheHumanSummaryToStderr() async throws {
        let server = try await TestServer.start()
        let r = try runVolley(["run", server.baseURL + "/mix", "-c", "2", "-n", "50", "--json", "-q"])
        try await server.shutdown()
        #expect(r.status == 0)
        let summary = try JSONReport.decode(r.stdout)
        #expect(summary.completed == 50)
        #expect(summary.status == ["200": 40, "404": 5, "500": 5])
        #expect(r.stderr.contains("50 completed"))
        #expect(!r.stdout.contains("Throughput"))
    }

    @Test func progressIsPrintedOncePerSecondOnStderr() async throws {
        let server = try await TestServer.start()
        let r = try runVolley(["run", server.baseURL + "/delay/5", "-c", "2", "-d", "2500ms"])
        try await server.shutdown()
        #expect(r.status == 0)
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("[") }
        #expect(lines.count >= 3, "progress lines: \(lines)")
        #expect(lines.first?.contains("rps") == true)
        #expect(r.stdout.contains("Latency"))
    }

    @Test func badInputExitsTwoWithAHint() throws {
        let r = try runVolley(["run", "http://127.0.0.1:1/", "-d", "30"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("duration \"30\" has no unit"))
        #expect(r.stderr.contains("hint:"))
        let unknown = try runVolley(["run", "http://127.0.0.1:1/", "--bogus"])
        #expect(unknown.status == 2)
    }

    @Test func nothingCompletedExitsOne() throws {
        let r = try runVolley(["run", "http://127.0.0.1:1/", "-c", "1", "-n", "3", "-q"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("connection refused: 3"))
    }

    @Test func ctrlCStillPrintsTheSummaryAndExits130() async throws {
        let server = try await TestServer.start()
        let r = try runVolley(
            ["run", server.baseURL + "/delay/10", "-r", "100", "-d", "30s", "--json", "-q"],
            interruptAfter: 1.5
        )
        try await server.shutdown()
        #expect(r.status == 130)
        let summary = try JSONReport.decode(r.stdout)
        #expect(summary.interrupted)
        #expect(summary.completed > 50)
        #expect(summary.scheduled == summary.completed + summary.failed + summary.unsent)
    }

    @Test func theExamplePlansRunInSecondsAgainstATestServer() async throws {
        let server = try await TestServer.start()
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../Examples"
        )
        .standardized
        let planners = try runVolley([
            "run", examples.appendingPathComponent("planners-and-studiers.yaml").path, "--json", "-q",
            "-e", "ENDPOINT=\(server.baseURL)", "-e", "STUDIERS_RAMP=1s", "-e", "STUDIERS_HOLD=1s",
            "-e", "STUDIERS_RAMP_DOWN=1s", "-e", "STUDIERS_FIRST=10", "-e", "STUDIERS_PEAK=20", "-e",
            "STUDIERS_THINK=200ms",
            "-e", "PLANNER_VUS=4", "-e", "PLANNER_ITERATIONS=40", "-e", "PLANNER_THINK=10ms",
        ])
        let ids = try runVolley([
            "run", examples.appendingPathComponent("random-ids.yaml").path, "--json", "-q",
            "-e", "ENDPOINT=\(server.baseURL)", "-e", "RATE=100/s", "-e", "DURATION=1s",
        ])
        try await server.shutdown()
        #expect(planners.status == 0, "\(planners.stderr)")
        let p = try JSONReport.decode(planners.stdout)
        let byName = Dictionary(uniqueKeysWithValues: (p.requestsByName ?? []).map { ($0.name, $0) })
        #expect(byName["POST /api/v1/todos"]?.status == ["201": 40])
        #expect(byName["DELETE /api/v1/todos/{id}"]?.status == ["200": 40], "each captured id deleted exactly once")
        #expect((byName["GET /api/v1/todos"]?.requests ?? 0) > 20)
        #expect((p.checks ?? []).allSatisfy { $0.fails == 0 })
        #expect(p.thresholds?.allSatisfy(\.passed) == true)
        #expect(ids.status == 0, "\(ids.stderr)")
        let i = try JSONReport.decode(ids.stdout)
        #expect(i.completed == 100)
        #expect(i.status == ["200": 100])
    }

    @Test func aFailedThresholdExits99AndABadPlanExits2() async throws {
        let server = try await TestServer.start()
        let plan = try writePlan(
            "fail.yaml",
            """
            base_url: \(server.baseURL)
            thresholds: ["error_rate < 1%"]
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 5
                steps:
                  - request: GET /status/500
            """
        )
        let bad = try writePlan(
            "bad.yaml",
            "scenarios:\n  s:\n    executor: constant-vus\n    vus: 1\n    duration: 1s\n    stpes: []\n"
        )
        let failed = try runVolley(["run", plan.path, "-q"])
        let invalid = try runVolley(["run", bad.path, "-q"])
        try await server.shutdown()
        #expect(failed.status == 99)
        #expect(failed.stdout.contains("✗ error_rate < 1%"))
        #expect(invalid.status == 2)
        #expect(invalid.stderr.contains("bad.yaml:6:5"), "\(invalid.stderr)")
        #expect(invalid.stderr.contains("did you mean \"steps\""))
    }

    /// A plan's `probes:` are sampled like `--probe`, and their thresholds judged; a probe
    /// whose address is wrong is reported at its place in the plan.
    @Test func probesDeclaredInAPlanAreSampledAndJudged() async throws {
        let server = try await TestServer.start()
        let plan = try writePlan(
            "probed.yaml",
            """
            base_url: \(server.baseURL)
            probes:
              - pid:\(getpid())
            thresholds: ["last(proc.rss_bytes) < 64GB", "proc.threads >= 1"]
            scenarios:
              s:
                executor: constant-vus
                vus: 2
                duration: 1500ms
                steps:
                  - request: GET /
            """
        )
        let bad = try writePlan(
            "badprobe.yaml",
            "base_url: \(server.baseURL)\nprobes:\n  - pid:abc\nscenarios:\n  s:\n    executor: per-vu-iterations\n"
                + "    vus: 1\n    iterations: 1\n    steps:\n      - request: GET /\n"
        )
        let probed = try runVolley(["run", plan.path, "--json", "-q"], home: freshHistoryHome())
        let invalid = try runVolley(["run", bad.path, "-q"], home: freshHistoryHome())
        try await server.shutdown()
        #expect(probed.status == 0, "\(probed.stderr)")
        let summary = try JSONReport.decode(probed.stdout)
        let process = try #require(summary.probes?.first { $0.kind == "process" }, "\(probed.stdout)")
        #expect((process.series["proc.rss_bytes"]?.count ?? 0) >= 1)
        #expect(summary.thresholds?.count == 2)
        #expect(summary.thresholds?.allSatisfy(\.passed) == true, "\(probed.stdout)")
        #expect(invalid.status == 2)
        #expect(invalid.stderr.contains("badprobe.yaml:3:5: probe pid:abc"), "\(invalid.stderr)")
    }

    /// A probe threshold with `abort_on_fail` is judged each second on the readings so far
    /// and stops the run, as the engine's own thresholds do.
    @Test func aFailingProbeThresholdAbortsThePlan() async throws {
        let server = try await TestServer.start()
        let plan = try writePlan(
            "abort.yaml",
            """
            base_url: \(server.baseURL)
            probes: ["pid:\(getpid())"]
            thresholds:
              - { threshold: "proc.threads < 1", abort_on_fail: true }
            scenarios:
              s:
                executor: constant-vus
                vus: 1
                duration: 20s
                steps:
                  - request: GET /
                  - think: 50ms
            """
        )
        let started = ContinuousClock.now
        let r = try runVolley(["run", plan.path, "--json", "-q"], home: freshHistoryHome())
        let took = ContinuousClock.now - started
        try await server.shutdown()
        #expect(r.status == 99, "\(r.stderr)")
        let summary = try JSONReport.decode(r.stdout)
        #expect(summary.abortedBy == "proc.threads < 1")
        #expect(summary.thresholds?.first?.passed == false)
        #expect(took < .seconds(12), "aborted after \(took) of a 20 s plan")
    }

    @Test func ctrlCStopsAPlanAndStillReports() async throws {
        let server = try await TestServer.start()
        let plan = try writePlan(
            "long.yaml",
            """
            base_url: \(server.baseURL)
            scenarios:
              s:
                executor: constant-vus
                vus: 4
                duration: 60s
                steps:
                  - request: GET /delay/5
                  - think: 10ms
            """
        )
        let r = try runVolley(["run", plan.path, "--json", "-q"], interruptAfter: 1.5)
        try await server.shutdown()
        #expect(r.status == 130)
        let summary = try JSONReport.decode(r.stdout)
        #expect(summary.interrupted)
        #expect(summary.completed > 20)
        #expect(summary.scheduled == summary.completed + summary.failed + summary.unsent)
    }
}
