/// When the requests a read has opened on an HTTP/2 connection leave (closed model): at the
/// read's end, or a little later, together with the successors of the rest of their write.
///
/// A server answers the requests it read together one after the other. A client that reads
/// as soon as the first answer lands sends one request per answer, and the server then reads
/// (and wakes up for) each request on its own: at `-c 50 -m 10`, nginx with one worker
/// answered 101–108k requests per second that way and 122–145k when a read found the whole
/// group (docs/benchmarks.md, "Session 12"). Which of the two a run fell into depended on
/// timing — the faster Volley read, the likelier the first. So the requests a read opens
/// wait while streams of the write whose answers it read are still open, and leave when
/// those have completed or when the hold's bound passes, whichever is first.
///
/// The bound keeps the hold from changing what is measured: 1/64 of the shortest latency
/// among the streams the waiting requests follow (no request waits more than 1.6 % of a
/// latency), at most 50 µs, and no hold at all below 2 µs. A held request's hold is part of
/// its send phase and its latency, as a wait for a stream is. Pure: the session owns the
/// clock, the timer and the streams.
struct H2WriteHold {
    /// The longest hold: a server's group of answers arrives within tens of µs (nginx
    /// answers one in 7–10 µs), and a longer hold could only catch a slow stream.
    static let maxNanos: UInt64 = 50_000
    /// The shortest worth a timer.
    static let minNanos: UInt64 = 2_000
    /// The hold is at most this fraction (1/n) of the latency of the streams it follows.
    static let latencyShare: UInt64 = 64

    /// The number of the connection's next write: requests opened now leave in it.
    private(set) var write: UInt32 = 1
    /// The newest write of which a stream completed since the last write (0: none).
    private var answered: UInt32 = 0
    private var bound: UInt64 = .max
    /// Until when the waiting requests are held (0: they are not).
    private(set) var until: UInt64 = 0

    /// What the session does with the requests waiting at a read's end.
    enum Decision: Equatable {
        case send
        /// Hold them, and send them at `until` at the latest (a timer is the session's).
        case startHold(until: UInt64)
        /// Keep holding (the timer is set).
        case keepHolding
    }

    /// A stream that left in write `write` completed, `latency` after it left.
    mutating func completed(write: UInt32, latency: UInt64) {
        answered = max(answered, write)
        bound = min(bound, latency / Self.latencyShare)
    }

    /// At the end of a read at `now`, with requests waiting to leave; `openWrites` are the
    /// writes the connection's open streams left in (or ``write`` for those still waiting).
    mutating func readEnded(at now: UInt64, openWrites: [UInt32]) -> Decision {
        guard answered != 0, openWrites.contains(where: { $0 <= answered }) else { return .send }
        guard until == 0 else { return now < until ? .keepHolding : .send }
        let hold = min(bound, Self.maxNanos)
        guard hold >= Self.minNanos else { return .send }
        until = now &+ hold
        return .startHold(until: until)
    }

    /// The waiting requests left (whatever made them): the next write begins. Returns
    /// whether they had been held, so the session stamps their send time anew.
    mutating func wrote() -> Bool {
        let held = until != 0
        write &+= 1
        answered = 0
        bound = .max
        until = 0
        return held
    }
}
