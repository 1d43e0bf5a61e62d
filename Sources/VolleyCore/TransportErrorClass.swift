/// Why a request got no usable HTTP response.
///
/// A closed set, like wrk's connect/read/write/timeout split, because each class becomes a
/// table row, a JSON key and later a database column, and because they mean different
/// things: `connectionRefused` is a server that is down, `noResponse` is a server that
/// accepted and then dropped the request (backlog or worker exhaustion), `timeout` is a
/// server that is too slow. Lumping them hides the diagnosis.
public enum TransportErrorClass: String, CaseIterable, Codable, Sendable, Comparable {
    /// The TCP connection was refused (nothing listening, or the backlog is full).
    case connectionRefused = "connection_refused"
    /// The TCP (and TLS) connection was not established within `--connect-timeout`.
    case connectTimeout = "connect_timeout"
    /// The host name could not be resolved.
    case dns = "dns"
    /// The TLS handshake or TLS record layer failed (certificate, protocol, alert).
    case tls = "tls"
    /// The peer reset the connection (RST) while the request was outstanding.
    case reset = "reset"
    /// No complete response within `--timeout` of sending (or of the intended time, in the
    /// open model, the timeout counts from the send).
    case timeout = "timeout"
    /// Bytes arrived that are not a valid HTTP/1.x response.
    case malformed = "malformed"
    /// The connection was closed cleanly before any byte of a response arrived.
    case noResponse = "no_response"
    /// The run was stopped (Ctrl-C) before the response arrived.
    case interrupted = "interrupted"
    /// Any other socket-level failure (for example the generator ran out of file
    /// descriptors); the summary carries a sample message.
    case other = "other"
    /// The request was not sent because it could not be written safely: a URL or header value
    /// rendered during the run (from a capture, a feed, the environment) held a line break or
    /// a control byte, or named a port that does not exist. Counted, never sent.
    case invalidRequest = "invalid_request"
    /// HTTP/2: the server reset the request's stream (RST_STREAM), the connection staying up.
    case streamReset = "stream_reset"
    /// HTTP/2: the server ended the connection with GOAWAY and an error code, or the request
    /// was above its last stream and could not be retried.
    case goAway = "goaway"

    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.index < rhs.index
    }

    /// Stable position, used as an array index by recorders.
    public var index: Int {
        switch self {
        case .connectionRefused: return 0
        case .connectTimeout: return 1
        case .dns: return 2
        case .tls: return 3
        case .reset: return 4
        case .timeout: return 5
        case .malformed: return 6
        case .noResponse: return 7
        case .interrupted: return 8
        case .other: return 9
        case .invalidRequest: return 10
        case .streamReset: return 11
        case .goAway: return 12
        }
    }

    /// How the class reads in a table ("connection refused").
    public var label: String {
        rawValue.replacingUnderscores()
    }
}

extension String {
    func replacingUnderscores() -> String {
        String(self.map { $0 == "_" ? " " : $0 })
    }
}
