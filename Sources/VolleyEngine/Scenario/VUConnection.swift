import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import VolleyCore

/// What a virtual user gets back for one request.
struct VUResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    /// The first `bodyLimit` bytes of the body.
    var body: [UInt8]
    var bytesIn: Int
    var keepAlive: Bool
}

/// A virtual user's connection: sends one request and returns the whole response (status,
/// headers, the start of the body) to a callback, on the VU's event loop.
///
/// Scenario steps need what the plain run engine deliberately skips (headers and bodies for
/// checks and captures), so this handler keeps them, up to `bodyLimit`.
final class VUConnectionHandler: ChannelInboundHandler, RemovableChannelHandler, Slotted {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Outcome {
        case response(VUResponse)
        case failure(TransportErrorClass, String, bytesIn: Int)
        /// A reused connection closed before any byte of the response, and the request is
        /// safe to send again (``RetryPolicy``): the VU sends it once more on a new connection.
        case retry(TransportErrorClass, String)
    }

    private var context: ChannelHandlerContext?
    private var parser = HTTPResponseParser()
    /// The VU waiting for the outstanding request's outcome. Weak: a VU that retired
    /// while its connection still closes must not be kept alive (or called) by it.
    private weak var pending: VirtualUser?
    private var pendingError: (any Error)?
    private(set) var isOpen = false
    private(set) var sentAt: UInt64 = 0
    /// When the outstanding request times out (monotonic nanoseconds).
    var deadline: UInt64 = .max
    /// Position in the loop's list of busy connections (-1: not in it).
    var slot = -1
    /// Set when Volley connected the socket itself: requests go out with `send(2)`.
    var direct: DirectWriter?
    /// Complete responses carried so far: only a reused connection's silent close is retried.
    private var served = 0
    /// The outstanding request may be sent twice (idempotent method or idempotency key).
    private var replayable = false
    /// The direct write of the outstanding request failed before any byte of it left.
    private var nothingWritten = false
    /// TLS: completed when the handshake is done (the connection is usable only then), or
    /// failed with its error or with ``HandshakeTimeout``.
    private var handshake: EventLoopPromise<Void>?
    private var handshakeTimer: Scheduled<Void>?
    /// The handshake's outcome, set up before connecting (TLS connections only).
    var handshakeDone: EventLoopFuture<Void>?
    /// Called when the server closes this connection while it is idle without having said
    /// it would (no `Connection: close`): a reconnect in the run's counts.
    var onSilentClose: (() -> Void)?

    init(bodyLimit: Int) {
        parser.keepsHeaders = .all
        parser.bodyLimit = bodyLimit
    }

    /// Which headers the next response keeps (set before `send`).
    var keepsHeaders: HTTPResponseParser.HeaderRetention {
        get { parser.keepsHeaders }
        set { parser.keepsHeaders = newValue }
    }

    var isBusy: Bool { pending != nil }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) { isOpen = true }

    /// The connect future can complete before `channelActive` is delivered; the VU sends
    /// right away, so it marks the connection open itself.
    func connected() { isOpen = true }

    /// Waits for the TLS handshake, at most until `deadline` (the connect timeout bounds TCP
    /// and TLS together, as in `volley run`): a server that accepts TCP and never answers the
    /// ClientHello is a connect timeout, not a request that hangs until the step timeout.
    func awaitHandshake(on loop: any EventLoop, timeout: TimeAmount) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        handshake = promise
        let seconds = Double(timeout.nanoseconds) / 1e9
        handshakeTimer = loop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            failHandshake(HandshakeTimeout(seconds: seconds))
            context?.close(promise: nil)
        }
        return promise.futureResult
    }

    private func failHandshake(_ error: any Error) {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        let promise = handshake
        handshake = nil
        promise?.fail(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            handshakeTimer?.cancel()
            handshakeTimer = nil
            let promise = handshake
            handshake = nil
            promise?.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func send(_ bytes: ByteBuffer, isHEAD: Bool, replayable: Bool, now: UInt64, owner: VirtualUser) {
        guard let context, isOpen else {
            owner.requestEnded(self, .failure(.noResponse, "connection is closed", bytesIn: 0))
            return
        }
        parser.reset(isHEAD: isHEAD)
        pending = owner
        sentAt = now
        self.replayable = replayable
        nothingWritten = false
        if let direct {
            if let error = direct.write(bytes, context: context) {
                // The request fails when the channel closes, after this call has returned.
                isOpen = false
                nothingWritten = true
                if pendingError == nil { pendingError = error }
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard pending != nil else {
            context.close(promise: nil)
            return
        }
        switch buffer.withUnsafeReadableBytes({ parser.consume($0) }) {
        case .needMore:
            return
        case .complete:
            served += 1
            let keepAlive = parser.keepAlive
            // Marked closed before the VU hears of it: its next step must open a new
            // connection instead of writing to this closing one.
            if !keepAlive { isOpen = false }
            finish(.response(response(keepAlive: keepAlive)))
            if !keepAlive { context.close(promise: nil) }
        case .malformed(let reason):
            isOpen = false
            finish(.failure(.malformed, reason, bytesIn: parser.bytesReceived))
            context.close(promise: nil)
        }
    }

    private func response(keepAlive: Bool) -> VUResponse {
        VUResponse(
            status: parser.status,
            headers: parser.headers,
            body: parser.body,
            bytesIn: parser.bytesReceived,
            keepAlive: keepAlive
        )
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        isOpen = false
        if pendingError == nil { pendingError = error }
        failHandshake(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let wasOpen = isOpen
        isOpen = false
        failHandshake(pendingError ?? HandshakeClosed())
        guard pending != nil else {
            if wasOpen && served > 0 { onSilentClose?() }
            onSilentClose = nil
            return
        }
        onSilentClose = nil
        if parser.connectionClosed() {
            served += 1
            finish(.response(response(keepAlive: false)))
            return
        }
        let close = UnansweredClose(
            pendingError: pendingError,
            responseBytes: parser.bytesReceived,
            reused: served > 0,
            replayable: replayable,
            nothingWritten: nothingWritten,
            // A retry always goes out on a new connection, which is never a reused one.
            alreadyRetried: false
        )
        finish(
            close.retry
                ? .retry(close.failure, close.message)
                : .failure(close.failure, close.message, bytesIn: parser.bytesReceived)
        )
    }

    /// Ends the outstanding request with `error` (timeout, interrupt) and closes.
    func abort(_ error: TransportErrorClass, _ message: String) {
        guard pending != nil else { return }
        isOpen = false
        finish(.failure(error, message, bytesIn: parser.bytesReceived))
        context?.close(promise: nil)
    }

    func close() {
        // Closed at once for the VU's purposes: a direct `send(2)` must never reach the
        // descriptor after NIO has closed it (the number may already belong to a new socket).
        isOpen = false
        context?.close(promise: nil)
    }

    private func finish(_ outcome: Outcome) {
        let owner = pending
        pending = nil
        owner?.requestEnded(self, outcome)
    }
}
