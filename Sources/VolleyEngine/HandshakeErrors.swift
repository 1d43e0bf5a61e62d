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
