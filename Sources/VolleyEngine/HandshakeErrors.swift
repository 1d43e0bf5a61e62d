import NIOCore

/// The TLS handshake did not complete within the connect timeout: the connection is counted
/// as a connect timeout, like a TCP connect that never completes.
struct HandshakeTimeout: Error, CustomStringConvertible {
    let seconds: Double

    var description: String {
        "the TLS handshake did not complete within the connect timeout (\(seconds) s)"
    }
}

/// The server closed the connection during the TLS handshake without a TLS alert.
struct HandshakeClosed: Error, CustomStringConvertible {
    var description: String { "the server closed the connection during the TLS handshake" }
}

/// The TLS handshake's share of the connect timeout, for both channel handlers
/// (``HTTPConnection`` and ``H2Session``): armed when TCP is up, disarmed when the handshake
/// completes or the channel goes. If it fires first and the handshake is still not done
/// (it may have completed in the same turn), the handler gets a ``HandshakeTimeout`` as its
/// channel's error — which closes the channel, unless an error came before.
struct HandshakeDeadline {
    private var timer: Scheduled<Void>?

    /// At the handler's connect deadline (``ConnectTarget/connectDeadline``).
    mutating func arm<Handler: ConnectTarget>(for handler: Handler, on context: ChannelHandlerContext) {
        let seconds = handler.connectTimeoutSeconds
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(handler.connectDeadline)) {
            if !handler.handshakeDone {
                handler.errorCaught(context: context, error: HandshakeTimeout(seconds: seconds))
            }
        }
    }

    mutating func disarm() {
        timer?.cancel()
        timer = nil
    }
}
