import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The listening half every proof server shares: a bound 127.0.0.1:0 channel, the connections it
/// accepted and a shutdown that closes them all, so each server file only says how it answers.
///
/// Connections are closed at the socket on shutdown (below any TLS handler, no close_notify), so
/// that shutting down never waits on a client that does not answer one.
final class ServerHost: Sendable {
    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let registry: ChildRegistry

    private init(port: Int, group: MultiThreadedEventLoopGroup, channel: any Channel, registry: ChildRegistry) {
        self.port = port
        self.group = group
        self.channel = channel
        self.registry = registry
    }

    /// Binds 127.0.0.1:0 and calls `initialize` on each accepted connection's event loop to build
    /// its pipeline.
    static func start(
        threads: Int = 1,
        initialize: @escaping @Sendable (any Channel) throws -> Void
    ) async throws -> ServerHost {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let registry = ChildRegistry()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    registry.register(channel)
                    try initialize(channel)
                }
            }
        do {
            let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
            guard let port = channel.localAddress?.port else {
                try? await channel.close()
                throw ChannelError.unknownLocalAddress
            }
            return ServerHost(port: port, group: group, channel: channel, registry: registry)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Closes the listener and every open connection, then the event loop group. Idempotent.
    func shutdown() async throws {
        guard let open = registry.close() else { return }
        try? await channel.close()
        for child in open {
            try? await child.eventLoop.submit {
                if let tls = try? child.pipeline.syncOperations.context(handlerType: NIOSSLServerHandler.self) {
                    tls.close(promise: nil)
                } else {
                    child.close(promise: nil)
                }
            }.flatMap { child.closeFuture }.get()
        }
        try await group.shutdownGracefully()
    }
}

/// Tracks accepted connections until they close; shared by reference between the bootstrap's
/// initializer (which runs before the host exists) and the host.
private final class ChildRegistry: Sendable {
    private struct Children {
        var isShutDown = false
        var channels: [ObjectIdentifier: any Channel] = [:]
    }

    private let children = Mutex(Children())

    func register(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let accepted = children.withLock { children in
            guard !children.isShutDown else { return false }
            children.channels[id] = channel
            return true
        }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { _ in
            _ = self.children.withLock { $0.channels.removeValue(forKey: id) }
        }
    }

    /// Marks the server as shutting down and hands back the open connections; nil when that had
    /// already happened.
    func close() -> [any Channel]? {
        children.withLock { children in
            guard !children.isShutDown else { return nil }
            children.isShutDown = true
            defer { children.channels.removeAll() }
            return Array(children.channels.values)
        }
    }
}
