import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyReport
import VolleyStore

/// `volley ab`: the "cache on vs off" experiment done properly — A and B alternate (ABBA),
/// so that drift of the machine or the service hits both alike, then the pooled rounds are
/// compared with statistics.
struct AbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ab",
        abstract: "A/B experiment: alternate two targets (URLs or plans) over rounds, then compare.",
        discussion: """
            Rounds run A,B then B,A (and so on), each for -d. Every run is saved (labels "<label> r<N>"); \
            the comparison pools each side's full seconds. For URL targets, -c or --rate shape the load \
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

    @Option(help: "Label of side A in the history and the output.")
    var labelA: String = "A"

    @Option(help: "Label of side B.")
    var labelB: String = "B"

    @Option(help: "Exit 98 when B is significantly worse than A by more than this, e.g. 5%.")
    var failOnRegression: String?

    func validate() throws {
        guard (1...50).contains(rounds) else {
            throw ValidationError("--rounds must be between 1 and 50, got \(rounds)")
        }
    }

    /// One side's run as a typed request: a plan with `-e`, or the URL with -d and -c or
    /// --rate; its errors name ab's own flags.
    func job(for target: String) throws -> RunJob {
        if RunCommand.isPlanPath(target) {
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
        var job = try RunJob(request: RunRequest(url: url, load: load))
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
        let (pooledA, histogramsA) = RunComparator.pool(results[true]!)
        let (pooledB, histogramsB) = RunComparator.pool(results[false]!)
        let comparison = RunComparator.compare(pooledA, pooledB, histogramsA: histogramsA, histogramsB: histogramsB)
        let style = Style(enabled: Terminal.colorEnabled(fd: STDOUT_FILENO))
        Terminal.writeOut(
            "\n" + ComparisonRenderer(style: style).render(comparison, a: "\(labelA) (A)", b: "\(labelB) (B)")
        )
        if let stop = watcher.stoppedBy { throw ExitCode(stop.exit.rawValue) }
        if let limit, !comparison.regressions(beyond: limit).isEmpty {
            throw ExitCode(VolleyExit.regression.rawValue)
        }
    }
}
