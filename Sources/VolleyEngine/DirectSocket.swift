import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Opens TCP connections without NIO's connect path, so the connection keeps its socket's
/// descriptor and can write requests with `send(2)` (see ``DirectWriter``).
///
/// NIO has no public way to give back the descriptor of a socket it connected, so Volley
/// makes the socket, connects it (non-blocking) and hands the connected descriptor to NIO
/// with `ClientBootstrap.withConnectedSocket`; NIO then reads from it as usual. Connects
/// still in progress are checked with one `poll(2)` over all of them, on the next loop turn
/// and then every `pollInterval` until they complete, fail, or pass their timeout — the
/// error classes (refused, timeout) stay those of NIO's own connect.
///
/// One per event loop (a run's `LoopWorker`, a plan's `ScenarioLoop`); used on that loop only.
final class DirectConnector {
    typealias Completion = (Result<Int32, any Error>) -> Void

    private struct Pending {
        let fd: Int32
        let deadline: UInt64
        let timeout: TimeAmount
        let isAbandoned: () -> Bool
        let done: Completion
    }

    static let pollInterval: TimeAmount = .microseconds(200)

    private let loop: any EventLoop
    private var pending: [Pending] = []
    private var checkScheduled = false

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Whether direct sockets work on this platform (Linux: `send(2)` with `MSG_NOSIGNAL`).
    static var isSupported: Bool {
        #if canImport(Glibc)
        true
        #else
        false
        #endif
    }

    /// Connects a new socket to `address` and calls `done` with its descriptor once it is
    /// connected, or with the error (`ChannelError.connectTimeout` after `timeout`). When
    /// `isAbandoned` turns true while connecting, the socket is closed and `done` gets
    /// `ChannelError.ioOnClosedChannel`.
    func connect(
        to address: SocketAddress,
        timeout: TimeAmount,
        isAbandoned: @escaping () -> Bool = { false },
        done: @escaping Completion
    ) {
        #if canImport(Glibc)
        let fd = Self.makeSocket(for: address)
        guard fd >= 0 else {
            done(.failure(IOError(errnoCode: errno, reason: "socket")))
            return
        }
        let rc = address.withSockAddr { Glibc.connect(fd, $0, socklen_t($1)) }
        let code = errno
        if rc == 0 {
            done(.success(fd))
        } else if code == EINPROGRESS {
            let deadline = NIODeadline.now().uptimeNanoseconds &+ UInt64(max(0, timeout.nanoseconds))
            pending.append(
                Pending(fd: fd, deadline: deadline, timeout: timeout, isAbandoned: isAbandoned, done: done)
            )
            scheduleCheck(in: nil)
        } else {
            _ = Glibc.close(fd)
            done(.failure(IOError(errnoCode: code, reason: "connect")))
        }
        #else
        done(.failure(ChannelError.operationUnsupported))
        #endif
    }

    #if canImport(Glibc)
    /// A non-blocking TCP socket for `address`'s family; -1 (with `errno`) if none.
    static func makeSocket(for address: SocketAddress) -> Int32 {
        socket(
            address.protocol.rawValue,
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            0
        )
    }

    /// The outcome of a non-blocking connect that `poll(2)` reported: 0, or its `errno`.
    static func connectError(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error
    }
    #endif

    /// Makes a connected descriptor a NIO channel whose pipeline holds `handler`. Call on
    /// `loop`; the future completes there too (use it with `assumeIsolated()`).
    static func adopt(_ fd: Int32, on loop: any EventLoop, handler: any ChannelHandler) -> EventLoopFuture<any Channel>
    {
        let handler = NIOLoopBound(handler, eventLoop: loop)
        return ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .withConnectedSocket(fd)
    }

    private func scheduleCheck(in delay: TimeAmount?) {
        guard !checkScheduled else { return }
        checkScheduled = true
        if let delay {
            loop.assumeIsolated().scheduleTask(in: delay) { [self] in check() }
        } else {
            loop.assumeIsolated().execute { [self] in check() }
        }
    }

    private func check() {
        #if canImport(Glibc)
        checkScheduled = false
        let checking = pending
        pending = []
        guard !checking.isEmpty else { return }
        var fds = checking.map { pollfd(fd: $0.fd, events: Int16(POLLOUT), revents: 0) }
        _ = poll(&fds, nfds_t(fds.count), 0)
        let t = NIODeadline.now().uptimeNanoseconds
        var waiting: [Pending] = []
        for (i, p) in checking.enumerated() {
            if p.isAbandoned() {
                _ = Glibc.close(p.fd)
                p.done(.failure(ChannelError.ioOnClosedChannel))
            } else if fds[i].revents != 0 {
                let error = Self.connectError(p.fd)
                if error == 0 {
                    p.done(.success(p.fd))
                } else {
                    _ = Glibc.close(p.fd)
                    p.done(.failure(IOError(errnoCode: error, reason: "connect")))
                }
            } else if t >= p.deadline {
                _ = Glibc.close(p.fd)
                p.done(.failure(ChannelError.connectTimeout(p.timeout)))
            } else {
                waiting.append(p)
            }
        }
        // Connects begun by the callbacks above are already in `pending`.
        pending = waiting + pending
        if !pending.isEmpty { scheduleCheck(in: Self.pollInterval) }
        #endif
    }
}

/// Writes a connection's requests with one `send(2)` each on its socket's descriptor.
///
/// NIO's write path (pipeline, pending-writes queue, flush) cost about 1 µs of CPU per
/// request, a quarter of Volley's user time against nginx; this is one system call. What
/// `send` does not take (a full socket buffer) goes through NIO, which waits for the socket
/// to become writable; until NIO has written it, later writes go through NIO too, so bytes
/// never overtake each other.
final class DirectWriter {
    let fd: Int32
    /// At most this many bytes per `send` (a test seam that forces the NIO fallback).
    private let limit: Int
    /// Writes handed to NIO and not yet completed.
    private(set) var nioWrites = 0

    init(fd: Int32, limit: Int = .max) {
        self.fd = fd
        self.limit = limit
    }

    /// Writes `buffer`. Returns nil, or the error of a failed `send` (a reset or broken pipe):
    /// the channel is then closed on the next loop turn — not from inside this call, which
    /// the caller is still making — and the caller fails the request with that error when
    /// the channel goes inactive.
    func write(_ buffer: ByteBuffer, context: ChannelHandlerContext) -> IOError? {
        #if canImport(Glibc)
        if nioWrites == 0 {
            let count = buffer.readableBytes
            let sent = buffer.withUnsafeReadableBytes {
                Glibc.send(fd, $0.baseAddress, min($0.count, limit), Int32(MSG_NOSIGNAL))
            }
            if sent == count { return nil }
            let code = errno
            guard sent >= 0 || code == EAGAIN || code == EWOULDBLOCK else {
                context.eventLoop.assumeIsolated().execute { context.close(promise: nil) }
                return IOError(errnoCode: code, reason: "send")
            }
            var rest = buffer
            if sent > 0 { rest.moveReaderIndex(forwardBy: sent) }
            writeThroughNIO(rest, context: context)
            return nil
        }
        #endif
        writeThroughNIO(buffer, context: context)
        return nil
    }

    /// Writes through NIO's channel, counted so direct writes wait until it is done.
    private func writeThroughNIO(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        nioWrites += 1
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { [self] _ in nioWrites -= 1 }
        context.writeAndFlush(NIOAny(buffer), promise: promise)
    }
}
