import NIOCore
import NIOSSL
import Synchronization

/// An HTTP/1.1 server on 127.0.0.1:0 whose every phase takes a known time, so that a client's
/// phase timings (handshake, wait = time to first byte, receive) can be checked against what
/// the server did rather than against themselves.
///
/// Delays are set per server with ``Delays`` and can be overridden per request with query
/// parameters on any path (all in milliseconds, whole numbers):
///
/// - `ttfb=20`: the response head is written 20 ms after the request (head and body) arrived.
/// - `trickle=40`: the head goes out at once (after `ttfb`), then the body in `chunks` pieces,
///   piece *i* (1-based) at `trickle × i / chunks` ms, each flushed on its own — so the last
///   body byte leaves `trickle` ms after the first response byte.
/// - `chunks=4`: how many pieces a trickled body is cut into (1…1000).
/// - `bytes=1024`: the body's length (0…1 MiB); the body is that many `x`, with a
///   `Content-Length`.
///
/// For example `GET /anything?ttfb=20&trickle=40` waits 20 ms, sends the head, then four
/// 256-byte pieces at 10, 20, 30 and 40 ms. A bad value answers 400 with the reason.
///
/// With `tls` the server speaks TLS, and ``Delays/handshake`` holds its first flight
/// (ServerHello … Finished) for that long after the ClientHello arrived (one hold per
/// connection; it cannot be set per request, the handshake comes before any request).
///
/// Call ``shutdown()`` when done: the server owns an event loop group.
public final class PhaseServer: Sendable {
    /// The server-wide delays; a request's query overrides `firstByte`, `trickle`, `chunks` and
    /// `bodyBytes`.
    public struct Delays: Sendable, Equatable {
        /// How long the TLS server holds its first flight (ignored without TLS).
        public var handshake: Duration
        /// From the request's last byte to the response's first.
        public var firstByte: Duration
        /// From the response's first byte to its last (the body spread over `chunks` pieces).
        public var trickle: Duration
        /// Pieces of a trickled body.
        public var chunks: Int
        /// The body's length in bytes.
        public var bodyBytes: Int

        public init(
            handshake: Duration = .zero,
            firstByte: Duration = .zero,
            trickle: Duration = .zero,
            chunks: Int = 4,
            bodyBytes: Int = 1024
        ) {
            self.handshake = handshake
            self.firstByte = firstByte
            self.trickle = trickle
            self.chunks = chunks
            self.bodyBytes = bodyBytes
        }
    }

    /// The port the kernel picked when the server bound 127.0.0.1:0.
    public var port: Int { host.port }
    private let host: ServerHost
    private let isTLS: Bool
    private let responder: PhaseResponder

    private init(host: ServerHost, isTLS: Bool, responder: PhaseResponder) {
        self.host = host
        self.isTLS = isTLS
        self.responder = responder
    }

    /// Starts on 127.0.0.1:0.
    ///
    /// - Parameters:
    ///   - tls: a server context (see ``TestServer/makeTLSContext(certificatePath:keyPath:)``);
    ///     nil for plain HTTP.
    ///   - delays: what every request gets unless its query says otherwise.
    public static func start(tls: NIOSSLContext? = nil, delays: Delays = Delays()) async throws -> PhaseServer {
        let responder = PhaseResponder(defaults: delays)
        let (seconds, attoseconds) = delays.handshake.components
        let hold = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        let host = try await ServerHost.start { channel in
            let pipeline = channel.pipeline.syncOperations
            if let tls {
                if hold > .zero {
                    try pipeline.addHandler(HandshakeHoldHandler(hold: hold))
                }
                try pipeline.addHandler(NIOSSLServerHandler(context: tls))
            }
            try pipeline.addHandler(SerialHTTPHandler(responder: responder))
        }
        return PhaseServer(host: host, isTLS: tls != nil, responder: responder)
    }

    /// "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT".
    public var baseURL: String {
        "\(isTLS ? "https" : "http")://127.0.0.1:\(port)"
    }

    /// Requests received in full (head and body), all connections.
    public var requestsReceived: Int {
        responder.received.load(ordering: .relaxed)
    }

    /// Closes the listener and every connection, then the event loop group. Idempotent.
    public func shutdown() async throws {
        try await host.shutdown()
    }
}

/// Answers every path with the delays of ``PhaseServer``.
private final class PhaseResponder: RequestResponder {
    let defaults: PhaseServer.Delays
    let received = Atomic<Int>(0)

    init(defaults: PhaseServer.Delays) {
        self.defaults = defaults
    }

    func respond(to request: ReceivedRequest, with reply: Reply) {
        received.add(1, ordering: .relaxed)
        let plan: Plan
        do {
            plan = try Plan(query: request.query, defaults: defaults)
        } catch {
            return reply.send(status: 400, body: error.message + "\n")
        }
        reply.after(.milliseconds(plan.firstByte)) {
            guard plan.trickle > 0, plan.bodyBytes > 0 else {
                let body = String(repeating: "x", count: plan.bodyBytes)
                reply.end(after: reply.write(reply.head(status: 200, contentLength: plan.bodyBytes) + body))
                return
            }
            reply.write(reply.head(status: 200, contentLength: plan.bodyBytes))
            let pieces = min(plan.chunks, plan.bodyBytes)
            var sent = 0
            for piece in 1...pieces {
                let size = plan.bodyBytes * piece / pieces - sent
                sent += size
                let last = piece == pieces
                reply.after(.microseconds(plan.trickle * 1000 * Int64(piece) / Int64(pieces))) {
                    let written = reply.write(String(repeating: "x", count: size))
                    if last { reply.end(after: written) }
                }
            }
        }
    }

    /// One request's delays in milliseconds, its query applied over the server's defaults.
    struct Plan {
        var firstByte: Int64
        var trickle: Int64
        var chunks: Int
        var bodyBytes: Int

        struct Problem: Error {
            let message: String
        }

        init(query: [String: String], defaults: PhaseServer.Delays) throws(Problem) {
            func value(_ name: String, _ fallback: Int, _ range: ClosedRange<Int>) throws(Problem) -> Int {
                guard let text = query[name] else { return fallback }
                guard let number = Int(text), range.contains(number) else {
                    throw Problem(message: "\(name)=\(text): expected a whole number in \(range)")
                }
                return number
            }
            firstByte = Int64(try value("ttfb", milliseconds(defaults.firstByte), 0...60_000))
            trickle = Int64(try value("trickle", milliseconds(defaults.trickle), 0...60_000))
            chunks = try value("chunks", defaults.chunks, 1...1000)
            bodyBytes = try value("bytes", defaults.bodyBytes, 0...1024 * 1024)
        }
    }
}

/// Whole milliseconds of a duration (the unit of the query parameters).
private func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    return Int(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
}
