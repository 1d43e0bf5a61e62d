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

    @Option(name: [.customShort("X"), .customLong("method")], help: "HTTP method (as curl's -X).")
    var method: String = "GET"

    // MARK: Protocol

    @Flag(help: "HTTP/2 over TLS, negotiated with ALPN (h2); an https:// URL.")
    var http2 = false

    @Flag(help: "HTTP/2 over cleartext TCP with prior knowledge (h2c); an http:// URL.")
    var h2c = false

    @Option(
        name: [.customShort("m"), .customLong("streams")],
        parsing: .unconditional,
        help:
            "HTTP/2: requests in flight per connection (as h2load's -m), at most what the server allows. Default 1."
    )
    var streams: String?

    @Flag(
        help:
            "With --http2: offer h2 then http/1.1 in ALPN, and speak HTTP/1.1 on connections the server answers so (counted), instead of failing them."
    )
    var http1Fallback = false

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

    @Option(
        parsing: .unconditional,
        help:
            "Follow up to N redirects (301/302/303/307/308) per request, as one request: its latency runs to the final response. Default 0: a 3xx is the response."
    )
    var follow: Int = 0

    @Flag(help: "Accept any TLS certificate (self-signed test servers).")
    var insecure = false

    @Option(
        help:
            "Run segment INDEX/COUNT of a run split over COUNT machines (0-based): its share of the connections, arrivals, VUs, iterations and feed rows, the union of all segments being the whole run. Default: JOB_COMPLETION_INDEX/VOLLEY_SEGMENTS when set, else the whole run."
    )
    var segment: String?

    @Option(
        help:
            "Write this segment's result bundle (every histogram and counter, for `volley merge`) to this file."
    )
    var bundle: String?

    @Option(
        help:
            "Coordinate the segments through segment 0 at HOST:PORT: one start time, one setup, aborts relayed, and segment 0 merges every segment's results. Segment 0 listens on PORT."
    )
    var rendezvous: String?

    @Option(
        parsing: .unconditional,
        help: "With --rendezvous: how long segments wait for each other (at the start, and for the results at the end)."
    )
    var barrierTimeout: String = "2m"

    @Option(
        help:
            "Start at this time instead of now (2026-12-06T17:00:00Z, +10s, or Unix seconds): segments started separately begin together."
    )
    var startAt: String?

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
        do {
            return try makeRequest().configuration()
        } catch let error as RunRequestError {
            throw error.naming(RunRequestError.runFlag)
        }
    }

    /// The flags as a typed request (URL target): text is parsed here, with this command's
    /// flag names; what the values mean together is checked by the request.
    func makeRequest() throws -> RunRequest {
        let target = try TargetURL(parsing: url)
        var parsedHeaders: [HTTPHeader] = []
        for h in headers { parsedHeaders.append(try Self.naming("-H/--header", { try HTTPHeader(parsing: h) })) }
        if body != nil && bodyFile != nil {
            throw InputError("--body and --body-file both given", hint: "use one of them")
        }
        var request = RunRequest(url: target, load: try makeLoad())
        try fillCommon(&request)
        request.method = method
        request.headers = parsedHeaders
        if let body { request.body = Array(body.utf8) }
        if let bodyFile { request.body = try Self.readFile(bodyFile) }
        request.keepAlive = !noKeepalive
        request.follow = follow
        try fillProtocol(&request)
        return request
    }

    /// `--http2`, `--h2c`, `-m/--streams`, `--http1-fallback`. `-m` was the method before
    /// HTTP/2 (hey's meaning); it is h2load's streams now, so a method given to it is named.
    func fillProtocol(_ request: inout RunRequest) throws {
        if http2 && h2c {
            throw InputError("--http2 and --h2c both given", hint: "--http2 for https:// (ALPN), --h2c for http://")
        }
        request.http = http2 ? .http2 : (h2c ? .h2c : .http1)
        request.http1Fallback = http1Fallback
        guard let streams else { return }
        guard let n = Int(streams.trimmingCharacters(in: .whitespaces)) else {
            let looksLikeMethod = !streams.isEmpty && streams.allSatisfy { $0.isLetter }
            throw InputError(
                "-m/--streams takes the number of requests in flight per HTTP/2 connection, got \"\(streams)\"",
                hint: looksLikeMethod
                    ? "the method is -X/--method (as curl): -X \(streams.uppercased())" : "e.g. --h2c -m 10"
            )
        }
        request.streams = n
    }

    /// The settings a URL and a plan target share: timeouts, threads, TLS, request ids.
    func fillCommon(_ request: inout RunRequest) throws {
        request.requestIDHeader = noRequestId ? nil : requestIdHeader
        request.requestTimeout = try Self.positiveDuration(timeout, flag: "--timeout")
        request.connectTimeout = try Self.positiveDuration(connectTimeout, flag: "--connect-timeout")
        request.grace = try Self.positiveDuration(grace, flag: "--grace")
        request.insecure = insecure
        request.threads = threads
        request.slowest = slowest
        if let segment {
            request.segment = try Self.naming("--segment") { try ExecutionSegment(parsing: segment) }
        } else if let fromJob = try Self.naming(
            "the environment",
            {
                try ExecutionSegment.fromEnvironment(ProcessInfo.processInfo.environment)
            }
        ) {
            request.segment = fromJob
        }
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

    /// The load flags as a load model; conflicts between flags are this command's to name.
    func makeLoad() throws -> RunRequest.Load {
        let parsedDuration = try duration.map { try Self.positiveDuration($0, flag: "-d/--duration") }
        if let rate, rate.trimmingCharacters(in: .whitespaces).hasPrefix("-") {
            throw InputError("--rate must be a positive rate, got \(rate)", hint: "e.g. --rate 100/s")
        }
        // Refused in either model, as before the request existed (the open model's request
        // checks it too).
        guard maxConnections <= 1_000_000 else {
            throw InputError(
                "--max-connections \(maxConnections) is more than one process holds (1,000,000)",
                hint: "split the load over several machines"
            )
        }
        guard rate != nil || stages != nil else {
            return .closed(connections: connections ?? 50, requests: requests, duration: parsedDuration)
        }
        if rate != nil && stages != nil {
            throw InputError("--rate and --stages both given", hint: "--stages already sets the rate over time")
        }
        let arrivals: RunRequest.Arrivals
        if let stages {
            if parsedDuration != nil || requests != nil {
                throw InputError("--stages sets the duration itself", hint: "drop -d and -n when using --stages")
            }
            arrivals = .stages(try RateStage.parseList(stages))
        } else {
            arrivals = .rate(try RateText.parse(rate!), requests: requests, duration: parsedDuration)
        }
        return .open(arrivals, maxConnections: maxConnections, preconnect: connections)
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
        /// The recorders behind the summary, for `--bundle`.
        var results: EngineResults? = nil
        /// A plan's thresholds, for `--bundle` (the merge judges them on the whole run).
        var thresholds: [Threshold] = []
        var kind: String
        var startedAt: Date
        /// The signal that stopped the run early, if one did.
        var stoppedBy: StopSignal?
        /// A segment whose results segment 0 merged and judged: its own share's thresholds do
        /// not decide its exit code (the merged run's do, on segment 0).
        var judgedBySegment0 = false
        /// Why a distributed run failed although this process ran (a segment was lost).
        var failure: String? = nil
        /// Credentials written in the plan's text, masked in the copy the history keeps.
        var planSecrets: Set<String> = []

        var interrupted: Bool { stoppedBy != nil || summary.interrupted }
    }

    func run() async throws {
        // The baseline is found before the run: a bad reference must not cost a load test,
        // and `--baseline last` means the last run before this one.
        let base = try baseline.map { try loadRun($0, from: HistorySaver.open()) }
        let outcome = try await perform()
        if let bundle, rendezvous == nil { try writeBundle(outcome, to: bundle) }
        try finish(outcome, humanFD: json ? STDERR_FILENO : STDOUT_FILENO, baseline: base)
    }

    /// Runs the load (URL or plan) with live progress; experiments build their own
    /// ``RunJob`` and call ``LoadRunner`` directly.
    func perform(watcher shared: InterruptWatcher? = nil) async throws -> Outcome {
        if Self.isPlanPath(url) { return try await performPlan(watcher: shared) }
        var job = try RunJob(request: makeRequest(), probing: probing)
        try distribute(&job)
        job.quiet = quiet
        job.samplesPath = out
        try job.validate()
        try checkOutputPaths()
        return try await LoadRunner.perform(job, watcher: shared)
    }

    /// Prints the summary (human and JSON), saves the run unless `--no-save`, and maps the
    /// outcome to the exit code.
    func finish(_ outcome: Outcome, humanFD: Int32, baseline base: StoredRun? = nil) throws {
        var output = ResultOutput(json: json, label: label, noSave: noSave, html: html)
        if outcome.kind == "plan" {
            output.planSource = (try? String(contentsOfFile: url, encoding: .utf8)).map {
                Redaction.replacing(outcome.planSecrets, in: $0)
            }
        }
        try output.present(outcome, humanFD: humanFD, baseline: base)
    }

    /// The run's exit code: the stopping signal's first (130, 143 or 129), then 1, then 99.
    static func exitCode(
        _ summary: RunSummary,
        stoppedBy: StopSignal?,
        judgesThresholds: Bool = true,
        failure: String? = nil
    ) -> VolleyExit {
        if let stoppedBy { return stoppedBy.exit }
        // A distributed run with a segment lost or missing is not the run that was asked for
        // (and the others were stopped because of it: not an interruption).
        if failure != nil || summary.distributed?.missing.isEmpty == false { return .failure }
        if summary.interrupted { return .interrupted }
        if summary.completed == 0 { return .failure }
        if judgesThresholds && summary.thresholds?.contains(where: { !$0.passed }) == true { return .thresholdsFailed }
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
