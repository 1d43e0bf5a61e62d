import NIOCore
import NIOPosix
import Synchronization

/// A listener on 127.0.0.1:0 that accepts connections, reads whatever arrives and never
/// writes a byte: a hung server, or — to an `https://` client — a TLS server that never
/// answers the ClientHello. Tests use it to check that Volley bounds what it cannot control
/// (connect and handshake timeouts, the end of a run).
///
/// `start(silentConnections:)` makes it hang only its first connections and answer each later
/// one's first request with `200 ok` and a close: a server whose one stuck request must not
/// hold up a client's next ones.
public final class SilentServer: Sendable {
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let counters: Counters

    private final class Counters: Sendable {
        let accepted = Atomic<Int>(0)
        let bytesReceived = Atomic<Int>(0)
    }

    private init(port: Int, group: MultiThreadedEventLoopGroup, channel: any Channel, counters: Counters) {
        self.port = port
        self.group = group
        self.channel = channel
        self.counters = counters
    }

    public static func start(silentConnections: Int = .max) async throws -> SilentServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let counters = Counters()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let n = counters.accepted.add(1, ordering: .relaxed).newValue
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Sink(counters: counters, answers: n > silentConnections)
                    )
                }
            }
        do {
            let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
            guard let port = channel.localAddress?.port else { throw ChannelError.unknownLocalAddress }
            return SilentServer(port: port, group: group, channel: channel, counters: counters)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Connections accepted so far.
    public var accepted: Int { counters.accepted.load(ordering: .relaxed) }
    /// Bytes received on all connections (a TLS ClientHello, a request).
    public var bytesReceived: Int { counters.bytesReceived.load(ordering: .relaxed) }

    /// Closes the listener and every connection.
    public func shutdown() async throws {
        try? await channel.close()
        try await group.shutdownGracefully()
    }

    private final class Sink: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let counters: Counters
        let answers: Bool
        private var head: [UInt8] = []

        init(counters: Counters, answers: Bool) {
            self.counters = counters
            self.answers = answers
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            counters.bytesReceived.add(bytes.readableBytes, ordering: .relaxed)
            guard answers, !head.isEmpty || bytes.readableBytes > 0 else { return }
            head += bytes.readableBytesView
            // The request's head is complete: answer it and close.
            guard head.count >= 4, head.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) else { return }
            let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: reply)))
                .whenComplete { _ in context.close(promise: nil) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
