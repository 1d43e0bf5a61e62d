import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyReport
import VolleyStore

/// `volley find-max`: the highest arrival rate that meets an SLO — grow, then bisect, with
/// every step shown as evidence.
struct FindMaxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find-max",
        abstract: "Find the highest arrival rate that meets an SLO (e.g. p99<500ms,errors<1%).",
        discussion: """
            Open model: each step sends the rate for -d; the rate doubles while the SLO holds, then \
            the search bisects between the last rate that held and the first that did not, until they \
            are within --precision. A step also fails when fewer than 90% of the scheduled requests \
            completed (the target, or the generator, could not keep up). Plans receive the rate as \
            the variable named by --rate-var (default RATE). Every step is saved to the history.

            Example:
              volley find-max http://127.0.0.1:8080/books/ --slo "p99<100ms,errors<1%" --start 50 -d 10s
            """
    )

    @Argument(help: "A URL or a plan file.")
    var target: String

    @Option(help: "What must hold, e.g. p99<500ms,errors<1% (also p50, p90, p95, p999, max, mean).")
    var slo: String

    @Option(parsing: .unconditional, help: "The first rate to try (requests per second).")
    var start: Double = 50

    @Option(parsing: .unconditional, help: "Never try more than this rate.")
    var ceiling: Double = 100_000

    @Option(
        name: [.short, .customLong("duration")],
        parsing: .unconditional,
        help: "How long each step runs, e.g. 10s."
    )
    var duration: String = "10s"

    @Option(parsing: .unconditional, help: "Stop bisecting when the bounds are within this, e.g. 5%.")
    var precision: String = "5%"

    @Option(help: "The plan variable set to each rate (plan targets).")
    var rateVar: String = "RATE"

    @Option(name: [.customShort("e"), .customLong("env")], help: "A plan variable NAME=value (repeatable).")
    var environment: [String] = []

    @Option(
        parsing: .unconditional,
        help: "Follow up to N redirects per request, as volley run --follow (URL targets)."
    )
    var follow: Int = 0

    @Flag(help: "Do not save the steps to the history.")
    var noSave = false

    /// The history label of the step at `rate`.
    static func stepLabel(_ rate: Double) -> String {
        "find-max \(rate == rate.rounded() ? String(Int(rate)) : String(rate))/s"
    }

    /// One step as a typed request: the rate itself (no text round trip), or a plan with
    /// the rate as `--rate-var`; its errors name find-max's own flags.
    func job(rate: Double) throws -> RunJob {
        if RunCommand.isPlanPath(target) {
            guard follow == 0 else { throw RunCommand.followWithPlan }
            let text = rate == rate.rounded() ? String(Int(rate)) : String(rate)
            return try RunCommand.planJob(path: target, environment: ["\(rateVar)=\(text)"] + environment)
        }
        let url = try RunCommand.naming("the target", { try TargetURL(parsing: target) })
        let seconds = try RunCommand.positiveDuration(duration, flag: "-d/--duration")
        var request = RunRequest(url: url, load: .open(.rate(rate, duration: seconds)))
        request.follow = follow
        var job = try RunJob(request: request)
        job.flagName = { field in
            switch field {
            case .rate: return "the step rate \(Self.stepLabel(rate).dropFirst(9)) (from --start)"
            case .duration: return "-d/--duration"
            default: return RunRequestError.runFlag(field)
            }
        }
        return job
    }

    func run() async throws {
        let objective = try SLO.parse(slo)
        let tolerance = try CompareCommand.percent(precision, flag: "precision")
        guard start > 0, ceiling >= start else {
            throw CLIError(message: "--start must be above 0 and at most --ceiling", hint: nil, code: .usage)
        }
        if !RunCommand.isPlanPath(target) { try job(rate: start).validate() }
        var search = MaxRateSearch(start: start, ceiling: ceiling, precision: max(0.01, tolerance))
        Terminal.writeOut(
            "Searching the highest rate of \(target) that meets \(objective) (steps of \(duration))\n\n"
                + "  step   target/s   achieved/s    p50 ms    p99 ms   errors   SLO\n"
        )
        var evidence: [Double: String] = [:]
        var steps: [MaxRateStep] = []
        let startedAt = Date()
        // One watcher for every step: the first signal stops the step in progress (saved, not
        // judged), no further step starts, and the bounds found so far are reported.
        let watcher = InterruptWatcher()
        watcher.start()
        defer { watcher.stop() }
        while !watcher.interrupted, let rate = search.next() {
            let outcome = try await LoadRunner.perform(job(rate: rate), watcher: watcher)
            let s = outcome.summary
            var runID: Int64?
            if !noSave {
                runID = HistorySaver.saveQuietly(outcome, kind: "find-max", label: Self.stepLabel(rate))
            }
            if outcome.interrupted {
                Terminal.writeOut(
                    "  " + Fmt.pad(String(search.steps + 1), 4) + Fmt.pad(Fmt.fixed(rate, 0), 11)
                        + "   interrupted (saved as " + (runID.map { "#\($0)" } ?? "not saved") + ", not judged)\n"
                )
                break
            }
            let results = objective.evaluate(s)
            let keptUp = s.scheduled == 0 || Double(s.completed) >= 0.9 * Double(s.scheduled)
            let met = keptUp && results.allSatisfy(\.met)
            var why = results.filter { !$0.met }.map { r in
                r.condition.metric == "errors"
                    ? "errors \(Fmt.percent(r.actual))" : "\(r.condition.metric) \(Fmt.ms(r.actual)) ms"
            }
            if !keptUp { why.append("only \(Fmt.int(s.completed)) of \(Fmt.int(s.scheduled)) completed") }
            evidence[rate] = why.joined(separator: ", ")
            search.record(rate: rate, met: met)
            steps.append(
                MaxRateStep(
                    rate: rate,
                    achieved: s.rps,
                    p50Ms: s.latencyMs.p50,
                    p99Ms: s.latencyMs.p99,
                    errorRate: s.errorRate,
                    met: met,
                    why: why.joined(separator: ", "),
                    runID: runID
                )
            )
            Terminal.writeOut(
                "  " + Fmt.pad(String(search.steps), 4) + Fmt.pad(Fmt.fixed(rate, 0), 11)
                    + Fmt.pad(Fmt.fixed(s.rps, 1), 13)
                    + Fmt.pad(Fmt.ms(s.latencyMs.p50), 10) + Fmt.pad(Fmt.ms(s.latencyMs.p99), 10)
                    + Fmt.pad(Fmt.percent(s.errorRate), 9) + "   " + (met ? "✓" : "✗ " + why.joined(separator: ", "))
                    + "\n"
            )
        }
        Terminal.writeOut("\n")
        if !noSave {
            let result = MaxRateResult(
                target: target,
                slo: objective,
                steps: steps,
                passed: search.passed,
                failed: search.failed
            )
            ExperimentSaver.save(
                kind: "find-max",
                label: nil,
                target: target,
                result: try ExperimentJSON.encode(result),
                startedAt: startedAt,
                write: { Terminal.writeOut($0) }
            )
        }
        if let stop = watcher.stoppedBy {
            Terminal.writeOut(
                "Interrupted: "
                    + (search.passed.map { "\(Fmt.fixed($0, 0)) req/s met the SLO" } ?? "no rate met the SLO yet")
                    + (search.failed.map { ", \(Fmt.fixed($0, 0)) req/s did not" } ?? "") + ".\n"
            )
            throw ExitCode(stop.exit.rawValue)
        }
        switch (search.passed, search.failed) {
        case (let p?, let f?):
            Terminal.writeOut(
                "Highest rate meeting \(objective): ≈ \(Fmt.fixed(p, 0)) req/s. At \(Fmt.fixed(f, 0)) req/s it failed "
                    + "(\(evidence[f] ?? "")); the answer lies between the two, within \(Fmt.fixed((f - p) / p * 100, 1))%.\n"
            )
        case (let p?, nil):
            Terminal.writeOut(
                "Every rate up to \(Fmt.fixed(p, 0)) req/s met \(objective): the ceiling (\(Fmt.fixed(ceiling, 0))) or the "
                    + "step limit was reached first; raise --ceiling.\n"
            )
        case (nil, let f?):
            Terminal.writeOut(
                "No rate met \(objective), down to \(Fmt.fixed(f, 0)) req/s (\(evidence[f] ?? "")).\n"
            )
            throw ExitCode(VolleyExit.failure.rawValue)
        case (nil, nil):
            break
        }
    }
}
