import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyReport
import VolleyStore

/// `volley sweep`: the experiment our users ran by hand — the same load at rising
/// concurrency (or rate), tabulated, with the knee, a scalability fit and Little's law.
struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a target at rising concurrency (or arrival rate) and find where it stops scaling.",
        discussion: """
            Closed model: --concurrency 1,2,4,8,16, each level for -d (or --requests-per-connection \
            requests per connection). Open model: --rate 50,100,200,400. --repeat runs each level \
            several times (shown individually, then their mean). A plan target gets each level as the \
            variable named by --vus-var (default VUS: write `vus: ${VUS:-10}` in the plan).

            Every run is saved to the history (label "sweep <label> c<level> r<repeat>").

            Example:
              volley sweep http://127.0.0.1:8080/books/ --concurrency 1,2,4,8,16,32 -d 10s
            """
    )

    @Argument(help: "A URL or a plan file.")
    var target: String

    @Option(help: "Closed model: connection levels, e.g. 1,2,4,8,16.")
    var concurrency: String?

    @Option(help: "Open model: arrival rates, e.g. 50,100,200,400.")
    var rate: String?

    @Option(
        name: [.short, .customLong("duration")],
        parsing: .unconditional,
        help: "How long each level runs, e.g. 10s."
    )
    var duration: String?

    @Option(parsing: .unconditional, help: "Closed model: requests per connection at each level (instead of -d).")
    var requestsPerConnection: Int?

    @Option(parsing: .unconditional, help: "Runs per level.")
    var `repeat`: Int = 1

    @Option(help: "The plan variable set to each level (plan targets).")
    var vusVar: String = "VUS"

    @Option(name: [.customShort("e"), .customLong("env")], help: "A plan variable NAME=value (repeatable).")
    var environment: [String] = []

    @Option(
        parsing: .unconditional,
        help: "Follow up to N redirects per request, as volley run --follow (URL targets)."
    )
    var follow: Int = 0

    @Option(help: "A label for this sweep's runs in the history.")
    var label: String?

    @Flag(help: "Do not save the runs to the history.")
    var noSave = false

    @OptionGroup(title: "Probes and health watch (every level)")
    var probing: ProbeOptions

    @Flag(help: "Print the levels and the analysis as JSON on stdout.")
    var json = false

    func levels() throws -> (values: [Double], closed: Bool) {
        guard (concurrency == nil) != (rate == nil) else {
            throw CLIError(
                message: concurrency == nil
                    ? "a sweep needs --concurrency or --rate" : "--concurrency and --rate both given",
                hint: "for example --concurrency 1,2,4,8,16",
                code: .usage
            )
        }
        if let concurrency {
            let values = try RunCommand.countList(concurrency, flag: "--concurrency", example: "1,2,4,8,16")
            return (values.map(Double.init), true)
        }
        let text = rate!
        let values = try text.split(separator: ",").map { item -> Double? in
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            // Rates as everywhere else (500, 500/s, 30/m; at most 10 million a second).
            return trimmed.isEmpty ? nil : try RateText.parse(trimmed)
        }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw CLIError(
                message: "--rate takes positive rates separated by commas, got '\(text)'",
                hint: "for example --rate 50,100,200/s",
                code: .usage
            )
        }
        return (values.compactMap { $0 }, false)
    }

    /// The history label of one run of a level.
    func runLabel(level: Double, closed: Bool, repeatIndex: Int) -> String {
        let levelText = closed ? String(Int(level)) : SweepAnalysis.format(level)
        var name = "sweep"
        if let label { name += " \(label)" }
        return name + (closed ? " c" : " r") + levelText + " r\(repeatIndex + 1)"
    }

    /// One level's run, built as a typed request (a plan gets the level as `--vus-var`);
    /// its errors name this command's flags and the level.
    func job(level: Double, closed: Bool) throws -> RunJob {
        let levelText = closed ? String(Int(level)) : SweepAnalysis.format(level)
        if RunCommand.isPlanPath(target) {
            guard follow == 0 else { throw RunCommand.followWithPlan }
            return try RunCommand.planJob(
                path: target,
                environment: ["\(vusVar)=\(levelText)"] + environment,
                probing: probing
            )
        }
        let url = try RunCommand.naming("the target", { try TargetURL(parsing: target) })
        let seconds = try duration.map { try RunCommand.positiveDuration($0, flag: "-d/--duration") }
        let load: RunRequest.Load
        if closed {
            if let requestsPerConnection {
                let (total, overflow) = Int(level).multipliedReportingOverflow(by: requestsPerConnection)
                guard !overflow else {
                    throw CLIError(
                        message:
                            "--requests-per-connection \(requestsPerConnection) at --concurrency \(levelText) is too many requests",
                        hint: "e.g. --requests-per-connection 100",
                        code: .usage
                    )
                }
                load = .closed(connections: Int(level), requests: total)
            } else {
                load = .closed(connections: Int(level), duration: seconds ?? .seconds(10))
            }
        } else {
            load = .open(.rate(level, duration: seconds ?? .seconds(10)))
        }
        var request = RunRequest(url: url, load: load)
        request.follow = follow
        var job = try RunJob(request: request, probing: probing)
        job.flagName = { field in
            switch field {
            case .connections: return "--concurrency level \(levelText)"
            case .requests: return "--requests-per-connection"
            case .rate: return "--rate level \(level == level.rounded() ? String(Int(level)) : String(level))"
            default: return RunRequestError.runFlag(field)
            }
        }
        return job
    }

    func run() async throws {
        guard (1...20).contains(`repeat`) else {
            throw CLIError(message: "--repeat must be between 1 and 20, got \(`repeat`)", hint: nil, code: .usage)
        }
        if let requestsPerConnection, requestsPerConnection < 1 {
            throw CLIError(
                message: "--requests-per-connection must be a positive number, got \(requestsPerConnection)",
                hint: "e.g. --requests-per-connection 100",
                code: .usage
            )
        }
        let (values, closed) = try levels()
        // Validate every level (flags and load model) before sending anything.
        for level in values where !RunCommand.isPlanPath(target) {
            // A plan is loaded (and its warnings printed) once per run, as before.
            try job(level: level, closed: closed).validate()
        }
        let out = json ? STDERR_FILENO : STDOUT_FILENO
        let write = { (text: String) in out == STDOUT_FILENO ? Terminal.writeOut(text) : Terminal.writeError(text) }
        let renderer = SweepRenderer(
            style: Style(enabled: Terminal.colorEnabled(fd: out)),
            levelName: closed ? "conns" : "rate"
        )
        write(
            "Sweep of \(target): \(closed ? "concurrency" : "arrival rate") "
                + values.map(SweepAnalysis.format).joined(separator: ", ")
                + (`repeat` > 1 ? ", \(`repeat`) runs each" : "") + "\n\n" + renderer.header
        )
        var runs: [SweepRun] = []
        var summaries: [RunSummary] = []
        let startedAt = Date()
        // One watcher for every level: the first signal stops the level in progress (saved and
        // shown, marked interrupted), no further level starts, and the finished ones are analysed.
        let watcher = InterruptWatcher()
        watcher.start()
        defer { watcher.stop() }
        levels: for level in values {
            var atLevel: [SweepRun] = []
            for index in 0..<`repeat` {
                if watcher.interrupted { break levels }
                let outcome = try await LoadRunner.perform(job(level: level, closed: closed), watcher: watcher)
                var id: Int64?
                if !noSave {
                    let name = runLabel(level: level, closed: closed, repeatIndex: index)
                    id = HistorySaver.saveQuietly(outcome, kind: "sweep", label: name)
                }
                let run = SweepRun(level: level, repeatIndex: index, summary: outcome.summary, runID: id)
                write(renderer.row(run))
                if outcome.interrupted {
                    write("  (interrupted: this level is saved but left out of the analysis)\n")
                    break levels
                }
                summaries.append(outcome.summary)
                atLevel.append(run)
            }
            runs += atLevel
            if `repeat` > 1, let mean = SweepAnalysis(runs: atLevel, closedModel: closed).levels.first {
                write(renderer.row(mean, summary: true))
            }
        }
        let analysis = SweepAnalysis(runs: runs, closedModel: closed)
        write(renderer.analysis(analysis))
        // The levels read as one stepped load: what saturated first as the load rose.
        let findings = Diagnosis.diagnose(runs: summaries)
        let probed = probing.isActive || summaries.contains(where: \.readServerSide)
        let diagnosis = DiagnosisRenderer(style: Style(enabled: Terminal.colorEnabled(fd: out)))
            .renderFindings(findings, probed: probed)
        if !diagnosis.isEmpty { write("\n" + diagnosis) }
        let result = SweepResult(
            target: target,
            closedModel: closed,
            runs: runs,
            analysis: analysis,
            findings: findings
        )
        let text = try ExperimentJSON.encode(result)
        if !noSave {
            ExperimentSaver.save(
                kind: "sweep",
                label: label,
                target: target,
                result: text,
                startedAt: startedAt,
                write: write
            )
        }
        if json { Terminal.writeOut(text + "\n") }
        if let stop = watcher.stoppedBy { throw ExitCode(stop.exit.rawValue) }
    }
}
