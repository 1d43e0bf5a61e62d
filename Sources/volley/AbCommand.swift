import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyReport
import VolleyStore

/// `volley ab`: the "cache on vs off" experiment done properly — A and B alternate (ABBA),
/// so that drift of the machine or the service hits both alike, then the rounds are
/// compared with statistics.
struct AbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ab",
        abstract: "A/B experiment: alternate two targets (URLs or plans) over rounds, then compare.",
        discussion: """
            Rounds run A,B then B,A (and so on), each for -d. Every run is saved (labels "<label> r<N>"). \
            Each round gives one value per side; the decision is a paired t-interval on the per-round ratios \
            (3 rounds at least), with the rounds a ±5%/±10% change needs at the spread seen. \
            --a and --b the same is an A/A experiment: compare then uses its spread as the noise floor. For URL targets, -c or --rate shape the load \
            of both; plans carry their own load (use -e to set variables).

            Example:
              volley ab --a http://127.0.0.1:8080/books/ --b http://127.0.0.1:8081/books/ \\
                --label-a "cache off" --label-b "cache on" --rounds 3 -d 10s -c 32
            """
    )

    @Option(help: "Side A: a URL or a plan file.")
    var a: String

    @Option(help: "Side B: a URL or a plan file.")
    var b: String

    @Option(parsing: .unconditional, help: "Rounds (each runs A and B once).")
    var rounds: Int = 3

    @Option(
        name: [.short, .customLong("duration")],
        parsing: .unconditional,
        help: "How long each run lasts (URL targets), e.g. 10s."
    )
    var duration: String = "10s"

    @Option(
        name: [.short, .customLong("connections")],
        parsing: .unconditional,
        help: "Closed model: connections (URL targets)."
    )
    var connections: Int?

    @Option(
        name: [.short, .customLong("rate")],
        parsing: .unconditional,
        help: "Open model: arrival rate (URL targets)."
    )
    var rate: String?

    @Option(name: [.customShort("e"), .customLong("env")], help: "A plan variable NAME=value (repeatable).")
    var environment: [String] = []

    @Option(
        parsing: .unconditional,
        help: "Follow up to N redirects per request, as volley run --follow (URL targets)."
    )
    var follow: Int = 0

    @Option(help: "Label of side A in the history and the output.")
    var labelA: String = "A"

    @Option(help: "Label of side B.")
    var labelB: String = "B"

    @Option(help: "Exit 98 when the rounds call B worse than A by more than this, e.g. 5%.")
    var failOnRegression: String?

    @Flag(help: "Print the decision as JSON on stdout (the progress lines go to stderr; docs/json-summary.md).")
    var json = false

    func validate() throws {
        guard (1...50).contains(rounds) else {
            throw ValidationError("--rounds must be between 1 and 50, got \(rounds)")
        }
    }

    /// One side's run as a typed request: a plan with `-e`, or the URL with -d and -c or
    /// --rate; its errors name ab's own flags.
    func job(for target: String) throws -> RunJob {
        if RunCommand.isPlanPath(target) {
            guard follow == 0 else { throw RunCommand.followWithPlan }
            return try RunCommand.planJob(path: target, environment: environment)
        }
        let url = try RunCommand.naming(target == a ? "--a" : "--b", { try TargetURL(parsing: target) })
        let seconds = try RunCommand.positiveDuration(duration, flag: "-d/--duration")
        let load: RunRequest.Load
        if let rate {
            if rate.trimmingCharacters(in: .whitespaces).hasPrefix("-") {
                throw InputError("-r/--rate must be a positive rate, got \(rate)", hint: "e.g. --rate 100/s")
            }
            let perSecond = try RunCommand.naming("-r/--rate", { try RateText.parse(rate) })
            load = .open(.rate(perSecond, duration: seconds), preconnect: connections)
        } else {
            load = .closed(connections: connections ?? 50, duration: seconds)
        }
        var request = RunRequest(url: url, load: load)
        request.follow = follow
        var job = try RunJob(request: request)
        job.flagName = { field in
            switch field {
            case .connections, .preconnect: return "-c/--connections"
            case .duration: return "-d/--duration"
            case .rate: return "-r/--rate"
            default: return RunRequestError.runFlag(field)
            }
        }
        return job
    }

    func run() async throws {
        let (jsonFD, startedAt) = (json ? JSONStdout.divert() : nil, Date())
        let limit = try failOnRegression.map { try CompareCommand.percent($0, flag: "fail-on-regression") }
        // Validate both sides before sending anything.
        // (A plan is loaded, and its warnings printed, once per run.)
        for side in [a, b] where !RunCommand.isPlanPath(side) { try job(for: side).validate() }
        var results: [Bool: [(summary: RunSummary, histograms: RunHistograms?)]] = [true: [], false: []]
        Terminal.writeOut("A/B: \(labelA) = \(a)\n     \(labelB) = \(b)\n\(rounds) rounds, order ABBA…\n\n")
        Terminal.writeOut(
            "  round  side  " + Fmt.pad("label", 14, right: false) + "     req/s    p50 ms    p99 ms   errors   run\n"
        )
        // One watcher for every round: the first signal stops the run in progress (saved and
        // shown), no further run starts, and the finished rounds are compared.
        let watcher = InterruptWatcher()
        watcher.start()
        defer { watcher.stop() }
        rounds: for round in 1...rounds {
            let order = round % 2 == 1 ? [true, false] : [false, true]
            for isA in order {
                if watcher.interrupted { break rounds }
                let label = (isA ? labelA : labelB) + " r\(round)"
                let outcome = try await LoadRunner.perform(job(for: isA ? a : b), watcher: watcher)
                let id = HistorySaver.saveQuietly(outcome, kind: outcome.kind, label: label)
                if !outcome.interrupted { results[isA]!.append((outcome.summary, outcome.histograms)) }
                let s = outcome.summary
                Terminal.writeOut(
                    "  " + Fmt.pad(String(round), 5) + "  " + Fmt.pad(isA ? "A" : "B", 4, right: false)
                        + Fmt.pad(String(label.prefix(14)), 14, right: false) + Fmt.pad(Fmt.fixed(s.rps, 1), 10)
                        + Fmt.pad(Fmt.ms(s.latencyMs.p50), 10) + Fmt.pad(Fmt.ms(s.latencyMs.p99), 10)
                        + Fmt.pad(Fmt.percent(s.errorRate), 9) + "   " + (id.map { "#\($0)" } ?? "not saved") + "\n"
                )
            }
        }
        if let stop = watcher.stoppedBy {
            Terminal.writeOut("\ninterrupted: the last run is saved but left out of the comparison\n")
            // Comparing needs a finished run on each side.
            if results[true]!.isEmpty || results[false]!.isEmpty { throw ExitCode(stop.exit.rawValue) }
        }
        // The decision comes from the rounds: one value per side and round, paired by round.
        let decision = RoundComparator.compare(a: results[true]!.map(\.summary), b: results[false]!.map(\.summary))
        var report = AbReport(
            a: AbReport.Side(label: labelA, target: a),
            b: AbReport.Side(label: labelB, target: b),
            first: results[true]![0].summary,
            decision: decision
        )
        report.experiment = report.save(startedAt: startedAt)
        let style = Style(enabled: Terminal.colorEnabled(fd: STDOUT_FILENO))
        Terminal.writeOut(
            "\n" + RoundComparisonRenderer(style: style).render(decision, a: "\(labelA) (A)", b: "\(labelB) (B)")
        )
        if let id = report.experiment {
            let note: String
            switch (report.sameTarget, decision.rounds >= 3) {
            case (true, true):
                note =
                    "; an A/A experiment: `volley compare` uses its spread as the noise floor of single runs of "
                    + "this target.\n"
            case (true, false): note = "; an A/A experiment needs 3 rounds or more to be compare's noise floor.\n"
            default: note = ".\n"
            }
            Terminal.writeOut("\nSaved as experiment E\(id)" + note)
        }
        if let jsonFD { JSONStdout.write(try ExperimentJSON.encode(report) + "\n", to: jsonFD) }
        if let stop = watcher.stoppedBy { throw ExitCode(stop.exit.rawValue) }
        if let limit, !decision.regressions(beyond: limit).isEmpty {
            for m in decision.regressions(beyond: limit) {
                Terminal.writeError(
                    "volley: regression: \(m.metric) \(labelA) → \(labelB) beyond \(Fmt.fixed(limit * 100, 1))%\n"
                )
            }
            throw ExitCode(VolleyExit.regression.rawValue)
        }
    }
}
