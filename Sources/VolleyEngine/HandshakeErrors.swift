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
/// completes or the channel goes. If it fires first and the handshake is still not done, the
/// channel closes and its error is a ``HandshakeTimeout`` (unless an error came before).
struct HandshakeDeadline {
    private var timer: Scheduled<Void>?

    /// `isDone`: the handshake completed (the timer may fire in the same turn); `fail`: sets
    /// the channel's error when it has none and closes it.
    mutating func arm(
        at deadline: UInt64,
        seconds: Double,
        on context: ChannelHandlerContext,
        isDone: @escaping () -> Bool,
        fail: @escaping (any Error) -> Void
    ) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(deadline)) {
            if !isDone() { fail(HandshakeTimeout(seconds: seconds)) }
        }
    }

    mutating func disarm() {
        timer?.cancel()
        timer = nil
    }
}
