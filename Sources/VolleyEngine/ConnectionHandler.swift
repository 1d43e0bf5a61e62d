import NIOCore
import NIOTLS
import VolleyCore

#if canImport(Glibc)
import Glibc
#endif

/// One client connection: writes pre-encoded requests and parses responses at byte level.
///
/// Lives on its worker's event loop and is only touched there; it reports every outcome to
/// the worker, which owns the decision of what to send next.
final class ConnectionHandler: ChannelInboundHandler, RemovableChannelHandler, Slotted {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State: Equatable {
        case connecting
        case idle
        case busy
        /// Closing after an outcome was already recorded: the close must not count again.
        case closing
        case closed
    }

    let worker: LoopWorker
    private(set) var state: State = .connecting
    private var context: ChannelHandlerContext?
    private var parser = HTTPResponseParser()
    private var writeBuffer: ByteBuffer
    private var pendingError: (any Error)?
    /// Whether the TCP connection was ever established.
    private var activated = false
    /// Closed model: a request ticket taken when the connection was opened.
    var holdsTicket = false
    /// Consecutive failed connects of the connection this one replaces (reconnect backoff).
    var connectFailures = 0
    /// Position in the worker's connection list, for O(1) removal.
    var slot = -1
    /// When the current request was written, and when it was due (the same in the closed
    /// model), both in nanoseconds on the monotonic clock.
    private(set) var sentAt: UInt64 = 0
    private(set) var dueAt: UInt64 = 0
    private var sequence: UInt64 = 0
    private let isHEAD: Bool
    private let largeBody: ByteBuffer?
    /// Copied from the worker so a send touches no shared struct.
    private let stampOffset: Int?
    private let loopIndex: Int
    private let isOpenModel: Bool
    /// Set when Volley connected the socket itself (plain HTTP on Linux): requests are then
    /// written with one `send(2)` instead of through NIO's channel (see ``DirectConnector``).
    var direct: DirectWriter?

    /// Complete responses this connection has carried: a connection that has served one is
    /// *reused*, and only a reused connection's silent close is a reason to retry.
    private(set) var served = 0
    /// The current request is a second attempt (``RetryPolicy``): it is never retried again.
    private var isRetry = false
    /// The direct write of the current request failed before any byte of it left.
    private var nothingWritten = false
    /// A request that failed on another connection and is to be sent again on this new one.
    var carried: CarriedRequest?
    /// Set when this connection's request is to be retried after the close is reported.
    var retryAfterClose: CarriedRequest?
    /// TLS: the connection is usable only once the handshake has completed, and the
    /// handshake is bounded by the connect timeout (a server that accepts TCP and never
    /// answers the ClientHello must not hold a connection, or the run, for ever).
    private let awaitsHandshake: Bool
    /// When the connect (TCP and TLS) must have completed, on the monotonic clock.
    var connectDeadline: UInt64 = .max
    private var handshakeTimer: Scheduled<Void>?

    init(worker: LoopWorker) {
        self.worker = worker
        self.writeBuffer = worker.encoder.makeTemplate(loop: worker.index)
        self.isHEAD = worker.encoder.isHEAD
        self.largeBody = worker.encoder.largeBody
        self.stampOffset = worker.encoder.hasRequestID ? worker.encoder.sequenceOffset : nil
        self.loopIndex = worker.index
        self.isOpenModel = worker.isOpenModel
        self.awaitsHandshake = worker.isTLS
        // Twice the excerpt, so that the redaction sees a secret cut at the excerpt's end.
        parser.errorBodyLimit = 2 * ResponseSamples.excerptBytes
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        guard awaitsHandshake else { return becameReady() }
        // TCP is up; the TLS handshake has the rest of the connect timeout.
        let deadline = NIODeadline.uptimeNanoseconds(connectDeadline)
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            guard !activated, let context = self.context else { return }
            if pendingError == nil { pendingError = HandshakeTimeout(seconds: worker.connectTimeoutSeconds) }
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, !activated {
            handshakeTimer?.cancel()
            handshakeTimer = nil
            becameReady()
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The connection can carry requests (TCP connected, and the TLS handshake done).
    private func becameReady() {
        activated = true
        if state == .connecting { state = .idle }
        // Reported even when already closing, so the worker's count of connects settles.
        worker.connectionReady(self)
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
        let progress = buffer.withUnsafeReadableBytes { parser.consume($0) }
        switch progress {
        case .needMore:
            return
        case .complete:
            state = .idle
            served += 1
            if parser.status >= 400 { sampleErrorBody() }
            let keepAlive = parser.keepAlive && worker.keepAlive
            worker.responseCompleted(
                self,
                status: parser.status,
                bytesIn: parser.bytesReceived,
                sentAt: sentAt,
                dueAt: dueAt,
                sequence: sequence,
                keepAlive: keepAlive
            )
            if !keepAlive && state == .idle {
                close()
            }
        case .malformed(let reason):
            fail(.malformed, message: reason)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if pendingError == nil { pendingError = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        let previous = state
        if !activated && (previous == .connecting || previous == .closing) {
            // The TCP connection came up but the TLS handshake did not complete: a failed
            // connect, with the handshake's error (or its timeout).
            worker.connectFailed(self, error: pendingError ?? HandshakeClosed())
            return
        }
        state = .closed
        switch previous {
        case .busy:
            if parser.connectionClosed() {
                served += 1
                if parser.status >= 400 { sampleErrorBody() }
                worker.responseCompleted(
                    self,
                    status: parser.status,
                    bytesIn: parser.bytesReceived,
                    sentAt: sentAt,
                    dueAt: dueAt,
                    sequence: sequence,
                    keepAlive: false
                )
            } else {
                let close = UnansweredClose(
                    pendingError: pendingError,
                    responseBytes: parser.bytesReceived,
                    reused: served > 0,
                    replayable: worker.encoder.isReplayable,
                    nothingWritten: nothingWritten,
                    alreadyRetried: isRetry
                )
                if close.retry {
                    retryAfterClose = CarriedRequest(sequence: sequence, dueAt: dueAt, sentAt: sentAt)
                }
                worker.requestFailed(
                    self,
                    close.failure,
                    message: close.message,
                    bytesIn: parser.bytesReceived,
                    retryable: close.retry
                )
            }
        case .idle:
            // The server closed a keep-alive connection it had not said it would close.
            worker.connectionDroppedWhileIdle(self)
        default:
            break
        }
        worker.connectionClosed(self)
    }

    /// Keeps the start of an error response's body, while its status still wants samples.
    /// Only responses with status >= 400 get here: a 2xx response pays the one comparison.
    private func sampleErrorBody() {
        guard worker.recorder.responseSamples.wants(status: parser.status) else { return }
        worker.recorder.responseSamples.recordError(
            status: parser.status,
            body: parser.body,
            totalBytes: parser.bodyBytes
        )
    }

    // MARK: - Commands from the worker

    /// Writes the next request. `dueAt` is the intended start (open model) or now (closed).
    func send(sequence: UInt64, dueAt: UInt64, now: UInt64, isRetry: Bool = false) {
        guard let context, state == .idle else {
            preconditionFailure("Invalid state: send in \(state)")
        }
        state = .busy
        self.sequence = sequence
        self.dueAt = dueAt
        self.sentAt = now
        self.isRetry = isRetry
        nothingWritten = false
        parser.reset(isHEAD: isHEAD)
        if let stampOffset {
            RequestEncoder.stamp(&writeBuffer, at: stampOffset, loop: loopIndex, sequence: sequence)
        }
        var requestBytes = writeBuffer.readableBytes
        if let body = largeBody {
            context.write(wrapOutboundOut(writeBuffer), promise: nil)
            context.writeAndFlush(wrapOutboundOut(body), promise: nil)
            requestBytes += body.readableBytes
        } else if let direct {
            if let error = direct.write(writeBuffer, context: context) {
                // The request's failure, reported when the channel closes. `write` reports an
                // error only when its `send` failed outright, so nothing of the request left.
                nothingWritten = true
                if pendingError == nil { pendingError = error }
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(writeBuffer), promise: nil)
        }
        if isRetry {
            // The bytes went out again, but it is not another request, nor a late one.
            worker.recorder.recordResend(bytes: requestBytes)
        } else {
            worker.recorder.recordSend(bytes: requestBytes, lagNanos: isOpenModel ? now &- dueAt : nil)
        }
    }

    /// Sends `request` again on this new connection (it failed on a reused one). Its latency
    /// still counts from its first due time, and its timeout from its first write.
    func resend(_ request: CarriedRequest, now: UInt64) {
        send(sequence: request.sequence, dueAt: request.dueAt, now: now, isRetry: true)
        sentAt = request.sentAt
    }

    /// Ends the current request with `error` (timeout, interrupt, malformed) and closes.
    func fail(_ error: TransportErrorClass, message: String) {
        guard state == .busy else { return }
        state = .closing
        worker.requestFailed(self, error, message: message, bytesIn: parser.bytesReceived)
        context?.close(promise: nil)
    }

    /// Closes an idle connection (no more work, or the server asked to close).
    func close() {
        switch state {
        case .idle, .connecting:
            state = .closing
            context?.close(promise: nil)
        default:
            break
        }
    }
}

/// A request to be sent again on a new connection: the same id, due time and first write.
struct CarriedRequest {
    let sequence: UInt64
    let dueAt: UInt64
    let sentAt: UInt64
}

extension ConnectionHandler {
    /// Uses the ticket taken at open time, if any.
    func spendTicket() -> Bool {
        guard holdsTicket else { return false }
        holdsTicket = false
        return true
    }

    /// The connect attempt failed; returns false if the connection had been established
    /// (its closing is then reported through `channelInactive`).
    func connectFailed() -> Bool {
        // A connection still connecting may already have been told to close (`.closing`)
        // because the work ran out; its failed connect must still be reported.
        guard state == .connecting || (state == .closing && !activated) else { return false }
        state = .closed
        return true
    }
}
