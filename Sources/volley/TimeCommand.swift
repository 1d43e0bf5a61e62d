import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyReport
import VolleyStore

/// `volley time URL -n 100 -r 5`: serial timing like `python -m timeit -n100 -r5`, for a
/// quick before/after check of one endpoint — without timeit's trap of timing Python's own
/// client: each request goes through Volley's engine on one keep-alive connection.
struct TimeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "time",
        abstract: "Time a URL serially, like python -m timeit: r repeats of n requests, best of r.",
        discussion: """
            One connection, one request at a time. Prints each repeat's total, the best repeat and \
            the average per request (timeit reports the best; the spread between repeats says how \
            much to trust it). The repeats are saved to the history ("time r<N>").

            Example:
              volley time http://127.0.0.1:8080/businesses/id/42 -n 100 -r 5
            """
    )

    @Argument(help: "The URL to time.")
    var url: String

    @Option(name: [.customShort("n"), .customLong("number")], parsing: .unconditional, help: "Requests per repeat.")
    var number: Int = 100

    @Option(name: [.customShort("r"), .customLong("repeat")], parsing: .unconditional, help: "Repeats.")
    var repeats: Int = 5

    @Option(name: [.customShort("X"), .customLong("method")], help: "HTTP method (as curl's -X).")
    var method: String = "GET"

    @Option(name: [.customShort("H"), .customLong("header")], help: "A header 'Name: value' (repeatable).")
    var headers: [String] = []

    @Option(parsing: .unconditional, help: "Follow up to N redirects per request (as volley run --follow).")
    var follow: Int = 0

    @Flag(help: "Do not save the repeats to the history.")
    var noSave = false

    /// Every repeat's run: one connection, `-n` requests, this command's method and headers;
    /// errors name time's own flags.
    func job() throws -> RunJob {
        let target = try RunCommand.naming("the URL", { try TargetURL(parsing: url) })
        var request = RunRequest(url: target, load: .closed(connections: 1, requests: number))
        request.method = method
        request.headers = try headers.map { h in try RunCommand.naming("-H/--header", { try HTTPHeader(parsing: h) }) }
        request.follow = follow
        var job = try RunJob(request: request)
        job.flagName = { field in
            switch field {
            case .requests: return "-n/--number"
            case .method: return "-X/--method"
            default: return RunRequestError.runFlag(field)
            }
        }
        try job.validate()
        return job
    }

    func run() async throws {
        guard number > 0, (1...100).contains(repeats) else {
            throw CLIError(
                message: "-n must be above 0 and -r between 1 and 100 (got -n \(number) -r \(repeats))",
                hint: nil,
                code: .usage
            )
        }
        let job = try self.job()
        var totals: [Double] = []
        var timed: [TimingResult.Repeat] = []
        let startedAt = Date()
        var failures = 0
        // One watcher for every repeat: the first signal stops the repeat in progress (saved, not
        // timed), no further repeat starts, and the finished repeats are reported.
        let watcher = InterruptWatcher()
        watcher.start()
        defer { watcher.stop() }
        for index in 0..<repeats where !watcher.interrupted {
            let outcome = try await LoadRunner.perform(job, watcher: watcher)
            let s = outcome.summary
            var runID: Int64?
            if !noSave {
                runID = HistorySaver.saveQuietly(outcome, kind: "time", label: "time r\(index + 1)")
            }
            if outcome.interrupted {
                Terminal.writeOut(
                    "  repeat \(index + 1): interrupted after \(Fmt.int(s.completed)) requests (saved as "
                        + (runID.map { "#\($0)" } ?? "not saved") + ", not timed)\n"
                )
                break
            }
            if s.completed == 0 {
                throw CLIError(
                    message: "no request to \(url) completed: "
                        + s.transportErrors.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "),
                    hint: "is the service running?",
                    code: .failure
                )
            }
            failures += s.failed + s.status.filter { (Int($0.key) ?? 0) >= 400 }.values.reduce(0, +)
            // The sum of the request latencies: what timeit's loop measures, minus set-up.
            let total = s.latencyMs.mean * Double(s.completed) / 1000
            totals.append(total)
            timed.append(
                TimingResult.Repeat(
                    totalMs: total * 1000,
                    perRequestMs: total * 1000 / Double(max(1, s.completed)),
                    p99Ms: s.latencyMs.p99,
                    runID: runID
                )
            )
            Terminal.writeOut(
                "  repeat \(index + 1): \(Fmt.fixed(total * 1000, 2)) ms for \(Fmt.int(s.completed)) requests "
                    + "(\(Fmt.fixed(total * 1000 / Double(max(1, s.completed)), 3)) ms each, p99 \(Fmt.ms(s.latencyMs.p99)) ms)\n"
            )
        }
        if let stop = watcher.stoppedBy, totals.isEmpty { throw ExitCode(stop.exit.rawValue) }
        let best = totals.min() ?? 0
        let worst = totals.max() ?? 0
        let mean = totals.reduce(0, +) / Double(max(1, totals.count))
        Terminal.writeOut(
            "\(Fmt.int(number)) requests, best of \(totals.count): \(Fmt.fixed(best * 1000 / Double(number), 3)) ms per request"
                + "  (mean of repeats \(Fmt.fixed(mean * 1000 / Double(number), 3)) ms, worst \(Fmt.fixed(worst * 1000 / Double(number), 3)) ms)\n"
        )
        if failures > 0 {
            Terminal.writeOut("  \(Fmt.int(failures)) of the requests failed or answered ≥ 400: they are timed too.\n")
        }
        if !noSave {
            let result = TimingResult(url: url, number: number, repeats: timed)
            ExperimentSaver.save(
                kind: "time",
                label: nil,
                target: url,
                result: try ExperimentJSON.encode(result),
                startedAt: startedAt,
                write: { Terminal.writeOut($0) }
            )
        }
        if let stop = watcher.stoppedBy { throw ExitCode(stop.exit.rawValue) }
    }
}
