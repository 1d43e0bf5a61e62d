import Histogram

/// A recorder's counters and histograms (``Recorder``), as a bundle keeps them. Samples of
/// error bodies and the slowest requests are kept by the segment's summary instead.
public struct RecorderData: Codable, Sendable, Equatable {
    public var latency: BundleHistogram?
    public var serviceTime: BundleHistogram?
    public var scheduleLag: BundleHistogram?
    /// Status code (as text) → responses.
    public var status: [String: Int]
    /// Transport error class → failures.
    public var transportErrors: [String: Int]
    public var completed: Int
    public var failed: Int
    public var errors: Int
    public var sent: Int
    public var sentLate: Int
    public var unsent: Int
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var bytesDecoded: UInt64
    public var decodeFailures: Int
    public var connectionsOpened: Int
    /// HTTP/2 runs: connections by protocol spoken (``RunSummary/protocols``); nil otherwise
    /// and in bundles written before it was counted.
    public var protocols: [String: Int]?
    public var reconnects: Int
    public var retries: Int
    public var redirectsFollowed: Int
    public var redirectLimit: Int
    public var redirectUnusable: Int
    /// Phase name → histogram.
    public var phases: [String: BundleHistogram]
    public var phaseRequests: Int
    public var phaseNewConnections: Int

    enum CodingKeys: String, CodingKey {
        case latency
        case serviceTime = "service_time"
        case scheduleLag = "schedule_lag"
        case status
        case transportErrors = "transport_errors"
        case completed, failed, errors, sent
        case sentLate = "sent_late"
        case unsent
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case bytesDecoded = "bytes_decoded"
        case decodeFailures = "decode_failures"
        case connectionsOpened = "connections_opened"
        case protocols
        case reconnects, retries
        case redirectsFollowed = "redirects_followed"
        case redirectLimit = "redirect_limit"
        case redirectUnusable = "redirect_unusable"
        case phases
        case phaseRequests = "phase_requests"
        case phaseNewConnections = "phase_new_connections"
    }

    public init(_ r: Recorder) {
        func kept(_ h: Histogram<UInt64>) -> BundleHistogram? { h.totalCount > 0 ? BundleHistogram(h) : nil }
        latency = kept(r.latency)
        serviceTime = kept(r.serviceTime)
        scheduleLag = kept(r.scheduleLag)
        status = r.statusByCode
        transportErrors = r.transportErrorsByClass
        completed = r.completed
        failed = r.failed
        errors = r.errors
        sent = r.sent
        sentLate = r.sentLate
        unsent = r.unsent
        bytesIn = r.bytesIn
        bytesOut = r.bytesOut
        bytesDecoded = r.bytesDecoded
        decodeFailures = r.decodeFailures
        connectionsOpened = r.connectionsOpened
        protocols = RunSummary.protocols(r)
        reconnects = r.reconnects
        retries = r.retries
        redirectsFollowed = r.redirectsFollowed
        redirectLimit = r.redirectLimit
        redirectUnusable = r.redirectUnusable
        var phases: [String: BundleHistogram] = [:]
        for (phase, h) in r.phases.byPhase { phases[phase.rawValue] = BundleHistogram(h) }
        self.phases = phases
        phaseRequests = r.phases.requests
        phaseNewConnections = r.phases.newConnections
    }

    /// The recorder these figures came from (without its samples): what the engines would
    /// have merged, so the merged summary is computed by the same code as a single run's.
    public func recorder() throws(InputError) -> Recorder {
        var r = Recorder(slowestCapacity: 0)
        if let latency { r.latency = try latency.histogram() }
        if let serviceTime { r.serviceTime = try serviceTime.histogram() }
        if let scheduleLag { r.scheduleLag = try scheduleLag.histogram() }
        for (code, n) in status {
            guard let c = Int(code), c >= 0, c < r.statusCounts.count, n >= 0 else {
                throw InputError("the bundle counts an impossible status \"\(code)\"", hint: nil)
            }
            r.statusCounts[c] += n
        }
        for (name, n) in transportErrors {
            guard let c = TransportErrorClass(rawValue: name), n >= 0 else {
                throw InputError("the bundle counts an unknown transport error class \"\(name)\"", hint: nil)
            }
            r.transportCounts[c.index] += n
        }
        r.completed = completed
        r.failed = failed
        r.errors = errors
        r.sent = sent
        r.sentLate = sentLate
        r.unsent = unsent
        r.bytesIn = bytesIn
        r.bytesOut = bytesOut
        r.bytesDecoded = bytesDecoded
        r.decodeFailures = decodeFailures
        r.connectionsOpened = connectionsOpened
        r.h2Connections = protocols?[RunSummary.h2Key] ?? 0
        r.http1FallbackConnections = protocols?[RunSummary.http1Key] ?? 0
        r.reconnects = reconnects
        r.retries = retries
        r.redirectsFollowed = redirectsFollowed
        r.redirectLimit = redirectLimit
        r.redirectUnusable = redirectUnusable
        var timings = PhaseRecorder()
        for (name, h) in phases.sorted(by: { $0.key < $1.key }) {
            guard let phase = Phase(rawValue: name) else {
                throw InputError("the bundle has an unknown phase \"\(name)\"", hint: nil)
            }
            timings.setHistogram(try h.histogram(), for: phase)
        }
        timings.requests = phaseRequests
        timings.newConnections = phaseNewConnections
        r.phases = timings
        return r
    }
}

/// A threshold as a bundle keeps it: the parsed rule, so the merge judges without the plan.
public struct BundleThreshold: Codable, Sendable, Equatable {
    public var expression: String
    public var request: String?
    public var abortOnFail: Bool
    public var metric: Threshold.Metric
    public var comparison: Threshold.Comparison
    public var value: Double

    enum CodingKeys: String, CodingKey {
        case expression, request
        case abortOnFail = "abort_on_fail"
        case metric, comparison, value
    }

    public init(_ t: Threshold) {
        expression = t.expression
        request = t.requestName
        abortOnFail = t.abortOnFail
        metric = t.metric
        comparison = t.comparison
        value = t.value
    }

    public var threshold: Threshold {
        Threshold(
            metric: metric,
            comparison: comparison,
            value: value,
            requestName: request,
            abortOnFail: abortOnFail,
            expression: expression
        )
    }
}

extension PhaseRecorder {
    /// Puts a phase's whole histogram in place (a bundle's, being read back).
    public mutating func setHistogram(_ h: Histogram<UInt64>, for phase: Phase) {
        histograms[phase.index] = h
    }
}

/// What makes segments parts of one run: a 64-bit FNV-1a fingerprint (a mismatch detector,
/// not a secret: it is printed and stored) of the plan's text or the URL run's load flags.
public enum RunKey {
    public static func make(_ parts: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for part in parts {
            for byte in part.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0xff
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
