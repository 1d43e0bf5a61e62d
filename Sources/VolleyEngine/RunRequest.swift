import Foundation
import NIOCore
import VolleyCore

/// One load test as typed values: what `volley run` and every experiment (`ab`, `sweep`,
/// `find-max`, `time`) build directly from their own flags, so that no command writes a
/// command line for another to re-parse and a mistake is reported in the user's own terms.
///
/// Text is parsed by the command (durations, rates, headers), with its own flag names; the
/// request checks what the values mean together (a load that sends nothing, pre-opened
/// connections beyond the cap) and says which ``Field`` is wrong, and the command names it.
public struct RunRequest: Sendable {
    /// A part of the request an error can point at; each command maps it to its own flag
    /// (`connections` is `-c` in `run` and `--concurrency level 4` in `sweep`).
    public enum Field: String, Sendable, CaseIterable {
        case target, connections, requests, duration, rate, maxConnections, preconnect
        case threads, method, requestTimeout, connectTimeout, grace, slowest, requestIDHeader, follow
        case http, streams, http1Fallback
    }

    /// What is sent to a URL target: a fixed number of connections, or arrivals on a clock.
    public enum Load: Equatable, Sendable {
        /// Closed model: `connections` send back-to-back until `requests` were sent or
        /// `duration` passed (whichever comes first; neither given: 10 s).
        case closed(connections: Int, requests: Int? = nil, duration: Duration? = nil)
        /// Open model: arrivals on a schedule, at most `maxConnections` open, `preconnect`
        /// opened before time zero (nil: one per 1,000 req/s of peak rate).
        case open(Arrivals, maxConnections: Int = 1024, preconnect: Int? = nil)
    }

    /// The open model's schedule.
    public enum Arrivals: Equatable, Sendable {
        /// A constant rate (per second) for `duration`, or for as long as `requests` take
        /// at that rate (neither given: 10 s).
        case rate(Double, requests: Int? = nil, duration: Duration? = nil)
        /// A rate ramped over stages; the stages set the duration.
        case stages([RateStage])
    }

    /// What the load is sent to.
    public enum Target: Sendable {
        /// One URL, with ``load`` and the request fields below.
        case url(TargetURL)
        /// A plan (scenarios carry their own load and requests; ``load``, ``method``,
        /// ``headers`` and ``body`` do not apply). `files` holds each `body_file`'s bytes.
        case plan(Plan, feeds: [String: FeedTable] = [:], files: [String: [UInt8]] = [:])
    }

    /// Where the load goes: a URL, or a plan.
    public var target: Target
    /// How much is sent and when (URL targets).
    public var load: Load
    /// The HTTP method, any case (sent upper-cased).
    public var method: String = "GET"
    /// Extra request headers, already parsed by the command (which names its own flag).
    public var headers: [HTTPHeader] = []
    /// The request body, if any.
    public var body: [UInt8]?
    /// The header that carries each request's id; nil sends none.
    public var requestIDHeader: String? = "X-Request-ID"
    /// False sends `Connection: close` and opens a connection per request.
    public var keepAlive = true
    /// Redirect hops a request may follow before its 3xx counts as final (0: none, like wrk
    /// and hey). A request and its hops are one request: one latency, the final status.
    public var follow = 0
    /// HTTP/1.1, HTTP/2 over TLS (ALPN) or h2c.
    public var http: HTTPProtocolChoice = .http1
    /// HTTP/2: requests in flight per connection (h2load's `-m`), at most what the server's
    /// SETTINGS_MAX_CONCURRENT_STREAMS allows.
    public var streams = 1
    /// `--http1-fallback`: with HTTP/2 over TLS, ALPN offers h2 and then http/1.1, and a
    /// connection the server answers with HTTP/1.1 (or no ALPN) carries HTTP/1.1 requests,
    /// counted apart (``RunSummary/protocols``) instead of failing. Off by default: a load
    /// test must not silently measure the other protocol.
    public var http1Fallback = false
    /// This machine's share of a run split over several (`--segment i/N`, or a Kubernetes
    /// Indexed Job's `JOB_COMPLETION_INDEX` of `VOLLEY_SEGMENTS`); `.whole` on one machine.
    public var segment: ExecutionSegment = .whole
    /// Per-request timeout, counted from the write.
    public var requestTimeout: Duration = .seconds(30)
    /// TCP (and TLS) set-up timeout.
    public var connectTimeout: Duration = .seconds(10)
    /// After the duration, how long requests in flight may still finish.
    public var grace: Duration = .seconds(5)
    /// After an interrupt (Ctrl-C, or a demo's stop), how long requests in flight may finish.
    public var interruptGrace: Duration = .seconds(2)
    /// Accept any TLS certificate (self-signed test servers).
    public var insecure = false
    /// Event loops; nil: one per core.
    public var threads: Int?
    /// How many of the slowest requests to list.
    public var slowest = 10

    public init(target: Target, load: Load = .closed(connections: 50)) {
        self.target = target
        self.load = load
    }

    /// A URL target with `load`.
    public init(url: TargetURL, load: Load) {
        self.init(target: .url(url), load: load)
    }

    /// Whether the target is a plan (whose scenarios set the load).
    public var isPlan: Bool {
        if case .plan = target { return true }
        return false
    }

    /// Checks the settings every target shares (threads, slowest, request id header).
    public func validateCommon() throws(RunRequestError) {
        if let threads, threads < 1 || threads > 256 {
            throw RunRequestError(
                [.threads],
                "{threads} must be between 1 and 256, got \(threads)",
                hint: "default: one per core"
            )
        }
        guard slowest >= 0 && slowest <= 1000 else {
            throw RunRequestError([.slowest], "{slowest} must be between 0 and 1000, got \(slowest)", hint: "e.g. 10")
        }
        if let h = requestIDHeader, !h.isEmpty {
            do {
                _ = try HTTPHeader(parsing: h + ": x")
            } catch let error as InputError {
                throw RunRequestError([.requestIDHeader], "{requestIDHeader}: \(error.message)", hint: error.hint)
            } catch {
                throw RunRequestError([.requestIDHeader], "{requestIDHeader}: \(error)", hint: nil)
            }
        }
        for (field, value) in [
            (Field.requestTimeout, requestTimeout), (.connectTimeout, connectTimeout), (.grace, grace),
        ]
        where value <= .zero {
            throw RunRequestError([field], "{\(field.rawValue)} must be above zero", hint: "e.g. 30s")
        }
    }

    /// The engine's configuration for a URL target; every mistake names its ``Field``.
    public func configuration() throws(RunRequestError) -> RunConfiguration {
        guard case .url(let url) = target else {
            throw RunRequestError([.target], "{target} is a plan: its scenarios set the load", hint: nil)
        }
        try validateCommon()
        let methodName = method.uppercased()
        guard !methodName.isEmpty, methodName.allSatisfy({ $0.isLetter || $0 == "-" || $0 == "_" }) else {
            throw RunRequestError(
                [.method],
                "{method}: invalid method \"\(method)\"",
                hint: "e.g. GET, POST, PUT, DELETE"
            )
        }
        let spec = RequestSpec(
            method: methodName,
            url: url,
            headers: headers,
            body: body,
            requestIDHeader: requestIDHeader?.isEmpty == false ? requestIDHeader : nil,
            keepAlive: keepAlive
        )
        var config = RunConfiguration(
            request: spec,
            model: try model(),
            requestTimeout: requestTimeout,
            connectTimeout: connectTimeout,
            insecure: insecure,
            interruptGrace: interruptGrace,
            slowestCount: slowest
        )
        guard (0...Self.maxFollow).contains(follow) else {
            throw RunRequestError(
                [.follow],
                "{follow} must be between 0 and \(Self.maxFollow) hops, got \(follow)",
                hint: "e.g. {follow} 5 (0, the default, does not follow redirects)"
            )
        }
        try checkProtocol(url)
        if let threads { config.threads = threads }
        config.http = http
        config.streams = streams
        config.http1Fallback = http1Fallback
        config.endGrace = grace
        config.followRedirects = follow
        config.segment = segment
        return config
    }

    /// The most streams a connection is asked to carry at once (servers allow 100–256).
    public static let maxStreams = 1000

    /// The protocol settings against the URL: HTTP/2 over TLS needs https, h2c plain http,
    /// streams need HTTP/2, and a connection per request contradicts multiplexing.
    func checkProtocol(_ url: TargetURL) throws(RunRequestError) {
        guard (1...Self.maxStreams).contains(streams) else {
            throw RunRequestError(
                [.streams],
                "{streams} must be between 1 and \(Self.maxStreams), got \(streams)",
                hint: "e.g. {streams} 10 (requests in flight per HTTP/2 connection)"
            )
        }
        switch http {
        case .http1:
            if streams > 1 {
                throw RunRequestError(
                    [.streams],
                    "{streams} \(streams) needs HTTP/2: an HTTP/1.1 connection carries one request at a time",
                    hint: "add --h2c (cleartext) or --http2 (TLS), or raise -c instead"
                )
            }
        case .http2:
            if !url.isTLS {
                throw RunRequestError(
                    [.http],
                    "{http} negotiates HTTP/2 with TLS (ALPN), and \(url.description) is plain http",
                    hint: "use --h2c for HTTP/2 over cleartext, or an https:// URL"
                )
            }
        case .h2c:
            if url.isTLS {
                throw RunRequestError(
                    [.http],
                    "{http} is HTTP/2 over cleartext, and \(url.description) is https",
                    hint: "use --http2 for HTTP/2 over TLS, or an http:// URL"
                )
            }
        }
        if http1Fallback && http != .http2 {
            throw RunRequestError(
                [.http1Fallback],
                "{http1Fallback} applies to HTTP/2 over TLS (--http2), where ALPN can choose HTTP/1.1",
                hint: http == .h2c
                    ? "h2c has no negotiation to fall back from: drop {http1Fallback}, or use --http2 with an https:// URL"
                    : "add --http2 (with an https:// URL), or drop {http1Fallback}"
            )
        }
        if http.isHTTP2 && !keepAlive {
            throw RunRequestError(
                [.http],
                "{http} multiplexes requests on long-lived connections; --no-keepalive asks for one per request",
                hint: "drop --no-keepalive, or use -m 1 with HTTP/1.1"
            )
        }
    }

    /// The most hops `follow` takes (curl's default limit is 50; no real chain is longer).
    public static let maxFollow = 100

    /// The load model of ``load``, checked.
    public func model() throws(RunRequestError) -> LoadModel {
        switch load {
        case .closed(let connections, let requests, let duration):
            guard connections >= 1 else {
                throw RunRequestError(
                    [.connections],
                    "{connections} must be a positive number of connections, got \(connections)",
                    hint: "e.g. {connections} 50"
                )
            }
            guard connections <= 1_000_000 else {
                throw RunRequestError(
                    [.connections],
                    "{connections} must be between 1 and 1,000,000, got \(connections)",
                    hint: "e.g. {connections} 50"
                )
            }
            try Self.check(requests: requests, duration: duration)
            let limit: ClosedLimit
            switch (requests, duration) {
            case (let n?, let d?): limit = .requestsOrDuration(n, d)
            case (let n?, nil): limit = .requests(n)
            case (nil, let d?): limit = .duration(d)
            case (nil, nil): limit = .duration(.seconds(10))
            }
            // Fewer requests than connections: no idle connections are opened.
            return .closed(connections: min(connections, requests ?? connections), limit: limit)
        case .open(let arrivals, let maxConnections, let preconnect):
            guard maxConnections >= 1 else {
                throw RunRequestError(
                    [.maxConnections],
                    "{maxConnections} must be a positive number of connections, got \(maxConnections)",
                    hint: "e.g. {maxConnections} 1000"
                )
            }
            guard maxConnections <= 1_000_000 else {
                throw RunRequestError(
                    [.maxConnections],
                    "{maxConnections} \(maxConnections) is more than one process holds (1,000,000)",
                    hint: "split the load over several machines"
                )
            }
            if let c = preconnect, c < 0 {
                throw RunRequestError(
                    [.preconnect],
                    "{preconnect} must be a positive number of connections, got \(c)",
                    hint: "e.g. {preconnect} 50"
                )
            }
            if let c = preconnect, c > maxConnections {
                throw RunRequestError(
                    [.preconnect, .maxConnections],
                    "{preconnect} \(c) is more than {maxConnections} \(maxConnections)",
                    hint: "in the open model {preconnect} only pre-opens connections; raise {maxConnections}"
                )
            }
            let schedule = try Self.schedule(arrivals)
            return .open(
                schedule: schedule,
                maxConnections: maxConnections,
                preconnect: preconnect ?? Self.defaultPreconnect(schedule, maxConnections: maxConnections)
            )
        }
    }

    private static func check(requests: Int?, duration: Duration?) throws(RunRequestError) {
        if let requests, requests < 1 {
            throw RunRequestError(
                [.requests],
                "{requests} must be a positive number of requests, got \(requests)",
                hint: "e.g. {requests} 1000, or use {duration} for a duration"
            )
        }
        if let duration, duration <= .zero {
            throw RunRequestError([.duration], "{duration} must be above zero", hint: "e.g. {duration} 30s")
        }
    }

    private static func schedule(_ arrivals: Arrivals) throws(RunRequestError) -> ArrivalSchedule {
        let schedule: ArrivalSchedule
        switch arrivals {
        case .stages(let stages):
            guard !stages.isEmpty else {
                throw RunRequestError([.rate], "{rate} has no stage", hint: "e.g. 10s:0->200,30s:200")
            }
            schedule = ArrivalSchedule(stages: stages)
        case .rate(let rate, let requests, let duration):
            guard rate > 0, rate.isFinite else {
                throw RunRequestError([.rate], "{rate} must be above zero", hint: "e.g. {rate} 100/s")
            }
            guard rate <= RateText.maximum else {
                throw RunRequestError(
                    [.rate],
                    "{rate} is more than 10,000,000 per second",
                    hint: "one process sends at most that; split the load over several machines"
                )
            }
            try check(requests: requests, duration: duration)
            let d: Duration
            if let requests {
                if duration != nil {
                    throw RunRequestError(
                        [.requests, .duration],
                        "{requests} and {duration} both given with {rate}",
                        hint: "with {rate}, {requests} sets the duration as n/rate"
                    )
                }
                d = .nanoseconds(Int64((Double(requests) / rate * 1e9).rounded()))
            } else {
                d = duration ?? .seconds(10)
            }
            schedule = ArrivalSchedule(rate: rate, duration: d)
        }
        guard schedule.scheduledCount > 0 else {
            throw RunRequestError(
                [.rate, .duration],
                "the schedule of {rate} sends no request in {duration}",
                hint: "raise {rate} or {duration}"
            )
        }
        return schedule
    }

    /// Open model without a pre-open count: one connection per 1,000 req/s of peak rate (at
    /// least one), so a fast schedule does not start by measuring Volley's own handshakes;
    /// more connections open on demand.
    public static func defaultPreconnect(_ schedule: ArrivalSchedule, maxConnections: Int) -> Int {
        let peak = schedule.stages.map { max($0.startRate, $0.endRate) }.max() ?? 0
        return min(maxConnections, max(1, Int((peak / 1000).rounded(.up))))
    }
}

/// A mistake in a ``RunRequest``: the fields it concerns and a message whose `{field}`
/// placeholders the command replaces with its own flag names, so `sweep` says
/// `--concurrency` where `run` says `-c`.
public struct RunRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The fields the mistake concerns, in the order the message names them.
    public var fields: [RunRequest.Field]
    /// The message, with `{connections}`-style placeholders.
    public var template: String
    /// How to fix it, with the same placeholders.
    public var hintTemplate: String?

    public init(_ fields: [RunRequest.Field], _ template: String, hint: String?) {
        self.fields = fields
        self.template = template
        self.hintTemplate = hint
    }

    /// The error with the fields' own names, for callers without flags (the Swift API).
    public var description: String { naming { $0.rawValue }.description }

    /// The error in the command's terms: every placeholder replaced by `name(field)`.
    public func naming(_ name: (RunRequest.Field) -> String) -> InputError {
        func fill(_ text: String) -> String {
            var out = text
            for field in RunRequest.Field.allCases {
                out = out.replacingOccurrences(of: "{\(field.rawValue)}", with: name(field))
            }
            return out
        }
        return InputError(fill(template), hint: hintTemplate.map(fill))
    }
}
