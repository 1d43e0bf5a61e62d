import NIOCore
import NIOPosix
import Synchronization

/// A listener on 127.0.0.1:0 that accepts connections, reads whatever arrives and never
/// writes a byte: a hung server, or — to an `https://` client — a TLS server that never
/// answers the ClientHello. Tests use it to check that Volley bounds what it cannot control
/// (connect and handshake timeouts, the end of a run).
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

    public static func start() async throws -> SilentServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let counters = Counters()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counters.accepted.add(1, ordering: .relaxed)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Sink(counters: counters))
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
        let counters: Counters

        init(counters: Counters) { self.counters = counters }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            counters.bytesReceived.add(unwrapInboundIn(data).readableBytes, ordering: .relaxed)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
