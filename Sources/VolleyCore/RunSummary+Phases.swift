import Histogram

/// One phase's figures in milliseconds, read from its merged HDR histogram.
public struct PhaseStats: Equatable, Sendable, Codable {
    /// Requests that recorded this phase (for dns, connect and tls: the connections opened).
    public var count: Int
    public var meanMs: Double
    public var p50Ms: Double
    public var p90Ms: Double
    public var p95Ms: Double
    public var p99Ms: Double
    public var maxMs: Double

    enum CodingKeys: String, CodingKey {
        case count
        case meanMs = "mean_ms"
        case p50Ms = "p50_ms"
        case p90Ms = "p90_ms"
        case p95Ms = "p95_ms"
        case p99Ms = "p99_ms"
        case maxMs = "max_ms"
    }

    /// Reads the figures from a microsecond histogram; nil when it is empty, so a phase with
    /// no sample never shows as a row of zeros (an infinitely fast handshake).
    public init?(_ h: Histogram<UInt64>) {
        guard h.totalCount > 0 else { return nil }
        func ms(_ us: UInt64) -> Double { Double(us) / 1000 }
        count = Int(h.totalCount)
        meanMs = h.mean / 1000
        p50Ms = ms(h.valueAtPercentile(50))
        p90Ms = ms(h.valueAtPercentile(90))
        p95Ms = ms(h.valueAtPercentile(95))
        p99Ms = ms(h.valueAtPercentile(99))
        maxMs = ms(h.max)
    }
}

/// Where a run's time went, phase by phase, and how often a request found a connection open
/// (docs/measurement-model.md, "Phases"). The JSON summary's `phases` object.
public struct PhaseSummary: Equatable, Sendable, Codable {
    /// Requests whose phases were recorded.
    public var requests: Int
    /// Of those, the requests that opened a new connection (and carry its dns/connect/tls).
    public var newConnections: Int
    /// 1 − newConnections / requests: the share of requests sent on a connection already open.
    public var reuseRate: Double
    /// Absent when no request recorded the phase: dns when every target was an address or
    /// every connection was reused, tls on plain HTTP.
    public var dns: PhaseStats?
    public var connect: PhaseStats?
    public var tls: PhaseStats?
    public var send: PhaseStats?
    public var wait: PhaseStats?
    public var receive: PhaseStats?

    enum CodingKeys: String, CodingKey {
        case requests
        case newConnections = "new_connections"
        case reuseRate = "reuse_rate"
        case dns, connect, tls, send, wait, receive
    }

    /// The summary of a recorder's phases; nil when it recorded none (an engine that does not
    /// measure phases, or a run without a single response), so nothing is shown for them.
    public init?(_ r: PhaseRecorder) {
        guard r.requests > 0 else { return nil }
        requests = r.requests
        newConnections = r.newConnections
        reuseRate = r.reuseRate ?? 0
        func stats(_ p: Phase) -> PhaseStats? { r.histogram(p).flatMap(PhaseStats.init) }
        dns = stats(.dns)
        connect = stats(.connect)
        tls = stats(.tls)
        send = stats(.send)
        wait = stats(.wait)
        receive = stats(.receive)
    }

    /// One phase's figures by its enum, in ``Phase`` order for tables.
    public subscript(_ phase: Phase) -> PhaseStats? {
        switch phase {
        case .dns: dns
        case .connect: connect
        case .tls: tls
        case .send: send
        case .wait: wait
        case .receive: receive
        }
    }
}
