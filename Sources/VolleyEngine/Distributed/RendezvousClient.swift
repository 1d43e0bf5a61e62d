import NIOCore
import NIOPosix

/// Every segment's side of the rendezvous (segment 0's too, over loopback to its own
/// server): connect to segment 0 (retrying while it starts), measure the clock offset,
/// register, wait for the start, then keep the connection for aborts and the bundle.
public enum RendezvousClient {
    /// Joins the run and runs `body` with the started session; the connection closes after
    /// it. Throws a ``RendezvousError`` when segment 0 cannot be reached within the barrier
    /// time-out, refuses this segment, the barrier or the setup fails, or segment 0 is lost
    /// before the start.
    ///
    /// - Parameters:
    ///   - server: on segment 0, its own server (connected over loopback); nil elsewhere.
    ///   - onAbort: called (on a reader task) for every abort after the start, so the engine
    ///     can be stopped; the same aborts are in ``RendezvousSession/aborts``.
    public static func withSession<R: Sendable>(
        _ config: RendezvousConfig,
        server: RendezvousServer? = nil,
        onAbort: (@Sendable (RendezvousAbort) -> Void)? = nil,
        _ body: (RendezvousSession) async throws -> R
    ) async throws -> R {
        let joinStarted = ContinuousClock.now
        let host = server?.connectHost ?? config.host
        let port = server?.port ?? config.port
        let segment0 = "segment 0 at \(host):\(port)"
        let channel = try await connect(
            host: host,
            port: port,
            config: config,
            deadline: joinStarted + config.barrierTimeout
        )
        let core = RendezvousClientCore(segment0: segment0, onAbort: onAbort)
        return try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for try await line in inbound {
                            core.received(try RendezvousMessage(line: line, peer: segment0))
                        }
                        core.closed(RendezvousError(.connectionLost, "\(segment0) closed the connection"))
                    } catch let error as RendezvousError {
                        core.closed(error)
                    } catch {
                        core.closed(RendezvousError(.connectionLost, "the connection to \(segment0) failed: \(error)"))
                    }
                }
                func finish() async {
                    core.finish()
                    channel.channel.close(promise: nil)
                    group.cancelAll()
                    while (try? await group.next()) != nil {}
                }
                do {
                    let session = try await handshake(
                        config,
                        server: server,
                        core: core,
                        outbound: outbound,
                        joinStarted
                    )
                    let result = try await body(session)
                    await finish()
                    return result
                } catch {
                    await finish()
                    throw error
                }
            }
        }
    }

    private static func handshake(
        _ config: RendezvousConfig,
        server: RendezvousServer?,
        core: RendezvousClientCore,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        _ joinStarted: ContinuousClock.Instant
    ) async throws -> RendezvousSession {
        let index = config.segment.index
        let segment0 = core.segment0
        func send(_ message: RendezvousMessage) async throws {
            do {
                try await outbound.write(message.encoded())
            } catch {
                throw RendezvousError(.connectionLost, "segment \(index) could not write to \(segment0): \(error)")
            }
        }
        func unexpected(_ message: RendezvousMessage, _ expected: String) -> RendezvousError {
            RendezvousError(
                .protocolViolation,
                "\(segment0) sent \"\(message.type)\" where \(expected) was expected",
                hint: "run the same Volley version on every segment"
            )
        }
        let probeTimeout = Duration.seconds(5)

        // Clock offset: Cristian's algorithm, keeping the probe with the shortest round trip.
        var samples: [ClockSample] = []
        for id in 0..<max(1, config.clockProbes) {
            let sent = WallClock.now()
            try await send(.ping(id: id, sent: sent))
            let arrival = try await core.next(within: probeTimeout, awaiting: "answer to clock probe \(id)")
            guard case .pong(id, sent, let serverTime) = arrival.message else {
                throw unexpected(arrival.message, "the answer to clock probe \(id)")
            }
            samples.append(ClockSample(sent: sent, server: serverTime, received: arrival.at))
        }
        let best = ClockSample.best(samples)!

        try await send(
            .register(
                .init(
                    segment: index,
                    count: config.segment.count,
                    runKey: config.runKey,
                    offsetNanoseconds: best.offset,
                    rttNanoseconds: best.rtt,
                    protocolVersion: RendezvousMessage.protocolVersion
                )
            )
        )
        // Segment 0 answers "registered", then "start" (or an abort). The start can overtake the
        // "registered" when the last segment registers while this answer is being written, so
        // both orders are accepted. The wait covers the barrier (counted from the first
        // connection attempt), the setup, and a margin.
        let elapsed = ContinuousClock.now - joinStarted
        let startWait =
            max(config.barrierTimeout - elapsed, .zero) + config.setupTimeout + config.startDelay + .seconds(5)
        let deadline = ContinuousClock.now + startWait
        var registered = false
        while true {
            let awaiting = registered ? "start announcement" : "answer to segment \(index)'s registration"
            let arrival = try await core.next(within: max(deadline - ContinuousClock.now, .zero), awaiting: awaiting)
            switch arrival.message {
            case .registered where !registered:
                registered = true
            case .start(let at, let variables):
                return RendezvousSession(
                    segment: index,
                    start: at,
                    sample: best,
                    variables: variables,
                    server: server,
                    core: core,
                    outbound: outbound
                )
            case .abort(let abort):
                throw RendezvousError(abort.kind, abort.reason, hint: hint(for: abort.kind, config))
            case .refused(let reason, let hint):
                throw RendezvousError(
                    .refused,
                    "segment 0 refused segment \(index): \(reason)",
                    hint: hint.isEmpty ? nil : hint
                )
            default:
                throw unexpected(arrival.message, "the \(awaiting)")
            }
        }
    }

    private static func hint(for kind: RendezvousError.Kind, _ config: RendezvousConfig) -> String? {
        switch kind {
        case .barrierTimeout:
            "check that the missing segments started and can reach \(config.host):\(config.port), "
                + "or raise the barrier time-out"
        case .setupFailed: "fix the plan's setup; it runs once, on segment 0"
        default: nil
        }
    }

    /// Connects to segment 0, retrying with a short backoff until `deadline`: segments start
    /// in any order, and a Kubernetes pod's DNS name may not resolve for its first seconds.
    static func connect(
        host: String,
        port: Int,
        config: RendezvousConfig,
        deadline: ContinuousClock.Instant
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let lineLimit = config.maxLineBytes
        var delay = Duration.milliseconds(50)
        var attempts = 0
        while true {
            attempts += 1
            do {
                return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.seconds(2))
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .connect(host: host, port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                ByteToMessageHandler(LineFrameDecoder(limit: lineLimit))
                            )
                            return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
            } catch {
                if ContinuousClock.now + delay >= deadline {
                    throw RendezvousError(
                        .unreachable,
                        "segment \(config.segment.index) could not reach segment 0 at \(host):\(port) within "
                            + "\(config.barrierTimeout.rendezvousText) (\(attempts) attempts; last: \(error))",
                        hint:
                            "is segment 0 running, and does \(host) resolve here? (Kubernetes: the Job's headless Service)"
                    )
                }
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
    }
}
