import NIOCore
import VolleyCore

/// When a request that got no response may be sent again, on a new connection.
///
/// HTTP/1.1 lets a server close a keep-alive connection at any moment without saying so
/// first (RFC 9112 §9.6): on an idle timeout, after N requests, when a worker restarts. A
/// request written just as that close arrives never reaches the application. Counting it as
/// the server's failure blamed servers that had answered every request they received (25 %
/// "no response" against one that closes after every third response). Mature clients retry
/// such a request once; the rules are Go's `net/http` (`persistConn.shouldRetryRequest`):
///
/// - only on a **reused** connection: a fresh connection that closes without answering is
///   the server's answer, and stays an error;
/// - only when **no byte of the response** arrived: once the server started answering, it
///   saw the request;
/// - only when the request is **safe to send twice**: an idempotent method (RFC 9110 §9.2.2:
///   GET, HEAD, OPTIONS, TRACE, PUT, DELETE) or an `Idempotency-Key` header; any request
///   whose write failed before a byte of it left (the server cannot have seen it);
/// - **once**: a retried request that fails again is counted with its failure.
public enum RetryPolicy {
    /// Whether the request should be sent again on a new connection.
    ///
    /// - Parameters:
    ///   - reused: the connection had already carried a complete response.
    ///   - responseBytes: bytes of this request's response received before the close.
    ///   - replayable: the method is idempotent or the request has an idempotency key.
    ///   - nothingWritten: the write failed before any byte of the request was sent.
    ///   - failure: how the connection ended (nil: a clean close).
    ///   - alreadyRetried: this is the request's second attempt.
    public static func shouldRetry(
        reused: Bool,
        responseBytes: Int,
        replayable: Bool,
        nothingWritten: Bool,
        failure: TransportErrorClass?,
        alreadyRetried: Bool
    ) -> Bool {
        guard reused, responseBytes == 0, !alreadyRetried else { return false }
        // A clean close, or a reset/broken pipe from a server that had closed its end: what a
        // silently closed keep-alive connection looks like. Any other failure (TLS, timeout,
        // interrupt) is not a close race.
        switch failure {
        case nil, .noResponse?, .reset?: break
        default: return false
        }
        return replayable || nothingWritten
    }

    /// Whether a request may be sent twice without changing what it does (RFC 9110 §9.2.2),
    /// or carries a key that lets the server recognise a repeat (Go retries those too).
    public static func isReplayable(method: String, headerNames: [String]) -> Bool {
        switch method.uppercased() {
        case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
            return true
        default:
            return headerNames.contains {
                $0.equalsIgnoringASCIICase("idempotency-key") || $0.equalsIgnoringASCIICase("x-idempotency-key")
            }
        }
    }
}

/// What a connection's close means for the request it carried, when no complete response
/// arrived: its failure class and message, and whether it is retried. One judgement for both
/// engines' connection handlers (`volley run` and plan VUs), so the two cannot drift apart.
struct UnansweredClose {
    let failure: TransportErrorClass
    let message: String
    let retry: Bool

    /// - Parameters:
    ///   - pendingError: the error the channel reported before closing, if any.
    ///   - responseBytes: bytes of the response received before the close.
    ///   - reused, replayable, nothingWritten, alreadyRetried: as in ``RetryPolicy``.
    init(
        pendingError: (any Error)?,
        responseBytes: Int,
        reused: Bool,
        replayable: Bool,
        nothingWritten: Bool,
        alreadyRetried: Bool
    ) {
        if let error = pendingError {
            failure = ErrorClassifier.classify(error, connecting: false)
            message = ErrorClassifier.message(error)
        } else if responseBytes > 0 {
            failure = .malformed
            message = "connection closed before the response was complete"
        } else {
            failure = .noResponse
            message = "connection closed without a response"
        }
        retry = RetryPolicy.shouldRetry(
            reused: reused,
            responseBytes: responseBytes,
            replayable: replayable,
            nothingWritten: nothingWritten,
            failure: failure,
            alreadyRetried: alreadyRetried
        )
    }
}

/// How long a connection (or a VU) waits before connecting again after failed connects: a
/// refusing target must not be hammered in a busy loop (220,000 connects in 2 s on 4
/// connections), and a run that only ever failed to connect must not look like a load test.
/// Each attempt is still one failed request, as a client would see it.
public enum ReconnectBackoff {
    /// The pause after `failures` consecutive failed connects: 10 ms, doubling up to 500 ms.
    public static func delay(afterFailures failures: Int) -> TimeAmount {
        let exponent = min(max(failures - 1, 0), 6)
        return .milliseconds(Int64(min(10 << exponent, 500)))
    }
}
