/// Where a value came from in a plan file, so every problem can be reported as
/// `file:line:column`. Plans built in Swift have no location.
public struct SourceLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    /// 1-based.
    public var line: Int
    /// 1-based.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A load test as a value: what `volley run plan.yaml` runs and what the Swift API builds.
///
/// The YAML loader (VolleyPlan) and the Swift initialisers produce the same values, so the
/// engine never knows where a plan came from.
public struct Plan: Equatable, Sendable {
    public var name: String
    /// Prefix for relative request paths (`/api/v1/todos`).
    public var baseURL: String?
    public var defaults: PlanDefaults
    /// Plan-level variables, visible to every step as `${name}`.
    public var variables: [String: Template]
    public var feeds: [DataFeed]
    /// Run once before the load; their captures are visible to every VU.
    public var setup: [Step]
    /// Run once after the load.
    public var teardown: [Step]
    /// Run concurrently, each from its start offset.
    public var scenarios: [Scenario]
    public var thresholds: [Threshold]
    /// The server side to sample during the run, declared with the load that exercises it,
    /// so a plan's probe thresholds travel with the probes they need.
    public var probes: [PlanProbe]

    public init(
        name: String,
        baseURL: String? = nil,
        defaults: PlanDefaults = PlanDefaults(),
        variables: [String: Template] = [:],
        feeds: [DataFeed] = [],
        setup: [Step] = [],
        teardown: [Step] = [],
        scenarios: [Scenario],
        thresholds: [Threshold] = [],
        probes: [PlanProbe] = []
    ) {
        self.name = name
        self.baseURL = baseURL
        self.defaults = defaults
        self.variables = variables
        self.feeds = feeds
        self.setup = setup
        self.teardown = teardown
        self.scenarios = scenarios
        self.thresholds = thresholds
        self.probes = probes
    }
}

/// A probe a plan declares: the same text as `--probe`, with the options that belong to it.
public struct PlanProbe: Equatable, Sendable {
    /// `http://host/metrics`, `postgres://…`, `redis://…`, `pid:N`, `name:PROCESS`, `cgroup:…`.
    public var spec: String
    /// Redis lists whose length is sampled (a `redis://` probe's `queues:`).
    public var queues: [String]
    /// Prometheus series kept (`series:`, `*` wildcards); empty keeps all.
    public var series: [String]
    /// Where the plan declares it, for errors found when the probe is made.
    public var location: SourceLocation?

    public init(_ spec: String, queues: [String] = [], series: [String] = [], location: SourceLocation? = nil) {
        self.spec = spec
        self.queues = queues
        self.series = series
        self.location = location
    }
}

extension Plan {
    /// The longest a plan's scenarios can run (start offset plus duration, stages or
    /// max_duration); iteration-bound executors may finish sooner. For progress bars.
    public var plannedDuration: Duration {
        scenarios.map { s -> Duration in
            let d: Duration
            switch s.executor {
            case .constantVUs(_, let duration), .constantArrivalRate(_, let duration, _, _):
                d = duration
            case .rampingVUs(_, let stages, _):
                d = stages.reduce(.zero) { $0 + $1.duration }
            case .rampingArrivalRate(let stages, _, _):
                d = stages.reduce(.zero) { $0 + $1.duration }
            case .sharedIterations(_, _, let max), .perVUIterations(_, _, let max):
                d = max
            }
            return s.startAfter + d
        }.max() ?? .zero
    }
}

/// Settings every request inherits unless it says otherwise.
public struct PlanDefaults: Equatable, Sendable {
    public var headers: [TemplatedHeader]
    public var timeout: Duration
    /// Redirects followed before a response counts as final (0: none).
    public var maxRedirects: Int
    /// One cookie jar per VU, as browsers (and k6) keep.
    public var cookies: Bool
    /// Ask for compressed bodies (`Accept-Encoding: gzip, deflate, br`), as browsers and k6
    /// do; checks and captures read them decoded. A request's own `Accept-Encoding` wins.
    public var compression: Bool
    /// Which HTTP requests speak unless a step says otherwise (`http: 1.1 | 2 | h2c`): a
    /// service reached over HTTP/2 behind its load balancer is measured over HTTP/2.
    public var http: HTTPProtocolChoice
    /// `http1_fallback: true`: requests with `http: 2` offer h2 then http/1.1 in ALPN, and a
    /// connection whose server answers HTTP/1.1 speaks it (counted) instead of failing, as
    /// `volley run --http1-fallback` and as k6 (whose HTTP/2 is whatever ALPN gives).
    public var http1Fallback: Bool

    public init(
        headers: [TemplatedHeader] = [],
        timeout: Duration = .seconds(30),
        maxRedirects: Int = 10,
        cookies: Bool = true,
        compression: Bool = true,
        http: HTTPProtocolChoice = .http1,
        http1Fallback: Bool = false
    ) {
        self.headers = headers
        self.timeout = timeout
        self.maxRedirects = maxRedirects
        self.cookies = cookies
        self.compression = compression
        self.http = http
        self.http1Fallback = http1Fallback
    }
}

/// A named group of virtual users running the same steps under one executor.
public struct Scenario: Equatable, Sendable {
    public var name: String
    public var executor: Executor
    /// Delay from the start of the run before this scenario begins.
    public var startAfter: Duration
    public var steps: [Step]
    public var location: SourceLocation?

    public init(
        name: String,
        executor: Executor,
        startAfter: Duration = .zero,
        steps: [Step],
        location: SourceLocation? = nil
    ) {
        self.name = name
        self.executor = executor
        self.startAfter = startAfter
        self.steps = steps
        self.location = location
    }
}

/// How a scenario schedules its iterations, with k6's semantics and names.
public enum Executor: Equatable, Sendable {
    /// `vus` VUs loop over the steps for `duration`.
    case constantVUs(vus: Int, duration: Duration)
    /// The number of looping VUs follows `stages` (linear between targets). VUs removed
    /// by a ramp-down finish their iteration within `gracefulRampDown`.
    case rampingVUs(startVUs: Int, stages: [VUStage], gracefulRampDown: Duration)
    /// `iterations` in total, shared by `vus` VUs, within `maxDuration`.
    case sharedIterations(vus: Int, iterations: Int, maxDuration: Duration)
    /// Each of `vus` VUs runs `iterations`, within `maxDuration`.
    case perVUIterations(vus: Int, iterations: Int, maxDuration: Duration)
    /// Iterations start at `rate` per second for `duration`, each on a free VU; an
    /// iteration that finds none (all `maxVUs` busy) is counted as dropped.
    case constantArrivalRate(rate: Double, duration: Duration, preAllocatedVUs: Int, maxVUs: Int)
    /// Like constant-arrival-rate with a ramping rate.
    case rampingArrivalRate(stages: [RateStage], preAllocatedVUs: Int, maxVUs: Int)

    /// k6's name for the executor, used in files, summaries and errors.
    public var kind: String {
        switch self {
        case .constantVUs: return "constant-vus"
        case .rampingVUs: return "ramping-vus"
        case .sharedIterations: return "shared-iterations"
        case .perVUIterations: return "per-vu-iterations"
        case .constantArrivalRate: return "constant-arrival-rate"
        case .rampingArrivalRate: return "ramping-arrival-rate"
        }
    }

    public static let kinds = [
        "constant-vus", "ramping-vus", "shared-iterations", "per-vu-iterations", "constant-arrival-rate",
        "ramping-arrival-rate",
    ]
}

/// A ramping-vus stage: move linearly to `target` VUs over `duration`.
public struct VUStage: Equatable, Sendable {
    public var duration: Duration
    public var target: Int

    public init(duration: Duration, target: Int) {
        self.duration = duration
        self.target = target
    }
}

/// The rows of a data feed, read and checked when the plan is loaded (not during the run).
public struct FeedTable: Equatable, Sendable {
    public var columns: [String]
    /// Each row has one value per column, in column order.
    public var rows: [[String]]

    public init(columns: [String], rows: [[String]]) {
        self.columns = columns
        self.rows = rows
    }

    /// The row as a dictionary, for templating.
    public func row(_ index: Int) -> [String: String] {
        var out: [String: String] = [:]
        for (c, v) in zip(columns, rows[index]) { out[c] = v }
        return out
    }
}

/// Keeps credentials out of output: probe addresses and URLs are shown, their passwords never.
public enum Redaction {
    /// `scheme://user:password@host…` → `scheme://***@host…`; other text unchanged.
    public static func credentials(in text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else {
            return text
        }
        let userinfo = text[scheme.upperBound..<at]
        guard !userinfo.contains("/") else { return text }
        return String(text[..<scheme.upperBound]) + "***" + String(text[at...])
    }
}
