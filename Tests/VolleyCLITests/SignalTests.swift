import Foundation
import Testing
import VolleyCore
import VolleyReport
import VolleyStore
import VolleyTestSupport

@testable import volley

/// The timing rule of stop signals, on made-up instants: no sleeping.
@Suite struct StopSignalStateTests {
    private let t0 = ContinuousClock.now

    @Test func theFirstSignalStopsAndRepeatsWithinASecondAreIgnored() {
        var state = StopSignalState<ContinuousClock.Instant>()
        #expect(state.received(.interrupt, at: t0) == .stop(.interrupt))
        // `timeout -s INT` signals the process, then its group microseconds later.
        #expect(state.received(.interrupt, at: t0 + .microseconds(40)) == .ignore)
        #expect(state.received(.terminate, at: t0 + .milliseconds(999)) == .ignore)
        #expect(state.first?.signal == .interrupt)
    }

    @Test func aRepeatASecondOrMoreLaterExitsWithTheFirstSignalsCode() {
        var state = StopSignalState<ContinuousClock.Instant>()
        #expect(state.received(.terminate, at: t0) == .stop(.terminate))
        #expect(state.received(.interrupt, at: t0 + .milliseconds(300)) == .ignore)
        #expect(state.received(.interrupt, at: t0 + .seconds(1)) == .exitNow(.terminate))
        #expect(state.received(.hangup, at: t0 + .seconds(5)) == .exitNow(.terminate))
    }

    @Test func eachSignalHasItsExitCode() {
        #expect(StopSignal.interrupt.exit.rawValue == 130)
        #expect(StopSignal.terminate.exit.rawValue == 143)
        #expect(StopSignal.hangup.exit.rawValue == 129)
    }
}

/// What `volley` was asked to do and what it did, with the signals sent to it on the way.
private func runSignalled(
    _ args: [String],
    signals: [(at: Double, signal: Int32)] = [],
    timeoutSignal: (signal: String, after: Double)? = nil,
    home: String,
    limit: Double = 20
) throws -> (outcome: Outcome, seconds: Double) {
    let process = Process()
    if let timeoutSignal {
        // `timeout` signals the child and then its own process group (the child included).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments =
            ["--preserve-status", "-s", timeoutSignal.signal, String(timeoutSignal.after), try volleyBinary().path]
            + args
    } else {
        process.executableURL = try volleyBinary()
        process.arguments = args
    }
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    env["VOLLEY_HOME"] = home
    process.environment = env
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("volley-sig-\(UUID().uuidString)")
    let err = out.appendingPathExtension("err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: out)
        try? FileManager.default.removeItem(at: err)
    }
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    let started = Date()
    try process.run()
    for (at, signal) in signals.sorted(by: { $0.at < $1.at }) {
        let wait = at - Date().timeIntervalSince(started)
        if wait > 0 { Thread.sleep(forTimeInterval: wait) }
        if process.isRunning { kill(process.processIdentifier, signal) }
    }
    let deadline = started.addingTimeInterval(limit)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        Issue.record("volley \(args) did not finish within \(limit) s")
    }
    process.waitUntilExit()
    let seconds = Date().timeIntervalSince(started)
    return (
        Outcome(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        ),
        seconds
    )
}

/// The runs a test's history holds, oldest first.
private func savedRuns(_ home: String) throws -> [RunListing] {
    try HistoryStore(directory: home).list().sorted { $0.id < $1.id }
}

/// SIGINT, SIGTERM and SIGHUP through the built binary, for every command that sends load:
/// the summary is printed, the run saved, and the exit code names the signal.
@Suite(.serialized) struct SignalTests {
    @Test func sigtermAndSighupStopARunLikeCtrlC() async throws {
        let server = try await TestServer.start()
        for (signal, code) in [(SIGTERM, Int32(143)), (SIGHUP, 129)] {
            let home = freshHistoryHome()
            defer { try? FileManager.default.removeItem(atPath: home) }
            let (r, seconds) = try runSignalled(
                ["run", server.baseURL + "/delay/5", "-c", "2", "-d", "30s", "--json", "-q"],
                signals: [(1.0, signal)],
                home: home
            )
            #expect(r.status == code, "\(r.stderr)")
            let summary = try JSONReport.decode(r.stdout)
            #expect(summary.interrupted)
            #expect(summary.completed > 20)
            #expect(r.stderr.contains("Latency"))
            #expect(seconds < 8)
            let runs = try savedRuns(home)
            #expect(runs.map(\.exitCode) == [code])
            #expect(runs.first?.requests == summary.requests)
        }
        try await server.shutdown()
    }

    /// Two SIGINTs microseconds apart (what `timeout -s INT` does) stop gracefully; a second
    /// one more than a second after the first quits at once.
    @Test func aSecondInterruptCountsOnlyAfterASecond() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        // Requests held for a minute keep the run in its 2 s grace after the first signal.
        let args = ["run", server.baseURL + "/delay/60000", "-c", "2", "-d", "30s", "--json", "-q"]
        let echo = try runSignalled(args, signals: [(0.8, SIGINT), (0.801, SIGINT)], home: home)
        #expect(echo.outcome.status == 130)
        #expect(try JSONReport.decode(echo.outcome.stdout).interrupted)
        #expect(try savedRuns(home).count == 1)
        let twice = try runSignalled(args, signals: [(0.8, SIGINT), (2.0, SIGINT)], home: home)
        #expect(twice.outcome.status == 130)
        #expect(twice.outcome.stdout.isEmpty, "exit now prints no summary")
        #expect(twice.seconds < 2.7, "quit at the second signal, before the grace ended")
        #expect(try savedRuns(home).count == 1)
        for _ in 0..<2 {
            let viaTimeout = try runSignalled(
                ["run", server.baseURL + "/delay/5", "-c", "2", "-d", "30s", "--json", "-q"],
                timeoutSignal: ("INT", 1),
                home: home
            )
            #expect(viaTimeout.outcome.status == 130, "\(viaTimeout.outcome.stderr)")
            #expect(try JSONReport.decode(viaTimeout.outcome.stdout).completed > 20)
        }
        #expect(try savedRuns(home).map(\.exitCode) == [130, 130, 130])
        try await server.shutdown()
    }

    @Test func sigtermStopsAPlan() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let plan = URL(fileURLWithPath: home + "-plan.yaml")
        defer { try? FileManager.default.removeItem(at: plan) }
        try """
        base_url: \(server.baseURL)
        scenarios:
          s:
            executor: constant-vus
            vus: 2
            duration: 30s
            steps:
              - request: GET /delay/5
        """.write(to: plan, atomically: true, encoding: .utf8)
        let (r, seconds) = try runSignalled(
            ["run", plan.path, "--json", "-q"],
            signals: [(1.0, SIGTERM)],
            home: home
        )
        #expect(r.status == 143, "\(r.stderr)")
        #expect(try JSONReport.decode(r.stdout).interrupted)
        #expect(seconds < 8)
        #expect(try savedRuns(home).map(\.exitCode) == [143])
        try await server.shutdown()
    }

    /// A sweep interrupted in its second level keeps the first, saves the second (marked),
    /// starts no third, and still prints its analysis and saves the experiment.
    @Test func ctrlCStopsASweepInItsSecondLevel() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let (r, seconds) = try runSignalled(
            ["sweep", server.baseURL + "/delay/5", "--concurrency", "1,2,3", "-d", "1s"],
            signals: [(1.6, SIGINT)],
            home: home
        )
        #expect(r.status == 130, "\(r.stdout)\(r.stderr)")
        #expect(seconds < 6)
        #expect(r.stdout.contains("interrupted"))
        #expect(r.stdout.contains("Saved as experiment E1"))
        let runs = try savedRuns(home)
        #expect(runs.map(\.label) == ["sweep c1 r1", "sweep c2 r1"])
        #expect(runs.map(\.exitCode) == [0, 130])
        try await server.shutdown()
    }

    @Test func sigtermStopsABAndCtrlCStopsFindMaxAndTime() async throws {
        let server = try await TestServer.start()
        let url = server.baseURL + "/delay/5"
        let cases: [(args: [String], signal: Int32, code: Int32, label: String)] = [
            (["ab", "--a", url, "--b", url, "--rounds", "2", "-d", "1s", "-c", "1"], SIGTERM, 143, "B r1"),
            (["find-max", url, "--slo", "p99<1s", "--start", "20", "-d", "1s"], SIGINT, 130, "find-max"),
            (["time", url, "-n", "150", "-r", "5"], SIGINT, 130, "time r"),
        ]
        for c in cases {
            let home = freshHistoryHome()
            defer { try? FileManager.default.removeItem(atPath: home) }
            let (r, seconds) = try runSignalled(c.args, signals: [(1.5, c.signal)], home: home)
            #expect(r.status == c.code, "\(c.args[0]): \(r.stdout)\(r.stderr)")
            #expect(r.stdout.lowercased().contains("interrupted"), "\(c.args[0]): \(r.stdout)")
            #expect(seconds < 6, "\(c.args[0]) took \(seconds) s")
            let runs = try savedRuns(home)
            #expect(runs.last?.exitCode == c.code, "\(c.args[0]): \(runs)")
            #expect(runs.last?.label?.hasPrefix(c.label) == true, "\(c.args[0]): \(runs.map(\.label))")
        }
        try await server.shutdown()
    }
}
