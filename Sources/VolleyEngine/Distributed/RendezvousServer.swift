import NIOCore
import NIOPosix

/// Segment 0's side of the rendezvous: a TCP listener speaking the line protocol of
/// ``RendezvousMessage`` with one long-lived connection per segment (segment 0's own client
/// included, over loopback, so that every segment goes through the same code).
///
/// Scoped: ``withServer(_:setup:_:)`` listens for the duration of its body and closes every
/// connection after it, so no task or socket outlives the run.
public final class RendezvousServer: Sendable {
    /// The port it listens on (the one chosen by the system when the config says 0).
    public let port: Int
    /// Where segment 0's own client connects: the bound address, or loopback when bound to all.
    let connectHost: String
    let hub: RendezvousHub

    private init(port: Int, connectHost: String, hub: RendezvousHub) {
        self.port = port
        self.connectHost = connectHost
        self.hub = hub
    }

    /// The plan's setup: run once on segment 0 when every segment has registered; the
    /// variables it returns are sent to every segment with the start time.
    public typealias Setup = @Sendable () async throws -> [String: String]

    /// Listens on `config.host` (when it is a numeric address; 0.0.0.0 otherwise) and
    /// `config.port`, runs `body`, then closes. The barrier time-out counts from here.
    public static func withServer<R>(
        _ config: RendezvousConfig,
        setup: Setup? = nil,
        _ body: (RendezvousServer) async throws -> R
    ) async throws -> R {
        let hub = RendezvousHub(config: config)
        let lineLimit = config.maxLineBytes
        let bindHost = (try? SocketAddress(ipAddress: config.host, port: 0)) != nil ? config.host : "0.0.0.0"
        let listener: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: bindHost, port: config.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(LineFrameDecoder(limit: lineLimit))
                        )
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw RendezvousError(
                .unreachable,
                "segment 0 could not listen on \(bindHost):\(config.port) for the rendezvous: \(error)",
                hint: "is another process using that port? choose another with the rendezvous port option"
            )
        }
        let server = RendezvousServer(
            port: listener.channel.localAddress?.port ?? config.port,
            connectHost: bindHost == "0.0.0.0" || bindHost == "::" ? "127.0.0.1" : bindHost,
            hub: hub
        )
        let serverChannel = listener.channel
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await listener.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { connections in
                        for try await connection in inbound {
                            connections.addTask { await server.serve(connection, setup: setup) }
                        }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: config.barrierTimeout)
                await hub.barrierDeadlinePassed().send()
            }
            func shutDown() async {
                hub.state.withLock { $0.collected = true }
                group.cancelAll()
                serverChannel.close(promise: nil)
                while (try? await group.next()) != nil {}
            }
            do {
                let result = try await body(server)
                await shutDown()
                return result
            } catch {
                await shutDown()
                throw error
            }
        }
    }

    /// What each segment registered with (offset and round trip to segment 0, time), by
    /// index, for the merged report.
    public var registrations: [SegmentRegistration] {
        hub.state.withLock { s in s.members.values.map(\.registration).sorted { $0.segment < $1.segment } }
    }

    /// Every abort segment 0 decided or relayed, in order.
    public var aborts: [RendezvousAbort] { hub.state.withLock { $0.aborts } }

    /// Peers refused or dropped for speaking something else than the protocol, in words.
    public var problems: [String] { hub.state.withLock { $0.problems } }

    /// How many times the setup ran (once, or never when the barrier failed).
    public var setupRuns: Int { hub.state.withLock { $0.setupRuns } }

    /// Stores segment 0's own bundle and returns every segment's when all are in, or when
    /// `timeout` has passed, with the missing ones and why. Never waits past `timeout`.
    public func collect(own: [UInt8], timeout: Duration) async -> BundleCollection {
        await hub.collect(own: own, timeout: timeout)
    }

    // MARK: - One connection

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, setup: Setup?) async {
        let peer = connection.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "a peer"
        var index: Int?
        var cause: String?
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await line in inbound {
                    let who = index.map { "\(hub.config.name($0)) (\(peer))" } ?? peer
                    let message: RendezvousMessage
                    do throws(RendezvousError) {
                        message = try RendezvousMessage(line: line, peer: who)
                    } catch {
                        hub.recordProblem(error.message)
                        cause = "it sent something that is not the protocol"
                        let reply = RendezvousMessage.refused(
                            reason: "segment 0 could not read what this segment sent: \(error.message)",
                            hint: error.hint ?? ""
                        )
                        try? await outbound.write(reply.encoded())
                        return
                    }
                    switch message {
                    case .ping(let id, let sent):
                        try await outbound.write(
                            RendezvousMessage.pong(id: id, sent: sent, server: WallClock.now()).encoded()
                        )
                    case .register(let request) where index == nil:
                        switch hub.register(request, peer: peer, writer: outbound) {
                        case .refused(let reply):
                            try? await outbound.write(reply)
                            return
                        case .accepted(let reply, let allIn):
                            index = request.segment
                            try await outbound.write(reply)
                            if allIn { await runSetup(setup) }
                        }
                    case .abort(let abort) where index != nil:
                        await hub.abortRequested(by: index!, reason: abort.reason).send()
                    case .bundle(let segment, let data) where index == segment:
                        hub.bundleReceived(from: segment, data)
                        try await outbound.write(RendezvousMessage.ack(segment: segment).encoded())
                    default:
                        let text = "\(who) sent an unexpected \"\(message.type)\" message"
                        hub.recordProblem(text)
                        cause = "it broke the protocol"
                        try? await outbound.write(
                            RendezvousMessage.refused(reason: text, hint: "run the same Volley version everywhere")
                                .encoded()
                        )
                        return
                    }
                }
            }
        } catch let error as LineFrameDecoder.LineTooLong {
            hub.recordProblem("\(peer) sent \(error)")
            cause = "it sent \(error)"
        } catch {
            cause = "\(error)"
        }
        if let index { await hub.connectionClosed(index, cause: cause).send() }
    }

    /// Runs the setup once, bounded by the setup time-out, then announces the start (or the
    /// abort) to everyone.
    private func runSetup(_ setup: Setup?) async {
        let timeout = hub.config.setupTimeout
        let result: Result<[String: String], any Error>
        if let setup {
            result = await withTaskGroup(of: Result<[String: String], any Error>?.self) { group in
                group.addTask {
                    do { return .success(try await setup()) } catch { return .failure(error) }
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return Task.isCancelled ? nil : .failure(SetupTimedOut(timeout: timeout))
                }
                let first = await group.next()!
                group.cancelAll()
                return first ?? .failure(CancellationError())
            }
        } else {
            result = .success([:])
        }
        await hub.setupFinished(result).send()
    }

    private struct SetupTimedOut: Error, CustomStringConvertible {
        var timeout: Duration
        var description: String { "it did not finish within \(timeout.rendezvousText)" }
    }
}
