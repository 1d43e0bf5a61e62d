import Histogram

/// The latency histogram layout every recorder uses, so histograms from different event
/// loops (and, later, different machines) merge exactly instead of averaging percentiles.
///
/// Values are microseconds from 1 µs to one hour at three significant digits (0.1 % error),
/// about 190 KB per histogram whatever the number of requests.
public enum LatencyHistogram {
    public static let highestMicroseconds: UInt64 = 3_600_000_000

    public static func make() -> Histogram<UInt64> {
        Histogram<UInt64>(
            lowestDiscernibleValue: 1,
            highestTrackableValue: highestMicroseconds,
            numberOfSignificantValueDigits: .three
        )
    }

    /// Converts nanoseconds to the histogram's microseconds, clamped into range (a value of
    /// zero would vanish from `min`, so the floor is 1 µs).
    @inlinable
    public static func micros(_ nanoseconds: UInt64) -> UInt64 {
        let us = nanoseconds / 1000
        return us == 0 ? 1 : Swift.min(us, highestMicroseconds)
    }
}

/// One of the slowest requests of a run, kept so it can be found in the server's logs.
public struct SlowRequest: Equatable, Sendable, Codable {
    /// The correlation id sent in the request header.
    public var requestID: String
    /// Latency in nanoseconds (from the intended start in the open model).
    public var latencyNanos: UInt64
    /// When the request completed, nanoseconds from the start of the run.
    public var completedAtNanos: UInt64
    /// The HTTP status, or nil when the request failed.
    public var status: Int?
    /// The transport error, when the request failed.
    public var error: TransportErrorClass?

    public init(
        requestID: String,
        latencyNanos: UInt64,
        completedAtNanos: UInt64,
        status: Int?,
        error: TransportErrorClass?
    ) {
        self.requestID = requestID
        self.latencyNanos = latencyNanos
        self.completedAtNanos = completedAtNanos
        self.status = status
        self.error = error
    }
}

/// The `k` slowest requests seen, in constant memory.
///
/// Recording is one comparison against the current minimum for almost every request; only
/// a request slower than the slowest-k so far pays for an insertion.
public struct SlowestRequests: Sendable {
    public let capacity: Int
    public private(set) var entries: [SlowRequest] = []
    /// Latency of the fastest entry once full; any faster request is ignored at once.
    @usableFromInline var floor: UInt64 = 0

    public init(capacity: Int = 10) {
        self.capacity = capacity
        // With no room, nothing is admitted: the caller then never builds the request id
        // (a plan's per-name recorders keep no slowest list, and spelling an id out for
        // every response cost 2 % of a plan run's CPU).
        floor = capacity > 0 ? 0 : .max
        entries.reserveCapacity(capacity)
    }

    @inlinable
    public func admits(_ latencyNanos: UInt64) -> Bool {
        latencyNanos > floor
    }

    public mutating func insert(_ request: SlowRequest) {
        guard capacity > 0, admits(request.latencyNanos) else { return }
        if entries.count == capacity {
            var minIndex = 0
            for i in 1..<entries.count where entries[i].latencyNanos < entries[minIndex].latencyNanos {
                minIndex = i
            }
            entries[minIndex] = request
        } else {
            entries.append(request)
        }
        if entries.count == capacity {
            floor = entries.map(\.latencyNanos).min() ?? 0
        }
    }

    public mutating func merge(_ other: SlowestRequests) {
        for e in other.entries { insert(e) }
    }

    /// Slowest first.
    public var sorted: [SlowRequest] {
        entries.sorted { $0.latencyNanos > $1.latencyNanos }
    }
}

/// What one event loop has seen in the current one-second interval.
public struct IntervalStats: Sendable {
    public var completed = 0
    public var failed = 0
    /// Failed requests plus responses with status >= 400.
    public var errors = 0
    public var bytesIn: UInt64 = 0
    public var bytesOut: UInt64 = 0
    public var latency = LatencyHistogram.make()
    /// Gauges read when the interval was taken.
    public var inFlight = 0
    public var openConnections = 0
    /// Plans: VUs that exist when the interval was taken, running or idle (k6's `vus`);
    /// nil for URL runs, which have no VUs.
    public var vus: Int?
    /// Open model: requests due but waiting for a connection when the interval was taken.
    public var waiting = 0
    /// Responses with a 5xx status: the server's own errors, apart from the client's 4xx.
    public var serverErrors = 0
    /// Open model: requests written more than 10 ms after their due time in this interval.
    public var sentLate = 0
    /// Open model: the largest send − due time in this interval (µs): the generator's slippage.
    public var scheduleLagMaxMicros: UInt64 = 0
    /// How long the engine's own once-a-second task waited in the busiest event loop's queue
    /// (µs): a loop busy for that long delays every send and every read on it.
    public var loopLagMicros: UInt64 = 0

    public init() {}

    public mutating func merge(_ other: IntervalStats) {
        completed += other.completed
        failed += other.failed
        errors += other.errors
        bytesIn += other.bytesIn
        bytesOut += other.bytesOut
        latency.add(other.latency)
        inFlight += other.inFlight
        openConnections += other.openConnections
        if let v = other.vus { vus = (vus ?? 0) + v }
        waiting += other.waiting
        serverErrors += other.serverErrors
        sentLate += other.sentLate
        scheduleLagMaxMicros = Swift.max(scheduleLagMaxMicros, other.scheduleLagMaxMicros)
        loopLagMicros = Swift.max(loopLagMicros, other.loopLagMicros)
    }
}

/// Everything measured by one event loop, without locks: each loop owns one recorder and
/// only that loop writes to it. Recorders are merged (histograms added, counters summed)
/// once a second for progress and once at the end for the summary.
public struct Recorder: Sendable {
    /// Latency of completed responses: from the intended start in the open model, from the
    /// send in the closed model.
    public var latency = LatencyHistogram.make()
    /// From the actual write of the request to the end of its response.
    public var serviceTime = LatencyHistogram.make()
    /// Open model: how long after its intended time each request was actually written.
    public var scheduleLag = LatencyHistogram.make()
    /// Count of responses per status code (index = status, 0..<600).
    public var statusCounts = [Int](repeating: 0, count: 600)
    /// Count per `TransportErrorClass.index`.
    public var transportCounts = [Int](repeating: 0, count: TransportErrorClass.allCases.count)
    /// A sample message for each transport class that occurred, for the summary.
    public var transportSamples: [TransportErrorClass: String] = [:]
    public var completed = 0
    public var failed = 0
    public var errors = 0
    /// Requests written to a connection.
    public var sent = 0
    /// Open model: requests written more than `lateThresholdNanos` after their due time.
    public var sentLate = 0
    /// Requests due (open model) or taken (closed model) but never written: the run ended first.
    public var unsent = 0
    public var bytesIn: UInt64 = 0
    public var bytesOut: UInt64 = 0
    /// Plans: body bytes after `Content-Encoding` was undone, for the responses a check or a
    /// capture decoded (``bytesIn`` stays the bytes on the wire).
    public var bytesDecoded: UInt64 = 0
    /// Plans: compressed bodies a check or a capture could not decode (bad data, unknown
    /// encoding); the checks and captures that read them failed.
    public var decodeFailures = 0
    /// Connections that were established (a refused or timed-out connect is not one).
    public var connectionsOpened = 0
    /// HTTP/2 runs: of ``connectionsOpened``, those that spoke HTTP/2 (h2 by ALPN, or h2c).
    public var h2Connections = 0
    /// `--http1-fallback`: of ``connectionsOpened``, those whose server did not agree to h2
    /// in ALPN and that carried HTTP/1.1 requests instead.
    public var http1FallbackConnections = 0
    /// Keep-alive connections the server closed without announcing it (no `Connection:
    /// close`): while idle, or before answering a request on a reused connection. Each is
    /// replaced by a new connection when one is needed: a reconnect, not an error.
    public var reconnects = 0
    /// Requests sent a second time, on a new connection, because a reused connection closed
    /// before any byte of their response (``RetryPolicy``). Not new requests: a retried
    /// request counts once, with the outcome of its second attempt.
    public var retries = 0
    /// Redirects followed (`volley run --follow N`): 3xx responses that led to another hop of
    /// the same request. Not requests: their bytes count, the request counts once.
    public var redirectsFollowed = 0
    /// Requests whose redirect chain reached the `--follow` limit (a longer chain, or a
    /// loop): they ended with the 3xx as their final status.
    public var redirectLimit = 0
    /// Requests that ended on a 3xx whose Location could not be followed (another scheme, an
    /// invalid reference).
    public var redirectUnusable = 0
    public var slowest = SlowestRequests()
    public var interval = IntervalStats()
    /// The first bytes of the first few error bodies per status, and of failed captures.
    public var responseSamples = ResponseSamples()
    /// Per-phase timings (dns, connect, tls, send, wait, receive) of completed requests,
    /// allocated phase by phase as they are first recorded (``recordPhases(_:)``).
    public var phases = PhaseRecorder()

    /// The lag beyond which an open-model request counts as sent late.
    public static let lateThresholdNanos: UInt64 = 10_000_000

    public init(slowestCapacity: Int = 10) {
        slowest = SlowestRequests(capacity: slowestCapacity)
    }

    /// A request was written: `lagNanos` is actual send − due time (0 in the closed model).
    @inlinable
    public mutating func recordSend(bytes: Int, lagNanos: UInt64?) {
        sent &+= 1
        bytesOut &+= UInt64(bytes)
        interval.bytesOut &+= UInt64(bytes)
        if let lagNanos {
            let us = LatencyHistogram.micros(lagNanos)
            _ = scheduleLag.record(us)
            if us > interval.scheduleLagMaxMicros { interval.scheduleLagMaxMicros = us }
            if lagNanos > Self.lateThresholdNanos {
                sentLate &+= 1
                interval.sentLate &+= 1
            }
        }
    }

    /// A request was written again on a new connection (``retries``): its bytes count, but it
    /// is neither another request nor a late one.
    public mutating func recordResend(bytes: Int) {
        retries &+= 1
        bytesOut &+= UInt64(bytes)
        interval.bytesOut &+= UInt64(bytes)
    }

    /// A redirect was followed: its response's bytes count, and the request goes on.
    public mutating func recordRedirect(bytesIn: Int) {
        redirectsFollowed &+= 1
        self.bytesIn &+= UInt64(bytesIn)
        interval.bytesIn &+= UInt64(bytesIn)
    }

    /// A redirect hop was written: its bytes count, but it is not another request.
    public mutating func recordHopSend(bytes: Int) {
        bytesOut &+= UInt64(bytes)
        interval.bytesOut &+= UInt64(bytes)
    }

    /// A complete response arrived.
    @inlinable
    public mutating func recordResponse(
        status: Int,
        latencyNanos: UInt64,
        serviceNanos: UInt64?,
        bytesIn: Int,
        requestID: @autoclosure () -> String,
        completedAtNanos: UInt64
    ) {
        let us = LatencyHistogram.micros(latencyNanos)
        _ = latency.record(us)
        if let serviceNanos { _ = serviceTime.record(LatencyHistogram.micros(serviceNanos)) }
        _ = interval.latency.record(us)
        let index = (status >= 0 && status < 600) ? status : 0
        statusCounts[index] &+= 1
        completed &+= 1
        interval.completed &+= 1
        if status >= 400 {
            errors &+= 1
            interval.errors &+= 1
            if status >= 500 { interval.serverErrors &+= 1 }
        }
        self.bytesIn &+= UInt64(bytesIn)
        interval.bytesIn &+= UInt64(bytesIn)
        if slowest.admits(latencyNanos) {
            slowest.insert(
                SlowRequest(
                    requestID: requestID(),
                    latencyNanos: latencyNanos,
                    completedAtNanos: completedAtNanos,
                    status: status,
                    error: nil
                )
            )
        }
    }

    /// A request ended without a usable response.
    public mutating func recordFailure(_ error: TransportErrorClass, bytesIn: Int = 0, message: String? = nil) {
        transportCounts[error.index] &+= 1
        failed &+= 1
        errors &+= 1
        interval.failed &+= 1
        interval.errors &+= 1
        self.bytesIn &+= UInt64(bytesIn)
        interval.bytesIn &+= UInt64(bytesIn)
        if let message, transportSamples[error] == nil {
            transportSamples[error] = message
        }
    }

    /// Returns the interval so far and starts a new one.
    public mutating func takeInterval(inFlight: Int, openConnections: Int, waiting: Int) -> IntervalStats {
        var taken = interval
        taken.inFlight = inFlight
        taken.openConnections = openConnections
        taken.waiting = waiting
        interval = IntervalStats()
        return taken
    }

    /// Adds another loop's recorder into this one (histograms merged, never averaged).
    public mutating func merge(_ other: Recorder) {
        latency.add(other.latency)
        serviceTime.add(other.serviceTime)
        scheduleLag.add(other.scheduleLag)
        for i in statusCounts.indices { statusCounts[i] += other.statusCounts[i] }
        for i in transportCounts.indices { transportCounts[i] += other.transportCounts[i] }
        transportSamples.merge(other.transportSamples) { a, _ in a }
        completed += other.completed
        failed += other.failed
        errors += other.errors
        sent += other.sent
        sentLate += other.sentLate
        unsent += other.unsent
        bytesIn += other.bytesIn
        bytesOut += other.bytesOut
        bytesDecoded += other.bytesDecoded
        decodeFailures += other.decodeFailures
        connectionsOpened += other.connectionsOpened
        h2Connections += other.h2Connections
        http1FallbackConnections += other.http1FallbackConnections
        reconnects += other.reconnects
        retries += other.retries
        redirectsFollowed += other.redirectsFollowed
        redirectLimit += other.redirectLimit
        redirectUnusable += other.redirectUnusable
        slowest.merge(other.slowest)
        responseSamples.merge(other.responseSamples)
        phases.merge(other.phases)
    }

    /// Non-zero transport error counts by class.
    public var transportErrors: [TransportErrorClass: Int] {
        var out: [TransportErrorClass: Int] = [:]
        for c in TransportErrorClass.allCases where transportCounts[c.index] > 0 {
            out[c] = transportCounts[c.index]
        }
        return out
    }

    /// Non-zero status counts keyed by the code as text, as JSON summaries show them.
    public var statusByCode: [String: Int] {
        var out: [String: Int] = [:]
        for (s, n) in statusCounts.enumerated() where n > 0 { out[String(s)] = n }
        return out
    }

    /// Non-zero transport error counts keyed by the class's JSON name.
    public var transportErrorsByClass: [String: Int] {
        var out: [String: Int] = [:]
        for c in TransportErrorClass.allCases where transportCounts[c.index] > 0 {
            out[c.rawValue] = transportCounts[c.index]
        }
        return out
    }

    /// Non-zero status counts.
    public var statuses: [Int: Int] {
        var out: [Int: Int] = [:]
        for (s, n) in statusCounts.enumerated() where n > 0 { out[s] = n }
        return out
    }
}
