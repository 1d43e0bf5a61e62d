import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// One exchange on a fresh connection as a plain NIO client saw it: the reference the proof
/// servers are checked with, independent of Volley's engine.
struct ProbeExchange: Sendable {
    /// From the connect call to the connection being active.
    var connect: Duration
    /// From active to `handshakeCompleted`; nil without TLS.
    var handshake: Duration?
    /// From the request's write completing to the response's first byte.
    var wait: Duration
    /// From the response's first byte to its last.
    var receive: Duration
    /// Reads that carried response bytes (a trickled body arrives in several).
    var reads: Int
    var status: Int
    /// Header names lowercased.
    var headers: [String: String]
    var body: String

    var location: String? { headers["location"] }
}

enum ProbeClient {
    /// Connects to 127.0.0.1:`port`, optionally completes a TLS handshake (no verification),
    /// sends `method target` with `Connection: close` and reads one `Content-Length` response.
    /// Bounded: fails after 5 s.
    static func exchange(
        port: Int,
        tls: Bool = false,
        method: String = "GET",
        target: String,
        body: String = ""
    ) async throws -> ProbeExchange {
        var request = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if !body.isEmpty || method == "POST" { request += "Content-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + body
        let sslContext: NIOSSLContext?
        if tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            sslContext = try NIOSSLContext(configuration: configuration)
        } else {
            sslContext = nil
        }
        // A loop of its own: on the shared singleton, other tests' work would delay the reads
        // this client timestamps.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let exchange = try await exchange(on: group, port: port, request: request, sslContext: sslContext)
            try? await group.shutdownGracefully()
            return exchange
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func exchange(
        on group: MultiThreadedEventLoopGroup,
        port: Int,
        request: String,
        sslContext: NIOSSLContext?
    ) async throws -> ProbeExchange {
        let tls = sslContext != nil
        let promise = group.next().makePromise(of: ProbeExchange.self)
        let started = NIODeadline.now()
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [request] channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    let stamp = ActiveStamp()
                    // First in the pipeline: the TLS handler sends its ClientHello when it sees
                    // the connection active, so "active" must be stamped before it does.
                    try pipeline.addHandler(stamp)
                    if let sslContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: nil))
                    }
                    try pipeline.addHandler(
                        ProbeHandler(request: request, tls: tls, started: started, stamp: stamp, promise: promise)
                    )
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        } catch {
            promise.fail(error)
            throw error
        }
        do {
            let exchange = try await promise.futureResult.get()
            try? await channel.close()
            return exchange
        } catch {
            try? await channel.close()
            throw error
        }
    }
}

/// Stamps the moment the connection became active, ahead of every other handler.
private final class ActiveStamp: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var active: NIODeadline?

    func channelActive(context: ChannelHandlerContext) {
        active = .now()
        context.fireChannelActive()
    }
}

/// Sends one request once the connection (and handshake) is up and times the response.
private final class ProbeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: String
    private let tls: Bool
    private let started: NIODeadline
    private let stamp: ActiveStamp
    private let promise: EventLoopPromise<ProbeExchange>
    private var handshaken: NIODeadline?
    private var sent: NIODeadline?
    private var firstByte: NIODeadline?
    private var reads = 0
    private var bytes: [UInt8] = []
    private var timeout: Scheduled<Void>?
    private var done = false

    init(
        request: String,
        tls: Bool,
        started: NIODeadline,
        stamp: ActiveStamp,
        promise: EventLoopPromise<ProbeExchange>
    ) {
        self.request = request
        self.tls = tls
        self.started = started
        self.stamp = stamp
        self.promise = promise
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(5)) {
            self.fail(context: context, ChannelError.connectTimeout(.seconds(5)))
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        if !tls { send(context: context) }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            handshaken = .now()
            send(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func send(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: request.utf8.count)
        buffer.writeString(request)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenSuccess {
            self.sent = .now()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        let buffer = unwrapInboundIn(data)
        if firstByte == nil { firstByte = now }
        reads += 1
        bytes += buffer.readableBytesView
        guard let response = parse(), let active = stamp.active, let sent, let firstByte else { return }
        done = true
        timeout?.cancel()
        let exchange = ProbeExchange(
            connect: duration(started, active),
            handshake: handshaken.map { duration(active, $0) },
            wait: duration(sent, firstByte),
            receive: duration(firstByte, now),
            reads: reads,
            status: response.status,
            headers: response.headers,
            body: response.body
        )
        promise.succeed(exchange)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context: context, ChannelError.eof)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, error)
    }

    private func fail(context: ChannelHandlerContext, _ error: any Error) {
        guard !done else { return }
        done = true
        timeout?.cancel()
        promise.fail(error)
        context.close(promise: nil)
    }

    /// The response once its head and `Content-Length` body are all in; nil before.
    private func parse() -> (status: Int, headers: [String: String], body: String)? {
        guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        let status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard bytes.count - end.upperBound >= length else { return nil }
        let body = String(decoding: bytes[end.upperBound..<(end.upperBound + length)], as: UTF8.self)
        return (status, headers, body)
    }
}

private func duration(_ from: NIODeadline, _ to: NIODeadline) -> Duration {
    .nanoseconds((to - from).nanoseconds)
}

extension Duration {
    /// Milliseconds as a Double, for messages and comparisons in tests.
    var ms: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
