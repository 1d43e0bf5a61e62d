/// One thing a VU does in an iteration.
public indirect enum Step: Equatable, Sendable {
    case request(RequestStep)
    /// Pause; part of the journey, never counted in latency.
    case think(ThinkTime)
    /// Named steps whose total time is reported as one figure (k6's `group`).
    case group(name: String, steps: [Step], location: SourceLocation?)
}

/// A pause: fixed, or uniformly random between two bounds.
public struct ThinkTime: Equatable, Sendable {
    public var minimum: Duration
    public var maximum: Duration
    public var location: SourceLocation?

    public init(minimum: Duration, maximum: Duration, location: SourceLocation? = nil) {
        self.minimum = minimum
        self.maximum = maximum
        self.location = location
    }

    public init(_ fixed: Duration, location: SourceLocation? = nil) {
        self.init(minimum: fixed, maximum: fixed, location: location)
    }
}

/// An HTTP request with its checks and captures.
public struct RequestStep: Equatable, Sendable {
    /// The name requests are grouped by in the summary (`GET /todos/{id}`); defaults to
    /// the method and the path as written, before templating.
    public var name: String
    public var method: String
    /// A path (joined to the plan's base URL) or a full URL; may contain `${...}`.
    public var url: Template
    public var query: [(name: String, value: Template)]
    public var headers: [TemplatedHeader]
    public var body: RequestBody?
    public var timeout: Duration?
    public var checks: [Check]
    public var captures: [Capture]
    /// This request's HTTP (`http:` on the step); nil: the plan's default.
    public var http: HTTPProtocolChoice?
    public var location: SourceLocation?

    public init(
        name: String? = nil,
        method: String,
        url: Template,
        query: [(name: String, value: Template)] = [],
        headers: [TemplatedHeader] = [],
        body: RequestBody? = nil,
        timeout: Duration? = nil,
        checks: [Check] = [],
        captures: [Capture] = [],
        http: HTTPProtocolChoice? = nil,
        location: SourceLocation? = nil
    ) {
        self.name = name ?? "\(method) \(url.source)"
        self.method = method
        self.url = url
        self.query = query
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.checks = checks
        self.captures = captures
        self.http = http
        self.location = location
    }

    public static func == (a: RequestStep, b: RequestStep) -> Bool {
        a.name == b.name && a.method == b.method && a.url == b.url
            && a.query.map(\.name) == b.query.map(\.name) && a.query.map(\.value) == b.query.map(\.value)
            && a.headers == b.headers && a.body == b.body && a.timeout == b.timeout && a.checks == b.checks
            && a.captures == b.captures && a.http == b.http && a.location == b.location
    }
}

/// A header whose value may contain `${...}`.
public struct TemplatedHeader: Equatable, Sendable {
    public var name: String
    public var value: Template

    public init(name: String, value: Template) {
        self.name = name
        self.value = value
    }
}

/// A request body.
public enum RequestBody: Equatable, Sendable {
    /// JSON, with templates allowed in string values; sent as application/json.
    case json(JSONTemplate)
    /// URL-encoded form fields.
    case form([TemplatedHeader])
    /// Raw text with templates, sent as is.
    case raw(Template, contentType: String?)
    /// The bytes of a file, read once when the plan is loaded.
    case file(path: String, contentType: String?)
}

/// A JSON value whose strings may be templates.
public indirect enum JSONTemplate: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(Template)
    case array([JSONTemplate])
    case object([(key: String, value: JSONTemplate)])

    public static func == (a: JSONTemplate, b: JSONTemplate) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.map(\.key) == y.map(\.key) && x.map(\.value) == y.map(\.value)
        default: return false
        }
    }
}

/// An assertion on a response. Failures are counted per check; the VU goes on unless
/// `abortOnFail` says to end its iteration.
public struct Check: Equatable, Sendable {
    public enum Condition: Equatable, Sendable {
        case status([Int])
        case headerEquals(name: String, value: String)
        case headerContains(name: String, value: String)
        case headerExists(name: String)
        case bodyContains(String)
        case bodyMatches(regex: String)
        case jsonPathEquals(path: String, value: JSONTemplate)
        case jsonPathExists(path: String)
        case latencyBelow(Duration)
    }

    public var condition: Condition
    /// How the check is listed in the summary (`status is 201`).
    public var name: String
    public var abortOnFail: Bool
    public var location: SourceLocation?

    public init(_ condition: Condition, name: String? = nil, abortOnFail: Bool = false, location: SourceLocation? = nil)
    {
        self.condition = condition
        self.name = name ?? Self.defaultName(condition)
        self.abortOnFail = abortOnFail
        self.location = location
    }

    static func defaultName(_ c: Condition) -> String {
        switch c {
        case .status(let codes): return "status is " + codes.map(String.init).joined(separator: " or ")
        case .headerEquals(let n, let v): return "header \(n) is \(v)"
        case .headerContains(let n, let v): return "header \(n) contains \(v)"
        case .headerExists(let n): return "header \(n) exists"
        case .bodyContains(let s): return "body contains \(s)"
        case .bodyMatches(let r): return "body matches /\(r)/"
        case .jsonPathEquals(let p, _): return "\(p) equals expected"
        case .jsonPathExists(let p): return "\(p) exists"
        case .latencyBelow(let d): return "latency below \(d)"
        }
    }
}

/// A value taken from a response into a VU variable, `${name}` in later steps.
///
/// A capture that finds nothing is an error against its step, and a later step that
/// needs the variable is skipped and counted — never sent with an empty or "undefined"
/// value (the k6 mistake behind `DELETE /todos/undefined`).
public struct Capture: Equatable, Sendable {
    public enum Source: Equatable, Sendable {
        case jsonPath(String)
        case regex(String, group: Int)
        case header(String)
    }

    public var name: String
    public var source: Source
    public var location: SourceLocation?

    public init(name: String, source: Source, location: SourceLocation? = nil) {
        self.name = name
        self.source = source
        self.location = location
    }
}

/// Rows of data that steps draw from as `${feed.column}`.
public struct DataFeed: Equatable, Sendable {
    public enum Format: String, Equatable, Sendable {
        /// A header row, then one row per line.
        case csv
        /// An array of objects.
        case json
    }

    public enum Order: Equatable, Sendable {
        case sequential
        case random
        /// Each row once across all VUs; when exhausted, stop the scenario or start over.
        case unique(recycle: Bool)
    }

    public var name: String
    public var path: String
    public var format: Format
    public var order: Order
    public var location: SourceLocation?

    public init(name: String, path: String, format: Format, order: Order = .sequential, location: SourceLocation? = nil)
    {
        self.name = name
        self.path = path
        self.format = format
        self.order = order
        self.location = location
    }
}

/// A pass/fail criterion on the run's results (k6 thresholds); exit code 99 when any fails.
public struct Threshold: Equatable, Sendable {
    public enum Metric: Equatable, Sendable, Codable {
        /// A latency percentile in milliseconds, e.g. `p(95)`.
        case latencyPercentile(Double)
        case latencyMean
        case latencyMax
        /// Failed requests plus status >= 400, as a fraction.
        case errorRate
        /// Passed checks as a fraction of all checks.
        case checkPassRate
        case rps
        /// A probe series (`pg.connections.active`, `max(lab_db_pool_waiting)`), reduced over
        /// the run's samples; judged when the probes stop, and once a second on the readings
        /// so far when it may abort the run (`volley run` does that, beside the engine).
        case probe(series: String, reduce: ProbeReduction)
        /// One phase of the requests' time in milliseconds (`p(95) of ttfb`, `avg of tls`),
        /// read from the phase's own histogram.
        case phase(Phase, PhaseStatistic)
    }

    /// How a phase's histogram becomes one number, as the latency metrics do.
    public enum PhaseStatistic: Equatable, Sendable, Codable {
        case percentile(Double)
        case mean
        case max
    }

    /// How a probe series becomes one number: a limit should hold at every sample (max).
    public enum ProbeReduction: String, Equatable, Sendable, Codable {
        case max, min, avg, last
    }

    public enum Comparison: String, Equatable, Sendable, Codable {
        case lessThan = "<"
        case lessOrEqual = "<="
        case greaterThan = ">"
        case greaterOrEqual = ">="
    }

    public var metric: Metric
    public var comparison: Comparison
    /// Milliseconds for latency, a fraction for rates, requests per second for rps.
    public var value: Double
    /// Restrict to one request name; nil for the whole run.
    public var requestName: String?
    /// Stop the run as soon as the threshold fails.
    public var abortOnFail: Bool
    /// The expression as written, for the summary (`p(95) < 500ms`).
    public var expression: String
    public var location: SourceLocation?

    public init(
        metric: Metric,
        comparison: Comparison,
        value: Double,
        requestName: String? = nil,
        abortOnFail: Bool = false,
        expression: String,
        location: SourceLocation? = nil
    ) {
        self.metric = metric
        self.comparison = comparison
        self.value = value
        self.requestName = requestName
        self.abortOnFail = abortOnFail
        self.expression = expression
        self.location = location
    }
}
