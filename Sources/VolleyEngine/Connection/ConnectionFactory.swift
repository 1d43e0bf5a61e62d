import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import VolleyCore

/// TLS settings for the connections to one authority: the run's context and the SNI name
/// (nil when the host is an IP address).
struct TLSSetup: Sendable {
    let context: NIOSSLContext
    let serverHostname: String?

    init(context: NIOSSLContext, host: String) {
        self.context = context
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        self.serverHostname = isAddress ? nil : host
    }
}

/// The run's TLS context, made on first use: a plan that never speaks HTTPS builds none
/// (each context loads the system's trust store), and both engines configure it alike.
final class TLSContextSource: Sendable {
    private let insecure: Bool
    /// What ALPN offers: HTTP/1.1 only, or h2 first (`--http2`; with HTTP/1.1 after it when
    /// falling back is allowed).
    private let protocols: [String]
    private let made = Mutex<Result<NIOSSLContext, any Error>?>(nil)

    init(insecure: Bool, protocols: [String] = ["http/1.1"]) {
        self.insecure = insecure
        self.protocols = protocols
    }

    /// The context, made once (its error, if it could not be made, is the same every time).
    func context() throws -> NIOSSLContext {
        try made.withLock { slot in
            if let slot { return try slot.get() }
            var configuration = TLSConfiguration.makeClientConfiguration()
            if insecure { configuration.certificateVerification = .none }
            configuration.applicationProtocols = protocols
            let result = Result { try NIOSSLContext(configuration: configuration) }
            slot = result
            return try result.get()
        }
    }
}

/// Opens the connections of one event loop, for both engines: a socket Volley connects
/// itself for plain HTTP on Linux (its requests then go out with `send(2)`, see
/// ``DirectConnector``), NIO's bootstrap otherwise, with TLS when asked. The connect timeout
/// bounds TCP and the TLS handshake together on every path.
final class ConnectionFactory {
    let loop: any EventLoop
    let connectTimeout: TimeAmount
    /// Nil when NIO connects and writes (TLS, other platforms, or `directSockets` off).
    private let connector: DirectConnector?
    private let directSendLimit: Int

    init(loop: any EventLoop, connectTimeout: TimeAmount, directSockets: Bool, directSendLimit: Int = .max) {
        self.loop = loop
        self.connectTimeout = connectTimeout
        self.connector = directSockets && DirectConnector.isSupported ? DirectConnector(loop: loop) : nil
        self.directSendLimit = directSendLimit
    }

    /// Connects `target` (an HTTP/1.1 connection, or an HTTP/2 session and its lanes) to
    /// `address`; the outcome reaches its owner as ready or failed, never both, on this loop.
    /// Plain TCP on Linux connects its socket itself and writes with `send(2)`: NIO's write
    /// path (pipeline, pending-write queue, flush) cost more than HTTP/1.1's request and than
    /// HTTP/2's frames at `-m 1`.
    func open<Target: ConnectTarget>(_ target: Target, to address: SocketAddress, tls: TLSSetup?) {
        let start = NIODeadline.now().uptimeNanoseconds
        target.connectStartedAt = start
        target.connectDeadline = start &+ UInt64(max(0, connectTimeout.nanoseconds))
        target.connectTimeoutSeconds = Double(connectTimeout.nanoseconds) / 1e9
        if tls == nil, let connector {
            openDirect(
                target,
                to: address,
                connector,
                abandoned: { target.abandonsConnect },
                adopted: { target.direct = $0 },
                failed: { target.connectAttemptFailed($0) }
            )
            return
        }
        connect(target, to: address, tls: tls) { $0.connectAttemptFailed($1) }
    }

    /// NIO's bootstrap for either handler (an HTTP/1.1 connection, an HTTP/2 session): TLS
    /// first when asked, the handler after it; a connect that fails reaches `failed`.
    private func connect<Handler: ChannelHandler & SendableMetatype>(
        _ handler: Handler,
        to address: SocketAddress,
        tls: TLSSetup?,
        failed: @escaping (Handler, any Error) -> Void
    ) {
        let bound = NIOLoopBound(handler, eventLoop: loop)
        let onFailure = NIOLoopBound(failed, eventLoop: loop)
        ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                do {
                    if let tls {
                        let ssl = try NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverHostname)
                        try channel.pipeline.syncOperations.addHandler(ssl)
                    }
                    try channel.pipeline.syncOperations.addHandler(bound.value)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(to: address)
            .assumeIsolated()
            .whenFailure { error in onFailure.value(bound.value, error) }
    }

    /// Connects a socket itself, then hands it to NIO with `handler` on it; `adopted` gets
    /// the writer that sends on it directly.
    private func openDirect(
        _ handler: any ChannelHandler,
        to address: SocketAddress,
        _ connector: DirectConnector,
        abandoned: @escaping () -> Bool,
        adopted: @escaping (DirectWriter) -> Void,
        failed: @escaping (any Error) -> Void
    ) {
        let loop = self.loop
        let limit = directSendLimit
        connector.connect(to: address, timeout: connectTimeout, isAbandoned: abandoned) { result in
            switch result {
            case .success(let fd):
                adopted(DirectWriter(fd: fd, limit: limit))
                // Fails only if NIO cannot register the socket; it then owns the fd.
                DirectConnector.adopt(fd, on: loop, handler: handler).assumeIsolated().whenFailure(failed)
            case .failure(let error):
                failed(error)
            }
        }
    }
}

/// What ``ConnectionFactory/open(_:to:tls:)`` connects: an HTTP/1.1 connection or an HTTP/2
/// session. Both time their connect (their TCP phase, their TLS handshake's deadline,
/// ``HandshakeDeadline``), may be handed a socket Volley connected itself, and hear a
/// connect that failed before any channel existed. Their `errorCaught` keeps the first
/// error as the channel's and closes it.
protocol ConnectTarget: ChannelInboundHandler, SendableMetatype {
    var connectStartedAt: UInt64 { get set }
    var connectDeadline: UInt64 { get set }
    var connectTimeoutSeconds: Double { get set }
    /// Set when Volley connected the socket itself: writes go out with `send(2)`.
    var direct: DirectWriter? { get set }
    /// Given up while connecting (told to close): a socket connected now is closed unused.
    var abandonsConnect: Bool { get }
    /// TCP is up and TLS's handshake (if any) completed: the connection carries requests.
    var handshakeDone: Bool { get }
    func connectAttemptFailed(_ error: any Error)
}

/// A host name that did not resolve.
struct HostResolutionError: Error, CustomStringConvertible {
    let host: String
    let reason: String
    var description: String { "cannot resolve host \"\(host)\": \(reason)" }
}

/// The addresses one event loop connects to, by authority: an IP address is parsed, a host
/// name resolved once (off the loop, on NIO's thread pool) and kept for the run, like k6's
/// DNS cache; connections asked for meanwhile wait for that lookup rather than each
/// resolving the name. The time a connection waited for its lookup is its DNS phase.
final class AddressBook {
    private enum Entry {
        case known(SocketAddress)
        case resolving([(Result<SocketAddress, any Error>, UInt64) -> Void])
    }

    private let loop: any EventLoop
    private var entries: [Authority: Entry] = [:]

    init(loop: any EventLoop, known: [Authority: SocketAddress] = [:]) {
        self.loop = loop
        for (authority, address) in known { entries[authority.endpoint] = .known(address) }
    }

    /// Calls `done` with the address of `authority` and how long the lookup took this
    /// caller (nil when no lookup was needed) — at once when known, else on this loop when
    /// the lookup ends. A failed lookup is forgotten: the next connection tries again.
    func lookup(_ authority: Authority, _ done: @escaping (Result<SocketAddress, any Error>, UInt64?) -> Void) {
        // An address is the host's whatever HTTP the connection speaks.
        let authority = authority.endpoint
        switch entries[authority] {
        case .known(let address):
            done(.success(address), nil)
        case .resolving(var waiters):
            let asked = NIODeadline.now().uptimeNanoseconds
            waiters.append { result, end in done(result, end &- asked) }
            entries[authority] = .resolving(waiters)
        case nil:
            if let address = try? SocketAddress(ipAddress: authority.host, port: authority.port) {
                entries[authority] = .known(address)
                done(.success(address), nil)
                return
            }
            let asked = NIODeadline.now().uptimeNanoseconds
            entries[authority] = .resolving([{ result, end in done(result, end &- asked) }])
            let host = authority.host
            let port = authority.port
            NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
                do {
                    return try AddressChoice.resolve(host: host, port: port, timeout: .seconds(1))
                } catch {
                    throw HostResolutionError(host: host, reason: String(describing: error))
                }
            }
            .assumeIsolated()
            .whenComplete { [self] result in
                let end = NIODeadline.now().uptimeNanoseconds
                guard case .resolving(let waiters) = entries[authority] else { return }
                switch result {
                case .success(let address): entries[authority] = .known(address)
                case .failure: entries[authority] = nil
                }
                for w in waiters { w(result, end) }
            }
        }
    }
}
