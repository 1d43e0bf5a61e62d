import VolleyCore

/// How one segment takes part in the rendezvous that segment 0 hosts (the pattern of
/// PyTorch's c10d rendezvous on rank 0): every segment registers, segment 0 runs the setup
/// once, announces one start time, relays aborts and collects the result bundles.
public struct RendezvousConfig: Sendable {
    /// This segment (index, count). Segment 0 hosts the rendezvous.
    public var segment: ExecutionSegment
    /// Where segment 0 listens: a DNS name (a Kubernetes pod's name through the Job's headless
    /// Service) or an address. Segment 0 binds it when it is a numeric IP, 0.0.0.0 otherwise.
    public var host: String
    /// Segment 0's port; 0 lets segment 0 pick one (tests), exposed as `RendezvousServer.port`.
    public var port: Int
    /// The plan hash and Volley version: segments of different plans or versions must not
    /// be merged, so a mismatch is refused at registration.
    public var runKey: String
    /// All segments must register within this time (counted from segment 0's start and from
    /// each segment's first connection attempt), else the run fails naming who is missing.
    public var barrierTimeout: Duration
    /// The start is announced this far in the future (after the setup), so that the
    /// announcement reaches every segment before the start time.
    public var startDelay: Duration
    /// The plan's setup runs at most this long on segment 0 (k6's `setupTimeout`, 60 s).
    public var setupTimeout: Duration
    /// Round trips measured to estimate the clock offset to segment 0 (the one with the
    /// shortest round trip is kept, as NTP and Cristian's algorithm do).
    public var clockProbes: Int
    /// The longest result bundle accepted, in bytes before base64.
    public var maxBundleBytes: Int

    public init(
        segment: ExecutionSegment,
        host: String,
        port: Int,
        runKey: String,
        barrierTimeout: Duration = .seconds(60),
        startDelay: Duration = .milliseconds(500),
        setupTimeout: Duration = .seconds(60),
        clockProbes: Int = 8,
        maxBundleBytes: Int = 12 * 1024 * 1024
    ) {
        self.segment = segment
        self.host = host
        self.port = port
        self.runKey = runKey
        self.barrierTimeout = barrierTimeout
        self.startDelay = startDelay
        self.setupTimeout = setupTimeout
        self.clockProbes = clockProbes
        self.maxBundleBytes = maxBundleBytes
    }

    /// The longest line either side accepts: a bundle in base64 plus its JSON.
    var maxLineBytes: Int { maxBundleBytes / 3 * 4 + 4096 }

    /// "segment 2/3" in messages.
    func name(_ index: Int) -> String { "segment \(index)/\(segment.count)" }
}

/// One segment's registration as segment 0 recorded it, for the merged report's clock
/// offsets and start skew.
public struct SegmentRegistration: Equatable, Sendable {
    public var segment: Int
    /// Segment 0's clock minus this segment's clock, in ns (positive: this segment is behind).
    public var offsetNanoseconds: Int64
    /// The round trip of the probe the offset came from, in ns; the offset is known to
    /// within ± half of it.
    public var rttNanoseconds: Int64
    /// When segment 0 recorded the registration (segment 0's wall clock, ns).
    public var registeredAt: Int64
    /// The peer address, for messages.
    public var peer: String
}

/// One clock-offset probe: a client's send and receive times and the server's time in
/// between (all wall-clock ns).
struct ClockSample: Equatable, Sendable {
    var sent: Int64
    var server: Int64
    var received: Int64

    var rtt: Int64 { received - sent }
    /// Cristian's estimate: the server read its clock half-way through the round trip.
    var offset: Int64 { server - (sent + (received - sent) / 2) }

    /// The sample with the shortest round trip: the one whose midpoint assumption can be
    /// off by the least (± rtt/2). Nil when there are none.
    static func best(_ samples: [ClockSample]) -> ClockSample? {
        samples.min { $0.rtt < $1.rtt }
    }
}

extension Duration {
    /// Whole nanoseconds, for arithmetic on wall-clock times.
    var rendezvousNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// "60s", "1.5s", "500ms" in messages.
    var rendezvousText: String {
        let ns = rendezvousNanoseconds
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns < 1_000_000_000 { return "\(ns / 1_000_000)ms" }
        return "\(Double(ns) / 1e9)s"
    }
}
