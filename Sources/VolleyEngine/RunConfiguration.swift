import NIOCore
import VolleyCore

/// Everything the engine needs to run one load test; built by the CLI (or, later, a plan).
public struct RunConfiguration: Sendable {
    public var request: RequestSpec
    public var model: LoadModel
    /// Event loops (threads); each owns its connections and recorder.
    public var threads: Int
    /// Per-request timeout, counted from the write of the request.
    public var requestTimeout: Duration
    /// Time allowed for TCP (and TLS) connection set-up.
    public var connectTimeout: Duration
    /// Accept any TLS certificate (self-signed test servers).
    public var insecure: Bool
    /// After Ctrl-C, how long in-flight requests may still finish.
    public var interruptGrace: Duration
    /// After the duration (or schedule) ends, how long requests in flight may still finish;
    /// those still unanswered then count as interrupted, so a run ends at its duration plus
    /// this whatever the target does.
    public var endGrace: Duration = .seconds(5)
    /// How many of the slowest requests to keep.
    public var slowestCount: Int
    /// Redirect hops each request may follow (`--follow N`); 0 (the default, as in wrk and
    /// hey) counts a 3xx as the final response.
    public var followRedirects = 0
    /// HTTP/1.1, HTTP/2 over TLS or h2c (``RunRequest/http``).
    public var http: HTTPProtocolChoice = .http1
    /// HTTP/2: requests in flight per connection.
    public var streams = 1
    /// HTTP/2 over TLS: a connection whose server does not agree to h2 in ALPN speaks
    /// HTTP/1.1 (counted) instead of failing (``RunRequest/http1Fallback``).
    public var http1Fallback = false
    /// This machine's share of a run split over several (`--segment i/N`): its connections,
    /// arrivals and `-n` budget are the segment's stripe of the whole run's.
    public var segment: ExecutionSegment = .whole
    /// Where to stream one JSON line per request (`--out samples.ndjson`); nil = nowhere.
    public var samples: SampleFile?
    /// Plain HTTP on Linux: connect sockets directly and write requests with `send(2)`
    /// (NIO still reads). False sends every byte through NIO's channel, for comparison.
    public var directSockets = true
    /// At most this many bytes per direct `send(2)`. A test seam: a small value forces the
    /// partial-send fallback to NIO that a full socket buffer causes in real runs.
    var directSendLimit = Int.max

    public init(
        request: RequestSpec,
        model: LoadModel,
        threads: Int = NIOCore.System.coreCount,
        requestTimeout: Duration = .seconds(30),
        connectTimeout: Duration = .seconds(10),
        insecure: Bool = false,
        interruptGrace: Duration = .seconds(2),
        slowestCount: Int = 10
    ) {
        self.request = request
        self.model = model
        self.threads = max(1, threads)
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.insecure = insecure
        self.interruptGrace = interruptGrace
        self.slowestCount = slowestCount
    }
}
