import NIOCore
import NIOTLS
import VolleyCore

/// What a connection reports to the code that decides what it sends next: a URL run's
/// ``LoopWorker`` (one owner for all of a loop's connections) or a plan's ``VirtualUser``
/// (one owner per VU). Every callback runs on the connection's event loop.
///
/// The connection owns the protocol — the state of the socket, the parsing, and how a close
/// is classified — and the owner owns the accounting: which request was on it, what counts
/// as sent, what happens next. Both engines share the first, so each protocol feature (phase
/// timings now, HTTP/2 next) is written once.
protocol ConnectionOwner: AnyObject, SendableMetatype {
    /// What the owner keeps on each of its connections (the URL engine: the request
    /// template, the ticket, the carried retry; a VU: the authority).
    associatedtype ConnectionData

    /// The connection can carry requests (TCP is up, and TLS's handshake done).
    func connectionReady(_ c: HTTPConnection<Self>)
    /// The connect failed (refused, timed out, or the handshake failed or timed out).
    func connectFailed(_ c: HTTPConnection<Self>, error: any Error)
    /// The outstanding request got its whole response, complete at `t` (monotonic ns); the
    /// parser holds its status, headers and body. `keepAlive` false: the connection closes.
    func responseCompleted(_ c: HTTPConnection<Self>, at t: UInt64, keepAlive: Bool)
    /// The outstanding request failed. `retry`: it is safe to send again on a new connection
    /// (``RetryPolicy``) and the owner should, once the close is reported.
    func requestFailed(
        _ c: HTTPConnection<Self>,
        _ error: TransportErrorClass,
        message: String,
        bytesIn: Int,
        retry: Bool
    )
    /// The server closed the connection while idle, without having said it would.
    func connectionDroppedWhileIdle(_ c: HTTPConnection<Self>)
    /// The connection is gone (after any of the above). Not called after `connectFailed`.
    func connectionClosed(_ c: HTTPConnection<Self>)
    /// Handles bytes an HTTP/2 session read, in code compiled for this owner type. NIO calls
    /// a handler through its protocol, and a generic class's method reached that way runs
    /// unspecialized: every access to the session's lanes looked up generic metadata at run
    /// time (3 % of an h2c run's CPU, measured). A static requirement's witness is compiled
    /// per conforming type, so the session's read goes through here. Not meant to be
    /// implemented: the extension's is the one.
    static func sessionRead(_ session: H2Session<Self>, _ bytes: ByteBuffer)
}

extension ConnectionOwner {
    static func sessionRead(_ session: H2Session<Self>, _ bytes: ByteBuffer) {
        session.read(bytes)
    }
}

/// One HTTP/1.1 client connection for both engines: writes requests, parses responses at
/// byte level, times each request's phases, and classifies how the connection ended.
///
/// A connection carries one request at a time (HTTP/1.1 without pipelining); a multiplexed
/// protocol fits the same owner callbacks with a stream in place of the connection, which is
/// why the owner's accounting lives apart from this type. Lives on one event loop.
final class HTTPConnection<Owner: ConnectionOwner>: ChannelInboundHandler, RemovableChannelHandler, Slotted,
    ConnectTarget
{
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State: Equatable {
        case connecting
        case idle
        case busy
        /// Closing after an outcome was already reported: the close must not count again.
        case closing
        case closed
    }

    /// Nil once the owner let go of the connection (a retired VU): nothing is reported then.
    var owner: Owner?
    var data: Owner.ConnectionData
    var state: State = .connecting
    private(set) var context: ChannelHandlerContext?
    /// The response being read; the owner reads status, headers and body from it.
    var parser = HTTPResponseParser()
    private var pendingError: (any Error)?
    /// Whether the connection ever became usable (TCP, and TLS's handshake).
    var activated = false
    /// False: close after each response (`--no-keepalive`).
    var keepAlive = true
    /// Position in the owner's list of connections, for O(1) removal.
    var slot = -1
    /// When the outstanding request times out (monotonic ns); `.max` when none is.
    var deadline: UInt64 = .max
    /// HTTP/2: the connection this lane's requests are streams of (nil: HTTP/1.1, the lane is
    /// the connection). A lane looks to its owner like a connection carrying one request at
    /// a time; the session multiplexes its lanes' requests on one TCP connection.
    var session: H2Session<Owner>?
    /// HTTP/2: the stream of the outstanding request (0: none).
    var streamID: UInt32 = 0
    /// Whether this connection's readiness opened a transport (an HTTP/1.1 connection, or
    /// the lane whose request made its HTTP/2 session connect): what `connections opened`
    /// counts.
    var opensTransport = true
    /// Set when Volley connected the socket itself (plain HTTP on Linux): requests are
    /// written with one `send(2)` instead of through NIO's channel (see ``DirectConnector``).
    var direct: DirectWriter?

    /// Complete responses this connection has carried: a connection that has served one is
    /// *reused*, and only a reused connection's silent close is a reason to retry.
    var served = 0
    /// The outstanding request is a second attempt (``RetryPolicy``): never retried again.
    var isRetry = false
    var replayable = false
    /// The direct write of the outstanding request failed before any byte of it left.
    private var nothingWritten = false

    // MARK: Timing (monotonic nanoseconds)

    /// TLS: the connection is usable only once the handshake has completed, and the
    /// handshake is bounded by the connect deadline (a server that accepts TCP and never
    /// answers the ClientHello must not hold a connection, or the run, for ever).
    let awaitsHandshake: Bool
    private var handshake = HandshakeDeadline()
    /// When the connect began, and by when TCP and TLS together must be done.
    var connectStartedAt: UInt64 = 0
    var connectDeadline: UInt64 = .max
    /// The connect timeout, for the handshake timeout's message.
    var connectTimeoutSeconds: Double = 10
    /// How long the name lookup for this connection took (nil: none, the address was known).
    var dnsNanos: UInt64?
    var tcpConnectedAt: UInt64 = 0
    var readyAt: UInt64 = 0
    /// The connection's set-up costs, handed to the first request that completes on it.
    var setupUnclaimed = false
    /// When the outstanding request's write began, when the write call returned, and when
    /// its response's first byte was read (0: not yet).
    var sentAt: UInt64 = 0
    var writtenAt: UInt64 = 0
    var firstByteAt: UInt64 = 0

    init(owner: Owner, data: Owner.ConnectionData, tls: Bool) {
        self.owner = owner
        self.data = data
        self.awaitsHandshake = tls
    }

    @inline(__always)
    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    /// Idle and usable: the owner may `send`.
    var isReady: Bool { state == .idle }
    /// Usable now or soon (connecting): counted as open by the owner's gauges.
    var isOpen: Bool { state == .idle || state == .busy }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        tcpConnectedAt = Self.now()
        guard awaitsHandshake else { return becameReady(at: tcpConnectedAt) }
        // TCP is up; the TLS handshake has the rest of the connect timeout.
        handshake.arm(for: self, on: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, !activated {
            handshake.disarm()
            becameReady(at: Self.now())
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func becameReady(at t: UInt64) {
        activated = true
        readyAt = t
        setupUnclaimed = true
        if state == .connecting { state = .idle }
        // Reported even when already closing, so the owner's count of connects settles.
        owner?.connectionReady(self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard state == .busy else {
            // Bytes nobody asked for: the server is not speaking request/response HTTP.
            if state == .idle {
                state = .closing
                context.close(promise: nil)
            }
            return
        }
        var t: UInt64 = 0
        if firstByteAt == 0 {
            t = Self.now()
            firstByteAt = t
        }
        switch buffer.withUnsafeReadableBytes({ parser.consume($0) }) {
        case .needMore:
            return
        case .complete:
            served += 1
            let keep = parser.keepAlive && keepAlive
            // Marked before the owner hears of it: its next request must not be written to
            // a connection about to close.
            state = keep ? .idle : .closing
            deadline = .max
            // A response that arrived in one read completed when its first byte was read.
            owner?.responseCompleted(self, at: t == 0 ? Self.now() : t, keepAlive: keep)
            if !keep { context.close(promise: nil) }
        case .malformed(let reason):
            fail(.malformed, message: reason)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if pendingError == nil { pendingError = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.disarm()
        guard activated else {
            // TCP came up but the TLS handshake did not complete: a failed connect, with the
            // handshake's error (or its timeout).
            connectAttemptFailed(pendingError ?? HandshakeClosed())
            return
        }
        let previous = state
        state = .closed
        switch previous {
        case .busy:
            deadline = .max
            if parser.connectionClosed() {
                // A response delimited by the close (no length, no chunking).
                served += 1
                owner?.responseCompleted(self, at: Self.now(), keepAlive: false)
            } else {
                let close = UnansweredClose(
                    pendingError: pendingError,
                    responseBytes: parser.bytesReceived,
                    reused: served > 0,
                    replayable: replayable,
                    nothingWritten: nothingWritten,
                    alreadyRetried: isRetry
                )
                owner?.requestFailed(
                    self,
                    close.failure,
                    message: close.message,
                    bytesIn: parser.bytesReceived,
                    retry: close.retry
                )
            }
        case .idle:
            owner?.connectionDroppedWhileIdle(self)
        default:
            break
        }
        owner?.connectionClosed(self)
    }

    /// The connect attempt failed (reported by the factory, or by the close of a connection
    /// whose handshake never completed). Ignored once the connection was established: its
    /// end is reported through `channelInactive`. A connection still connecting may already
    /// have been told to close (`.closing`) because the work ran out; its failure must still
    /// reach the owner, whose count of connects in progress depends on it.
    func connectAttemptFailed(_ error: any Error) {
        guard !activated, state == .connecting || state == .closing else { return }
        state = .closed
        owner?.connectFailed(self, error: error)
    }

    /// Told to close while connecting (or failed already): a socket connected now is closed.
    var abandonsConnect: Bool { state != .connecting }
    var handshakeDone: Bool { activated }

    // MARK: - Commands from the owner

    /// Writes a request: `head` (and `body`, when large bodies go as a second buffer).
    /// `now` is when the request starts; the write's own duration is its send phase.
    func send(
        _ head: ByteBuffer,
        body: ByteBuffer? = nil,
        isHEAD: Bool,
        replayable: Bool,
        isRetry: Bool = false,
        requestID: UInt64 = 0,
        h2Request: H2RequestTemplate? = nil,
        now: UInt64
    ) {
        if let session {
            // HTTP/2: the request is a stream of the lane's session (its template, this id).
            guard state == .idle else { preconditionFailure("Invalid state: send in \(state)") }
            state = .busy
            sentAt = now
            writtenAt = now
            firstByteAt = 0
            self.isRetry = isRetry
            self.replayable = replayable
            parser.reset(isHEAD: isHEAD)
            session.send(lane: self, request: h2Request, requestID: requestID)
            return
        }
        guard let context, state == .idle else {
            preconditionFailure("Invalid state: send in \(state)")
        }
        state = .busy
        sentAt = now
        firstByteAt = 0
        self.isRetry = isRetry
        self.replayable = replayable
        nothingWritten = false
        parser.reset(isHEAD: isHEAD)
        if let body {
            context.write(wrapOutboundOut(head), promise: nil)
            context.writeAndFlush(wrapOutboundOut(body), promise: nil)
        } else if let direct {
            if let error = direct.write(head, context: context) {
                // The request's failure, reported when the channel closes. `write` reports an
                // error only when its `send` failed outright, so nothing of the request left.
                nothingWritten = true
                if pendingError == nil { pendingError = error }
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(head), promise: nil)
        }
        writtenAt = Self.now()
    }

    /// The phases of the request that just completed at `t`. The first request on a new
    /// connection also carries the connection's set-up (name lookup, TCP connect, TLS).
    func phases(completedAt t: UInt64) -> PhaseSample {
        var sample = PhaseSample(
            sendNanos: writtenAt &- sentAt,
            waitNanos: firstByteAt > writtenAt ? firstByteAt &- writtenAt : 0,
            receiveNanos: firstByteAt > 0 && t > firstByteAt ? t &- firstByteAt : 0
        )
        if setupUnclaimed {
            setupUnclaimed = false
            sample.dnsNanos = dnsNanos
            sample.connectNanos = tcpConnectedAt &- connectStartedAt
            if awaitsHandshake { sample.tlsNanos = readyAt &- tcpConnectedAt }
        }
        return sample
    }

    /// Ends the outstanding request with `error` (timeout, interrupt, malformed) and closes.
    func fail(_ error: TransportErrorClass, message: String) {
        guard state == .busy else { return }
        if let session { return session.fail(lane: self, error, message: message) }
        state = .closing
        deadline = .max
        owner?.requestFailed(self, error, message: message, bytesIn: parser.bytesReceived, retry: false)
        context?.close(promise: nil)
    }

    /// Closes an idle or connecting connection (no more work, or the server asked to close).
    func close() {
        if let session { return session.release(lane: self) }
        switch state {
        case .idle, .connecting:
            state = .closing
            context?.close(promise: nil)
        default:
            break
        }
    }
}
