import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyPlan
import VolleyProbes
import VolleyReport
import VolleyStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `volley run URL`: one load test against one URL, closed or open model.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Send load to a URL (or run a plan file) and report throughput, latency and errors.",
        discussion: """
            Closed model (default): -c connections send back-to-back, for -n requests in total or for -d.

            Open model: --rate or --stages set the arrival rate; latency counts from each request's \
            intended start, so queueing in the server (or in Volley, when --max-connections is reached) \
            is measured, not hidden.

            Plan files (.yaml): scenarios, checks, captures and thresholds; see `volley init`, \
            `volley validate` and docs/plan-format.md. -e NAME=value sets plan variables.

            Examples:
              volley run http://127.0.0.1:8080/ -c 50 -d 30s
              volley run http://127.0.0.1:8080/api -n 1000 -c 100 --json
              volley run http://127.0.0.1:8080/ --rate 500/s -d 1m
              volley run http://127.0.0.1:8080/ --stages 10s:0->200,30s:200,10s:200->0
            """
    )

    @Argument(help: "The target URL (http:// or https://), or a plan file (.yaml, .yml).")
    var url: String

    @Option(
        name: [.customShort("e"), .customLong("env")],
        help: "A plan variable NAME=value, overriding the environment (repeatable)."
    )
    var environment: [String] = []

    // MARK: Load model

    @Option(
        name: [.short, .customLong("connections")],
        parsing: .unconditional,
        help:
            "Closed model: concurrent connections (default 50). Open model: connections opened before time zero (default 1 per 1,000 req/s of peak rate)."
    )
    var connections: Int?

    @Option(
        name: [.customShort("n"), .customLong("requests")],
        parsing: .unconditional,
        help: "Total requests to send (closed model; with --rate, the run lasts n/rate)."
    )
    var requests: Int?

    @Option(
        name: [.short, .customLong("duration")],
        parsing: .unconditional,
        help: "How long to send, e.g. 30s, 2m, 1m30s. Default 10s when neither -n nor --stages is given."
    )
    var duration: String?

    @Option(
        name: [.short, .customLong("rate")],
        parsing: .unconditional,
        help: "Open model: arrival rate, e.g. 500, 500/s, 30/m."
    )
    var rate: String?

    @Option(parsing: .unconditional, help: "Open model: ramping arrival rate, e.g. 10s:0->200,30s:200,10s:200->0.")
    var stages: String?

    @Option(
        parsing: .unconditional,
        help: "Open model: most connections to open; beyond it due requests wait (and the wait counts)."
    )
    var maxConnections: Int = 1024

    @Option(parsing: .unconditional, help: "Event loops (threads); default one per core.")
    var threads: Int?

    // MARK: Request

    @Option(name: [.short, .customLong("method")], help: "HTTP method.")
    var method: String = "GET"

    @Option(name: [.customShort("H"), .customLong("header")], help: "A request header 'Name: value' (repeatable).")
    var headers: [String] = []

    @Option(help: "Request body.")
    var body: String?

    @Option(help: "Read the request body from a file.")
    var bodyFile: String?

    @Option(parsing: .unconditional, help: "Per-request timeout, counted from the write.")
    var timeout: String = "30s"

    @Option(parsing: .unconditional, help: "Connection (TCP and TLS) set-up timeout.")
    var connectTimeout: String = "10s"

    @Option(
        parsing: .unconditional,
        help: "After the duration, how long requests in flight may still finish (then: interrupted)."
    )
    var grace: String = "5s"

    @Flag(help: "Send Connection: close and use a new connection for every request.")
    var noKeepalive = false

    @Flag(help: "Accept any TLS certificate (self-signed test servers).")
    var insecure = false

    @Option(help: "Header that carries each request's unique id.")
    var requestIdHeader: String = "X-Request-ID"

    @Flag(help: "Send no request id header.")
    var noRequestId = false

    // MARK: Output

    @Flag(help: "Print the summary as JSON on stdout (the human summary then goes to stderr).")
    var json = false

    @Flag(name: .shortAndLong, help: "No live progress.")
    var quiet = false

    @Option(parsing: .unconditional, help: "How many of the slowest requests to list.")
    var slowest: Int = 10

    // MARK: History

    @Option(help: "A label for this run in the history, e.g. \"cache on\".")
    var label: String?

    @Flag(help: "Do not save this run to the history ($VOLLEY_HOME or ~/.volley).")
    var noSave = false

    @Option(help: "Also write the run's self-contained HTML report to this file.")
    var html: String?

    @Option(help: "Compare this run with a saved one (an id, last, or last~N) right after it.")
    var baseline: String?

    @OptionGroup(title: "Probes and health watch")
    var probing: ProbeOptions

    @Option(help: "Stream one JSON line per request to this file (time, name, status or error, latency, id, bytes).")
    var out: String?

    // MARK: - Building the configuration

    /// Turns the flags into a run configuration; every mistake is an `InputError` with a hint.
    func makeConfiguration() throws -> RunConfiguration {
        let target = try TargetURL(parsing: url)
        var parsedHeaders: [HTTPHeader] = []
        for h in headers { parsedHeaders.append(try Self.naming("-H/--header", { try HTTPHeader(parsing: h) })) }
        if body != nil && bodyFile != nil {
            throw InputError("--body and --body-file both given", hint: "use one of them")
        }
        var bodyBytes: [UInt8]?
        if let body { bodyBytes = Array(body.utf8) }
        if let bodyFile { bodyBytes = try Self.readFile(bodyFile) }
        let methodName = method.uppercased()
        guard !methodName.isEmpty, methodName.allSatisfy({ $0.isLetter || $0 == "-" || $0 == "_" }) else {
            throw InputError("invalid method \"\(method)\"", hint: "e.g. GET, POST, PUT, DELETE")
        }
        var idHeader: String? = noRequestId ? nil : requestIdHeader
        if let h = idHeader {
            _ = try HTTPHeader(parsing: h + ": x")
            if h.isEmpty { idHeader = nil }
        }
        let spec = RequestSpec(
            method: methodName,
            url: target,
            headers: parsedHeaders,
            body: bodyBytes,
            requestIDHeader: idHeader,
            keepAlive: !noKeepalive
        )
        let requestTimeout = try Self.positiveDuration(timeout, flag: "--timeout")
        let connectTimeoutValue = try Self.positiveDuration(connectTimeout, flag: "--connect-timeout")
        if let threads, threads < 1 || threads > 256 {
            throw InputError(
                "--threads must be between 1 and 256, got \(threads)",
                hint: "default: one per core"
            )
        }
        guard maxConnections <= 1_000_000 else {
            throw InputError(
                "--max-connections \(maxConnections) is more than one process holds (1,000,000)",
                hint: "split the load over several machines"
            )
        }
        guard slowest >= 0 && slowest <= 1000 else {
            throw InputError("--slowest must be between 0 and 1000, got \(slowest)", hint: "e.g. --slowest 10")
        }
        var config = RunConfiguration(
            request: spec,
            model: try makeModel(),
            requestTimeout: requestTimeout,
            connectTimeout: connectTimeoutValue,
            insecure: insecure,
            slowestCount: slowest
        )
        if let threads { config.threads = threads }
        config.endGrace = try Self.positiveDuration(grace, flag: "--grace")
        return config
    }

    /// Runs `parse`, prefixing an `InputError` with the flag or argument it came from, so a
    /// refused URL or header (a line break, a bad port) says which input to fix.
    static func naming<T>(_ flag: String, _ parse: () throws -> T) throws -> T {
        do {
            return try parse()
        } catch let error as InputError {
            throw InputError("\(flag): \(error.message)", hint: error.hint)
        }
    }

    func makeModel() throws -> LoadModel {
        let parsedDuration = try duration.map { try Self.positiveDuration($0, flag: "-d/--duration") }
        if let c = connections, c < 1, c != 0 || (rate == nil && stages == nil) {
            throw InputError("-c must be a positive number of connections, got \(c)", hint: "e.g. -c 50")
        }
        if let requests, requests < 1 {
            throw InputError(
                "-n must be a positive number of requests, got \(requests)",
                hint: "e.g. -n 1000, or use -d for a duration"
            )
        }
        if let rate, rate.trimmingCharacters(in: .whitespaces).hasPrefix("-") {
            throw InputError("--rate must be a positive rate, got \(rate)", hint: "e.g. --rate 100/s")
        }
        if rate != nil || stages != nil {
            if rate != nil && stages != nil {
                throw InputError("--rate and --stages both given", hint: "--stages already sets the rate over time")
            }
            guard maxConnections >= 1 else {
                throw InputError(
                    "--max-connections must be a positive number of connections, got \(maxConnections)",
                    hint: "e.g. --max-connections 1000"
                )
            }
            if let c = connections, c < 0 || c > maxConnections {
                throw InputError(
                    "-c \(c) is more than --max-connections \(maxConnections)",
                    hint: "in the open model -c only pre-opens connections; raise --max-connections"
                )
            }
            let schedule: ArrivalSchedule
            if let stages {
                if parsedDuration != nil || requests != nil {
                    throw InputError("--stages sets the duration itself", hint: "drop -d and -n when using --stages")
                }
                schedule = ArrivalSchedule(stages: try RateStage.parseList(stages))
            } else {
                let r = try RateText.parse(rate!)
                guard r > 0 else { throw InputError("--rate must be above zero", hint: "e.g. --rate 100/s") }
                let d: Duration
                if let requests {
                    if parsedDuration != nil {
                        throw InputError(
                            "-n and -d both given with --rate",
                            hint: "with --rate, -n sets the duration as n/rate"
                        )
                    }
                    d = .nanoseconds(Int64((Double(requests) / r * 1e9).rounded()))
                } else {
                    d = parsedDuration ?? .seconds(10)
                }
                schedule = ArrivalSchedule(rate: r, duration: d)
            }
            guard schedule.scheduledCount > 0 else {
                throw InputError("the schedule sends no request", hint: "raise the rate or the duration")
            }
            return .open(
                schedule: schedule,
                maxConnections: maxConnections,
                preconnect: connections ?? Self.defaultPreconnect(schedule, maxConnections: maxConnections)
            )
        }
        let c = connections ?? 50
        guard c >= 1 && c <= 1_000_000 else {
            throw InputError("-c/--connections must be between 1 and 1,000,000, got \(c)", hint: "e.g. -c 50")
        }
        let limit: ClosedLimit
        switch (requests, parsedDuration) {
        case (let n?, let d?): limit = .requestsOrDuration(n, d)
        case (let n?, nil): limit = .requests(n)
        case (nil, let d?): limit = .duration(d)
        case (nil, nil): limit = .duration(.seconds(10))
        }
        if let n = requests, n < c {
            return .closed(connections: n, limit: limit)
        }
        return .closed(connections: c, limit: limit)
    }

    /// Open model without -c: one pre-opened connection per 1,000 req/s of peak rate (at
    /// least one), so a fast schedule does not start by measuring Volley's own handshakes;
    /// more connections open on demand.
    static func defaultPreconnect(_ schedule: ArrivalSchedule, maxConnections: Int) -> Int {
        let peak = schedule.stages.map { max($0.startRate, $0.endRate) }.max() ?? 0
        return min(maxConnections, max(1, Int((peak / 1000).rounded(.up))))
    }

    /// `1,2,4,8`: whole numbers from 1 to `maximum` (connections, VUs, burst sizes), so that a
    /// typo such as an extra zero is an error rather than a run that cannot end.
    static func countList(_ text: String, flag: String, maximum: Int = 1_000_000, example: String) throws -> [Int] {
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 && ($0 ?? 0) <= maximum }) else {
            throw CLIError(
                message: "\(flag) takes whole numbers from 1 to \(Fmt.int(maximum)) separated by commas, got '\(text)'",
                hint: "for example \(flag) \(example)",
                code: .usage
            )
        }
        return values.compactMap { $0 }
    }

    static func positiveDuration(_ text: String, flag: String) throws -> Duration {
        if text.trimmingCharacters(in: .whitespaces).hasPrefix("-") {
            throw InputError(
                "\(flag) must be a positive duration, got \(text)",
                hint: "e.g. \(flag.split(separator: "/")[0]) 30s"
            )
        }
        let d: Duration
        do {
            d = try DurationText.parse(text)
        } catch let error as InputError {
            throw InputError("\(flag): \(error.message)", hint: error.hint)
        }
        guard d > .zero else { throw InputError("\(flag) must be above zero", hint: "e.g. 30s") }
        return d
    }

    /// A body file's bytes, within ``BodyFile/limit``; `flag` names where the path came from.
    static func readFile(_ path: String, flag: String = "--body-file") throws -> [UInt8] {
        do {
            return try BodyFile.load(path)
        } catch {
            throw InputError("\(flag) \"\(path)\" \(error.message)", hint: error.hint)
        }
    }

    // MARK: - Running

    /// What one run produced, before it is printed and saved.
    struct Outcome {
        var summary: RunSummary
        /// The samples file (`--out`), written and closed.
        var samplesPath: String? = nil
        var histograms: RunHistograms?
        var kind: String
        var startedAt: Date
        /// The signal that stopped the run early, if one did.
        var stoppedBy: StopSignal?
        /// Credentials written in the plan's text, masked in the copy the history keeps.
        var planSecrets: Set<String> = []

        var interrupted: Bool { stoppedBy != nil || summary.interrupted }
    }

    func run() async throws {
        // The baseline is found before the run: a bad reference must not cost a load test,
        // and `--baseline last` means the last run before this one.
        let base = try baseline.map { try loadRun($0, from: HistorySaver.open()) }
        let outcome = try await perform()
        try finish(outcome, humanFD: json ? STDERR_FILENO : STDOUT_FILENO, baseline: base)
    }

    /// Runs the load (URL or plan) with live progress; `volley run` and the experiments share
    /// it. An experiment passes its own `watcher`, which outlives every level, so that a signal
    /// between two levels still stops the next one.
    func perform(watcher shared: InterruptWatcher? = nil) async throws -> Outcome {
        if Self.isPlanPath(url) { return try await performPlan(watcher: shared) }
        var config = try makeConfiguration()
        try checkOutputPaths()
        let samples = try openSamples()
        defer { samples?.close() }
        config.samples = samples
        Terminal.raiseFileLimit()
        let engine = LoadEngine(configuration: config)
        let (watcher, unwatch) = InterruptWatcher.watching(shared) { engine.interrupt() }
        defer { unwatch() }

        let progressStyle = Style(enabled: Terminal.colorEnabled(fd: STDERR_FILENO))
        let expected = Self.expectations(config.model)
        let progress = ProgressBox(
            ProgressRenderer(
                style: progressStyle,
                isTTY: Terminal.isTTY(STDERR_FILENO),
                expectedRequests: expected.requests,
                expectedSeconds: expected.seconds
            ),
            enabled: !quiet
        )
        var summary: RunSummary
        let startedAt = Date()
        let probes = try await probing.start()
        do {
            summary = try await engine.run { entry in progress.update(entry) }
        } catch let error as EngineError {
            await probes.discard()
            throw CLIError(message: error.message, hint: error.hint, code: .failure)
        }
        await probes.stop(into: &summary)
        summary.findings = Diagnosis.diagnose(summary)
        progress.finish()
        return Outcome(
            summary: summary,
            samplesPath: samples?.path,
            histograms: engine.histograms,
            kind: "url",
            startedAt: startedAt,
            stoppedBy: watcher.stoppedBy
        )
    }

    /// Opens `--out` before any load is sent, so that a bad path costs nothing.
    func openSamples() throws -> SampleFile? {
        guard let out else { return nil }
        do {
            return try SampleFile(path: out)
        } catch {
            throw CLIError(message: error.message, hint: error.hint, code: .usage)
        }
    }

    /// Prints the summary (human and JSON), saves the run unless `--no-save`, and maps the
    /// outcome to the exit code.
    func finish(_ outcome: Outcome, humanFD: Int32, baseline base: StoredRun? = nil) throws {
        let summary = outcome.summary
        let human = SummaryRenderer(style: Style(enabled: Terminal.colorEnabled(fd: humanFD))).render(summary)
        if json {
            Terminal.writeError("\n" + human)
            Terminal.writeOut(try JSONReport.encode(summary))
        } else {
            Terminal.writeOut("\n" + human)
        }
        for result in summary.probes ?? [] {
            let text = ProbeSummary.lines(result, loaded: summary.loadedSpan).joined(separator: "\n") + "\n"
            if json { Terminal.writeError(text) } else { Terminal.writeOut(text) }
        }
        let diagnosis = DiagnosisRenderer(style: Style(enabled: Terminal.colorEnabled(fd: humanFD))).render(summary)
        if !diagnosis.isEmpty {
            if json { Terminal.writeError("\n" + diagnosis) } else { Terminal.writeOut("\n" + diagnosis) }
        }
        let exit = Self.exitCode(summary, stoppedBy: outcome.stoppedBy)
        var record = HistorySaver.record(
            summary,
            kind: outcome.kind,
            label: label,
            startedAt: outcome.startedAt,
            exitCode: exit
        )
        record.samplesPath = outcome.samplesPath.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if outcome.kind == "plan" {
            record.planSource = (try? String(contentsOfFile: url, encoding: .utf8)).map {
                Redaction.replacing(outcome.planSecrets, in: $0)
            }
        }
        if !noSave, let id = HistorySaver.save(record, histograms: outcome.histograms) { record.id = id }
        let stored = StoredRun(record: record, histograms: outcome.histograms)
        if let html { try HTMLWriter.write(stored, to: html) }
        if let base {
            let comparison = CompareCommand.comparePair(
                base.record.summary,
                summary,
                histogramsA: base.histograms,
                histogramsB: outcome.histograms
            )
            let text = ComparisonRenderer(style: Style(enabled: Terminal.colorEnabled(fd: humanFD)))
                .render(
                    comparison,
                    a: CompareCommand.name(base.record),
                    b: record.id != nil ? CompareCommand.name(record) : "this run"
                )
            if json { Terminal.writeError("\n" + text) } else { Terminal.writeOut("\n" + text) }
        }
        if exit != .success { throw ExitCode(exit.rawValue) }
    }

    /// The run's exit code: the stopping signal's first (130, 143 or 129), then 1, then 99.
    static func exitCode(_ summary: RunSummary, stoppedBy: StopSignal?) -> VolleyExit {
        if let stoppedBy { return stoppedBy.exit }
        if summary.interrupted { return .interrupted }
        if summary.completed == 0 { return .failure }
        if summary.thresholds?.contains(where: { !$0.passed }) == true { return .thresholdsFailed }
        return .success
    }

    static func expectations(_ model: LoadModel) -> (requests: Int?, seconds: Double?) {
        switch model {
        case .closed(_, let limit):
            return (limit.requestCount, limit.duration?.seconds)
        case .open(let schedule, _, _):
            return (nil, schedule.totalDuration.seconds)
        }
    }
}
