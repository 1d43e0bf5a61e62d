import NIOCore

/// Holds a TLS server's first flight (ServerHello through Finished) for a fixed time: placed
/// between the socket and `NIOSSLServerHandler`, it queues every write until the first flush,
/// waits `hold`, then lets them all through and steps out of the pipeline.
///
/// The hold starts at the first flush, that is once the ClientHello has been read and answered,
/// so a client sees exactly `hold` more between its connect and its completed handshake — the
/// known delay the handshake phase of a request must show.
final class HandshakeHoldHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let hold: TimeAmount
    private var queued: [(data: NIOAny, promise: EventLoopPromise<Void>?)] = []
    private var timer: Scheduled<Void>?
    private var released = false

    init(hold: TimeAmount) {
        self.hold = hold
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if released {
            context.write(data, promise: promise)
        } else {
            queued.append((data, promise))
        }
    }

    func flush(context: ChannelHandlerContext) {
        if released {
            context.flush()
            return
        }
        guard timer == nil else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: hold) {
            self.release(context: context)
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        timer?.cancel()
        let dropped = queued
        queued.removeAll()
        for entry in dropped { entry.promise?.fail(ChannelError.ioOnClosedChannel) }
        context.close(mode: mode, promise: promise)
    }

    private func release(context: ChannelHandlerContext) {
        released = true
        let held = queued
        queued.removeAll()
        for entry in held { context.write(entry.data, promise: entry.promise) }
        context.flush()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
