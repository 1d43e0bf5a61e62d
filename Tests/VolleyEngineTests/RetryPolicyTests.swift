import Testing
import VolleyCore

@testable import VolleyEngine

/// Go's `net/http` rules for sending a request again after its connection closed.
struct RetryPolicyTests {
    private func retry(
        reused: Bool = true,
        bytes: Int = 0,
        replayable: Bool = true,
        nothingWritten: Bool = false,
        failure: TransportErrorClass? = .noResponse,
        retried: Bool = false
    ) -> Bool {
        RetryPolicy.shouldRetry(
            reused: reused,
            responseBytes: bytes,
            replayable: replayable,
            nothingWritten: nothingWritten,
            failure: failure,
            alreadyRetried: retried
        )
    }

    @Test func aSilentCloseOfAReusedConnectionIsRetried() {
        #expect(retry())
        #expect(retry(failure: .reset))
        #expect(retry(failure: nil))
    }

    @Test func aFreshConnectionsCloseIsTheServersAnswer() {
        #expect(!retry(reused: false))
    }

    @Test func onceTheResponseStartedTheServerSawTheRequest() {
        #expect(!retry(bytes: 1))
    }

    @Test func onlyOnce() {
        #expect(!retry(retried: true))
    }

    @Test func unsafeRequestsOnlyWhenNothingWasWritten() {
        #expect(!retry(replayable: false))
        #expect(retry(replayable: false, nothingWritten: true))
    }

    @Test func otherFailuresAreNotCloseRaces() {
        for failure: TransportErrorClass in [.timeout, .tls, .interrupted, .malformed, .other] {
            #expect(!retry(failure: failure), "\(failure)")
        }
    }

    @Test func idempotentMethodsAndIdempotencyKeysAreReplayable() {
        for method in ["GET", "head", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            #expect(RetryPolicy.isReplayable(method: method, headerNames: []), "\(method)")
        }
        #expect(!RetryPolicy.isReplayable(method: "POST", headerNames: ["Content-Type"]))
        #expect(!RetryPolicy.isReplayable(method: "PATCH", headerNames: []))
        #expect(RetryPolicy.isReplayable(method: "POST", headerNames: ["Idempotency-Key"]))
        #expect(RetryPolicy.isReplayable(method: "POST", headerNames: ["x-idempotency-key"]))
    }
}
