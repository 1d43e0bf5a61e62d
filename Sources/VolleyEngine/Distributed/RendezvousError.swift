/// Why a rendezvous failed, in words for the person running the test, with a closed `kind`
/// so that the command line can map it to an exit code (a refusal is the user's input; a
/// lost segment or a barrier time-out is the run's failure).
public struct RendezvousError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The closed set of failures, for exit codes and tests.
    public enum Kind: String, Sendable, Equatable {
        /// Segment 0 refused this segment: wrong run key, segment count or a duplicate index.
        case refused
        /// Not every segment registered within the barrier time-out.
        case barrierTimeout
        /// The plan's setup failed or timed out on segment 0.
        case setupFailed
        /// A segment asked for the run to stop, or was lost, before the start.
        case aborted
        /// Segment 0 could not be reached within the barrier time-out.
        case unreachable
        /// A peer sent something that is not the protocol (malformed or oversized line).
        case protocolViolation
        /// The connection to segment 0 closed, or an answer did not come in time.
        case connectionLost
    }

    /// Which failure: the command line maps `.refused` to an input error (exit 2) and the
    /// others to a failed run.
    public var kind: Kind
    /// What went wrong, naming the peer or the segments concerned.
    public var message: String
    /// What to check or change.
    public var hint: String?

    public init(_ kind: Kind, _ message: String, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
    }

    public var description: String {
        if let hint { return "\(message) (hint: \(hint))" }
        return message
    }
}

/// An abort of the run, relayed by segment 0 to every segment.
public struct RendezvousAbort: Equatable, Sendable, CustomStringConvertible {
    /// Why the run stops, e.g. "segment 2/3 lost: connection closed before its results".
    public var reason: String
    /// The segment that asked for it or was lost; nil when segment 0's rendezvous decided
    /// (barrier time-out, failed setup).
    public var segment: Int?
    /// What kind of event it was.
    public var kind: RendezvousError.Kind

    public init(reason: String, segment: Int?, kind: RendezvousError.Kind) {
        self.reason = reason
        self.segment = segment
        self.kind = kind
    }

    public var description: String { reason }
}
