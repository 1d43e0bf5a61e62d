/// How load is offered to the target.
///
/// The distinction matters more than any other setting: a closed model (fixed connections,
/// each waiting for its reply before sending again) slows down with the server, so it can
/// never show the queueing a real population of users would see. An open model sends on a
/// schedule whatever the server does, and measures latency from the scheduled time.
public enum LoadModel: Equatable, Sendable {
    /// `connections` connections, each sending its next request when the previous reply
    /// arrives, until `limit` is reached.
    case closed(connections: Int, limit: ClosedLimit)
    /// Requests arrive on `schedule`; connections are opened as needed up to
    /// `maxConnections`, with `preconnect` opened before the first arrival.
    case open(schedule: ArrivalSchedule, maxConnections: Int, preconnect: Int)

    /// A short label for summaries: "closed" or "open".
    public var name: String {
        switch self {
        case .closed: return "closed"
        case .open: return "open"
        }
    }
}

/// When a closed-model run stops issuing requests.
public enum ClosedLimit: Equatable, Sendable {
    /// Exactly this many requests in total, over all connections.
    case requests(Int)
    /// Requests keep being sent until this much time has passed.
    case duration(Duration)
    /// Both: whichever is reached first.
    case requestsOrDuration(Int, Duration)

    public var requestCount: Int? {
        switch self {
        case .requests(let n), .requestsOrDuration(let n, _): return n
        case .duration: return nil
        }
    }

    public var duration: Duration? {
        switch self {
        case .duration(let d), .requestsOrDuration(_, let d): return d
        case .requests: return nil
        }
    }
}
