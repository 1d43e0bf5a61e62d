import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// An in-process HTTP/2 server on 127.0.0.1:0 (swift-nio-http2's server side), so that an
/// HTTP/2 client's counts can be checked against a peer whose streams, GOAWAYs and resets the
/// test controls and counts exactly.
///
/// It speaks h2c with prior knowledge, h2 over TLS chosen by ALPN, or refuses h2 in ALPN and
/// serves HTTP/1.1 (see ``Mode``). Per ``Options`` it announces a SETTINGS_MAX_CONCURRENT_STREAMS
/// and measures how many streams a client really kept open at once, sends GOAWAY after N streams
/// on a connection, or answers every N-th stream with RST_STREAM. Routes, the same over both
/// protocols (the path before `?` picks one):
///
/// - `/`: 200 `hello`.
/// - `/delay/{ms}`: 200 `hello` after `ms` milliseconds (0…60,000).
/// - `/status/{code}`: that status (200…599) with body `status` (no body for 204 and 304).
/// - `/json`: 200 `{"id":42,"name":"volley"}` (`content-type: application/json`).
/// - `/gzip`: the same JSON gzip-encoded, with `content-encoding: gzip`.
/// - `/redirect/{n}`: 302 with `location: /redirect/{n-1}` while n > 0; 200 `arrived` at 0.
/// - `/elsewhere/{port}`: 302 to `http://127.0.0.1:{port}/json` (another server: another authority).
/// - anything else: 404 `not found`.
///
/// Call ``shutdown()`` when done: the server owns an event loop group.
public final class H2TestServer: Sendable {
    /// How connections speak, chosen when the server starts.
    public enum Mode: Sendable, Equatable {
        /// Cleartext HTTP/2 with prior knowledge: the client sends the connection preface at
        /// once (`curl --http2-prior-knowledge`, `h2load http://…`). No HTTP/1.1 and no Upgrade.
        case h2c
        /// TLS whose ALPN offers `h2` and `http/1.1`: a client that picks `h2` gets HTTP/2, one
        /// that picks `http/1.1` (or offers no ALPN) gets the same routes over HTTP/1.1.
        case tls(certificatePath: String, keyPath: String)
        /// TLS whose ALPN offers only `http/1.1` and serves HTTP/1.1: a server that refuses h2,
        /// for checking that a client falls back or fails clearly, as its user asked.
        case tlsRefusingH2(certificatePath: String, keyPath: String)
        /// TLS with no ALPN at all (the server ignores the client's offer) and HTTP/1.1: an
        /// older server, whose silence a falling-back client must read as HTTP/1.1.
        case tlsWithoutALPN(certificatePath: String, keyPath: String)

        var isTLS: Bool { self != .h2c }
    }

    /// The error code of the RST_STREAM frames ``Options/resetEvery`` sends.
    public enum ResetCode: Int, Sendable {
        /// INTERNAL_ERROR (0x2): the stream failed on the server; it may have been processed.
        case internalError = 2
        /// REFUSED_STREAM (0x7): the server did no work on it; a client may retry it safely.
        case refusedStream = 7

        var http2: HTTP2ErrorCode { HTTP2ErrorCode(networkCode: rawValue) }
    }

    /// What the server announces and how it misbehaves; every field is off by default.
    public struct Options: Sendable {
        public var mode: Mode
        /// SETTINGS_MAX_CONCURRENT_STREAMS announced on every HTTP/2 connection; nil announces
        /// swift-nio-http2's default (100). swift-nio-http2 enforces it once the client has
        /// acknowledged the SETTINGS: a stream beyond it is a connection error (GOAWAY
        /// PROTOCOL_ERROR, then the connection closes; the streams open on it are never
        /// answered), counted in ``Counts/streamLimitViolations``.
        public var maxConcurrentStreams: Int?
        /// After this many streams on one connection, GOAWAY (NO_ERROR) naming the N-th stream as
        /// the last one answered; those are answered, later ones are ignored (never answered, as
        /// RFC 9113 §6.8 allows), and the connection closes once nothing is left to answer.
        public var goAwayAfter: Int?
        /// Every N-th stream (1-based, counted across all connections of the server) is
        /// answered with RST_STREAM ``resetCode`` instead of a response.
        public var resetEvery: Int?
        /// The code of those RST_STREAM frames.
        public var resetCode: ResetCode
        /// Event loop threads; more than one lets several connections load the server at once.
        public var threads: Int

        public init(
            mode: Mode = .h2c,
            maxConcurrentStreams: Int? = nil,
            goAwayAfter: Int? = nil,
            resetEvery: Int? = nil,
            resetCode: ResetCode = .internalError,
            threads: Int = 1
        ) {
            self.mode = mode
            self.maxConcurrentStreams = maxConcurrentStreams
            self.goAwayAfter = goAwayAfter
            self.resetEvery = resetEvery
            self.resetCode = resetCode
            self.threads = threads
        }
    }

    /// A consistent snapshot of what the server saw and did, so a test compares a client's
    /// counts by class with the server's without racing between two reads.
    public struct Counts: Sendable, Equatable {
        /// TCP connections accepted (any protocol, including failed handshakes).
        public var connectionsAccepted = 0
        /// Connections closed (by either side), so a test can see a GOAWAY's connection end.
        public var connectionsClosed = 0
        /// Connections that spoke HTTP/2 (the preface arrived and the handler was installed).
        public var http2Connections = 0
        /// Streams whose request HEADERS reached the server's handler (refused ones excluded).
        public var streamsOpened = 0
        /// Complete responses sent: final HEADERS and body with END_STREAM, or an HTTP/1.1 reply.
        public var responsesSent = 0
        /// RST_STREAM frames sent by ``Options/resetEvery``.
        public var resetsSent = 0
        /// GOAWAY frames sent by ``Options/goAwayAfter``.
        public var goAwaysSent = 0
        /// Connections ended with GOAWAY PROTOCOL_ERROR because the client opened a stream
        /// beyond the announced maximum after acknowledging it: a client ignoring
        /// SETTINGS_MAX_CONCURRENT_STREAMS.
        public var streamLimitViolations = 0
        /// Streams the client cancelled with its own RST_STREAM before the response ended.
        public var resetsReceived = 0
        /// The most streams one connection had open at once (opened, not yet answered, reset
        /// or cancelled), counted when the client opened a stream after acknowledging the
        /// server's SETTINGS, that is knowing SETTINGS_MAX_CONCURRENT_STREAMS; over all
        /// connections. A client honouring the limit keeps this at or below it.
        public var maxConcurrentStreamsObserved = 0
        /// The same, for streams opened before the client acknowledged the SETTINGS: RFC 9113
        /// lets a client open streams before it has seen the limit (h2load sends its first `-m`
        /// streams with its preface), so these are not held against it.
        public var maxConcurrentStreamsBeforeSettingsAck = 0
        /// Streams opened before the client acknowledged the server's SETTINGS.
        public var streamsOpenedBeforeSettingsAck = 0
        /// Requests served over HTTP/1.1 (ALPN chose `http/1.1` or offered none).
        public var http1Requests = 0
        /// Requests (HTTP/2 streams and HTTP/1.1 requests) per path, query excluded.
        public var requestsPerPath: [String: Int] = [:]
    }

    /// The port the kernel picked when the server bound 127.0.0.1:0.
    public var port: Int { host.port }
    /// The options the server started with.
    public let options: Options
    private let host: ServerHost
    private let state: H2ServerState

    private init(options: Options, host: ServerHost, state: H2ServerState) {
        self.options = options
        self.host = host
        self.state = state
    }

    /// Starts on 127.0.0.1:0, so tests running in parallel never fight over a port.
    public static func start(_ options: Options = Options()) async throws -> H2TestServer {
        let state = H2ServerState(options: options)
        let settings = Self.settings(options)
        let tls: NIOSSLContext?
        switch options.mode {
        case .h2c:
            tls = nil
        case .tls(let certificatePath, let keyPath):
            tls = try makeTLSContext(certificatePath, keyPath, alpn: ["h2", "http/1.1"])
        case .tlsRefusingH2(let certificatePath, let keyPath):
            tls = try makeTLSContext(certificatePath, keyPath, alpn: ["http/1.1"])
        case .tlsWithoutALPN(let certificatePath, let keyPath):
            tls = try makeTLSContext(certificatePath, keyPath, alpn: [])
        }
        let mode = options.mode
        let host = try await ServerHost.start(threads: options.threads, backlog: 1024) { channel in
            state.connectionAccepted()
            channel.closeFuture.whenComplete { _ in state.update { $0.connectionsClosed += 1 } }
            let pipeline = channel.pipeline.syncOperations
            switch mode {
            case .h2c:
                try H2ConnectionHandler.install(on: channel, settings: settings, state: state)
            case .tls:
                try pipeline.addHandler(NIOSSLServerHandler(context: tls!))
                _ = channel.configureHTTP2SecureUpgrade(
                    h2ChannelConfigurator: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try H2ConnectionHandler.install(on: channel, settings: settings, state: state)
                        }
                    },
                    http1ChannelConfigurator: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                SerialHTTPHandler(responder: H2RoutesOverHTTP1(state: state))
                            )
                        }
                    }
                )
            case .tlsRefusingH2, .tlsWithoutALPN:
                try pipeline.addHandler(NIOSSLServerHandler(context: tls!))
                try pipeline.addHandler(SerialHTTPHandler(responder: H2RoutesOverHTTP1(state: state)))
            }
        }
        return H2TestServer(options: options, host: host, state: state)
    }

    /// swift-nio-http2's defaults with the announced stream limit swapped in.
    private static func settings(_ options: Options) -> HTTP2Settings {
        var settings = nioDefaultSettings.filter { $0.parameter != .maxConcurrentStreams }
        settings.append(HTTP2Setting(parameter: .maxConcurrentStreams, value: options.maxConcurrentStreams ?? 100))
        return settings
    }

    private static func makeTLSContext(
        _ certificatePath: String,
        _ keyPath: String,
        alpn: [String]
    ) throws
        -> NIOSSLContext
    {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.applicationProtocols = alpn
        return try NIOSSLContext(configuration: configuration)
    }

    /// "http://127.0.0.1:PORT" (h2c) or "https://127.0.0.1:PORT" (TLS; the test certificate
    /// is valid for `127.0.0.1` and `localhost`).
    public var baseURL: String {
        "\(options.mode.isTLS ? "https" : "http")://127.0.0.1:\(port)"
    }

    /// `baseURL` followed by `pathAndQuery` (which starts with `/`).
    public func url(_ pathAndQuery: String) -> String { baseURL + pathAndQuery }

    /// Everything counted so far, read at one instant.
    public var counts: Counts { state.counts.withLock { $0 } }

    /// TCP connections accepted.
    public var connectionsAccepted: Int { counts.connectionsAccepted }
    /// HTTP/2 streams that reached the handler.
    public var streamsOpened: Int { counts.streamsOpened }
    /// Complete responses sent (both protocols).
    public var responsesSent: Int { counts.responsesSent }
    /// RST_STREAM frames sent by `resetEvery`.
    public var resetsSent: Int { counts.resetsSent }
    /// GOAWAY frames sent by `goAwayAfter`.
    public var goAwaysSent: Int { counts.goAwaysSent }
    /// The most streams one connection had open at once once the client knew the limit: a
    /// client honouring `maxConcurrentStreams` keeps this at or below it (with
    /// `streamLimitViolations` 0). See ``Counts/maxConcurrentStreamsObserved``.
    public var maxConcurrentStreamsObserved: Int { counts.maxConcurrentStreamsObserved }
    /// Requests per path (query excluded), both protocols.
    public var requestsPerPath: [String: Int] { counts.requestsPerPath }

    /// Closes the listener and every connection, then the event loop group. Idempotent.
    public func shutdown() async throws {
        try await host.shutdown()
    }
}

/// The counters every connection of one server shares, behind one lock.
final class H2ServerState: Sendable {
    let options: H2TestServer.Options
    let counts = Mutex(H2TestServer.Counts())

    init(options: H2TestServer.Options) {
        self.options = options
    }

    func connectionAccepted() {
        counts.withLock { $0.connectionsAccepted += 1 }
    }

    /// Records a new stream and the number now open on its connection (`knowingLimit`: the
    /// client had acknowledged the SETTINGS); true when this stream is one `resetEvery` resets
    /// (its 1-based index across the server is a multiple of it).
    func streamOpened(path: String, openOnConnection: Int, knowingLimit: Bool) -> Bool {
        counts.withLock { c in
            c.streamsOpened += 1
            c.requestsPerPath[path, default: 0] += 1
            if knowingLimit {
                c.maxConcurrentStreamsObserved = max(c.maxConcurrentStreamsObserved, openOnConnection)
            } else {
                c.streamsOpenedBeforeSettingsAck += 1
                c.maxConcurrentStreamsBeforeSettingsAck = max(c.maxConcurrentStreamsBeforeSettingsAck, openOnConnection)
            }
            guard let every = options.resetEvery, every > 0 else { return false }
            return c.streamsOpened % every == 0
        }
    }

    func update(_ body: (inout H2TestServer.Counts) -> Void) {
        counts.withLock { body(&$0) }
    }
}
