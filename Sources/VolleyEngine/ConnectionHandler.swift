import NIOCore
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

    init(worker: LoopWorker) {
        self.worker = worker
        self.writeBuffer = worker.encoder.makeTemplate(loop: worker.index)
        self.isHEAD = worker.encoder.isHEAD
        self.largeBody = worker.encoder.largeBody
        self.stampOffset = worker.encoder.hasRequestID ? worker.encoder.sequenceOffset : nil
        self.loopIndex = worker.index
        self.isOpenModel = worker.isOpenModel
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
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
        let previous = state
        state = .closed
        if previous == .busy {
            if parser.connectionClosed() {
                worker.responseCompleted(
                    self,
                    status: parser.status,
                    bytesIn: parser.bytesReceived,
                    sentAt: sentAt,
                    dueAt: dueAt,
                    sequence: sequence,
                    keepAlive: false
                )
            } else if let error = pendingError {
                worker.requestFailed(
                    self,
                    ErrorClassifier.classify(error, connecting: false),
                    message: ErrorClassifier.message(error),
                    bytesIn: parser.bytesReceived
                )
            } else if parser.hasStarted {
                worker.requestFailed(
                    self,
                    .malformed,
                    message: "connection closed before the response was complete",
                    bytesIn: parser.bytesReceived
                )
            } else {
                worker.requestFailed(
                    self,
                    .noResponse,
                    message: "connection closed without a response",
                    bytesIn: 0
                )
            }
        }
        state = .closed
        worker.connectionClosed(self)
    }

    // MARK: - Commands from the worker

    /// Writes the next request. `dueAt` is the intended start (open model) or now (closed).
    func send(sequence: UInt64, dueAt: UInt64, now: UInt64) {
        guard let context, state == .idle else {
            preconditionFailure("Invalid state: send in \(state)")
        }
        state = .busy
        self.sequence = sequence
        self.dueAt = dueAt
        self.sentAt = now
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
            if let error = direct.write(writeBuffer, context: context), pendingError == nil {
                pendingError = error  // the request's failure, reported when the channel closes
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(writeBuffer), promise: nil)
        }
        worker.recorder.recordSend(bytes: requestBytes, lagNanos: isOpenModel ? now &- dueAt : nil)
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
