import Histogram

/// The parts of one request's time, as k6 splits `http_req_duration` (blocked aside): name
/// lookup, TCP connect, TLS handshake, writing the request, waiting for the first byte, and
/// reading the rest. Telling them apart says whether a slow request was slow to connect, to
/// handshake or to answer, which one latency figure cannot.
public enum Phase: String, CaseIterable, Sendable, Codable {
    case dns, connect, tls, send, wait, receive

    /// The names a threshold may use for this phase: ours, the words k6 prints
    /// (`tls_handshaking`, `waiting`…) and k6's metric names (`http_req_waiting`), so a k6
    /// user's threshold reads the same here. `ttfb` is the name most people know `wait` by.
    public var aliases: [String] {
        switch self {
        case .dns: ["dns", "lookup", "http_req_looking_up"]
        case .connect: ["connect", "connecting", "http_req_connecting"]
        case .tls: ["tls", "tls_handshaking", "http_req_tls_handshaking"]
        case .send: ["send", "sending", "http_req_sending"]
        case .wait: ["wait", "waiting", "ttfb", "http_req_waiting"]
        case .receive: ["receive", "receiving", "http_req_receiving"]
        }
    }

    /// The phase a threshold names, by any of its ``aliases`` (case-insensitive).
    public init?(named name: String) {
        let lowered = name.lowercased()
        guard let phase = Phase.allCases.first(where: { $0.aliases.contains(lowered) }) else { return nil }
        self = phase
    }

    /// Index into ``PhaseRecorder``'s storage: a switch, so recording never hashes.
    @inlinable
    var index: Int {
        switch self {
        case .dns: 0
        case .connect: 1
        case .tls: 2
        case .send: 3
        case .wait: 4
        case .receive: 5
        }
    }
}

/// One completed request's phases, in nanoseconds.
///
/// A request that opened its connection carries that connection's costs (`connectNanos`
/// non-nil; `dnsNanos` nil when no name was looked up, `tlsNanos` nil for plain HTTP); a
/// request on a reused connection has all three nil, so the connection costs are counted
/// once, against the request that paid them. `waitNanos` is the time to first byte after the
/// request was written; `receiveNanos` from that byte to the last.
public struct PhaseSample: Sendable, Equatable {
    public var dnsNanos: UInt64?
    public var connectNanos: UInt64?
    public var tlsNanos: UInt64?
    public var sendNanos: UInt64
    public var waitNanos: UInt64
    public var receiveNanos: UInt64

    public init(
        dnsNanos: UInt64? = nil,
        connectNanos: UInt64? = nil,
        tlsNanos: UInt64? = nil,
        sendNanos: UInt64,
        waitNanos: UInt64,
        receiveNanos: UInt64
    ) {
        self.dnsNanos = dnsNanos
        self.connectNanos = connectNanos
        self.tlsNanos = tlsNanos
        self.sendNanos = sendNanos
        self.waitNanos = waitNanos
        self.receiveNanos = receiveNanos
    }

    /// True when this request opened the connection it was sent on.
    @inlinable
    public var openedConnection: Bool { connectNanos != nil }
}

/// HDR histograms per phase (microseconds, ``LatencyHistogram``'s layout so they merge
/// exactly), with the count of requests and of those that opened a new connection (the
/// reuse rate).
///
/// Each histogram is about 190 KB, so none exists until its phase is first recorded: a run on
/// keep-alive connections records dns/connect/tls only for its first connections, and a
/// plan's per-name recorders (one per request name and event loop) do not grow by 6 × 190 KB
/// each unless the name is used. After the first request, recording on a reused connection is
/// three histogram records and two additions, with no allocation.
public struct PhaseRecorder: Sendable {
    /// By ``Phase/index``; nil until that phase is first recorded.
    @usableFromInline var histograms: [Histogram<UInt64>?] = [nil, nil, nil, nil, nil, nil]
    /// Requests whose phases were recorded.
    public var requests = 0
    /// Of those, the requests that opened their connection.
    public var newConnections = 0

    public init() {}

    /// Records one completed request's phases.
    @inlinable
    public mutating func record(_ s: PhaseSample) {
        requests &+= 1
        if s.openedConnection { newConnections &+= 1 }
        if let dns = s.dnsNanos { record(dns, at: 0) }
        if let connect = s.connectNanos { record(connect, at: 1) }
        if let tls = s.tlsNanos { record(tls, at: 2) }
        record(s.sendNanos, at: 3)
        record(s.waitNanos, at: 4)
        record(s.receiveNanos, at: 5)
    }

    @inlinable
    mutating func record(_ nanos: UInt64, at index: Int) {
        // Recorded in place: testing `histograms[index] == nil` first read the element out,
        // a copy of the histogram (a retain and a release of its counts) per phase per request.
        if histograms[index]?.record(LatencyHistogram.micros(nanos)) == nil {
            var h = LatencyHistogram.make()
            _ = h.record(LatencyHistogram.micros(nanos))
            histograms[index] = h
        }
    }

    /// Adds another recorder's histograms and counts (histograms merged, never averaged); a
    /// phase the other never recorded stays unallocated here too.
    public mutating func merge(_ other: PhaseRecorder) {
        requests += other.requests
        newConnections += other.newConnections
        for i in histograms.indices {
            guard let h = other.histograms[i] else { continue }
            if histograms[i] == nil {
                histograms[i] = h
            } else {
                histograms[i]!.add(h)
            }
        }
    }

    /// The phase's histogram, or nil when the phase was never recorded.
    public func histogram(_ phase: Phase) -> Histogram<UInt64>? {
        histograms[phase.index]
    }

    /// The phases recorded so far, in ``Phase`` order.
    public var recordedPhases: [Phase] {
        Phase.allCases.filter { histograms[$0.index] != nil }
    }

    /// Share of requests sent on a connection an earlier request opened: 1 − new / requests;
    /// nil before any request.
    public var reuseRate: Double? {
        requests > 0 ? 1 - Double(newConnections) / Double(requests) : nil
    }
}

extension Recorder {
    /// Records one completed request's phases; the engines call it with every response.
    @inlinable
    public mutating func recordPhases(_ s: PhaseSample) {
        phases.record(s)
    }
}

extension PhaseRecorder {
    /// Every recorded phase's histogram, for the history.
    public var byPhase: [Phase: Histogram<UInt64>] {
        var out: [Phase: Histogram<UInt64>] = [:]
        for phase in recordedPhases {
            if let h = histogram(phase) { out[phase] = h }
        }
        return out
    }
}
