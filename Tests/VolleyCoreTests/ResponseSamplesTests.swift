import Testing

@testable import VolleyCore

/// Excerpts of what the server said: printable, redacted, bounded, merged like recorders.
@Suite struct ResponseSamplesTests {
    @Test func excerptsAreOneLineOfValidText() {
        let bytes: [UInt8] = Array("line one\r\n\tline two\u{1B}[2J".utf8) + [0xFF, 0x41]
        #expect(Excerpt.make(bytes) == "line one line two\\u{1B}[2J\u{FFFD}A")
        #expect(Excerpt.sanitize("a\u{202E}b\u{7F}c") == "a\\u{202E}b\\u{7F}c")
    }

    @Test func excerptsAreCutAtTheLimitOnACharacter() {
        let text = String(repeating: "é", count: 200)  // 400 bytes
        let excerpt = Excerpt.make(Array(text.utf8))
        #expect(excerpt == String(repeating: "é", count: 128) + "…")
        #expect(Excerpt.make(Array("short".utf8), totalBytes: 5000) == "short…")
    }

    @Test(arguments: [
        (
            "FATAL: could not connect to postgresql://app:hunter2@db:5432/app and redis://:pw2@cache",
            "FATAL: could not connect to postgresql://***@db:5432/app and redis://***@cache"
        ),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc", "Authorization: Bearer ***"),
        ("config: password=hunter2&user=app", "config: password=***&user=app"),
        (#"{"api_key": "AKIA1234", "user": "u"}"#, #"{"api_key": "***", "user": "u"}"#),
        ("DB_PASSWORD: hunter2 timeout", "DB_PASSWORD: *** timeout"),
        (
            "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 1.00",
            "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 1.00"
        ),
        (
            #"password authentication failed for user "app""#,
            #"password authentication failed for user "app""#
        ),
    ])
    func credentialsInBodiesAreMasked(input: String, expected: String) {
        #expect(Redaction.body(input) == expected)
    }

    @Test func aSecretStraddlingTheLimitIsStillMasked() {
        let body = String(repeating: "x", count: 250) + " postgresql://u:secret@host/db"
        let excerpt = Excerpt.make(Array(body.utf8))
        #expect(!excerpt.contains("sec"), "\(excerpt)")
    }

    @Test func samplingIsBoundedPerStatusAndMergesByExcerpt() {
        var a = ResponseSamples()
        for i in 0..<10 { a.recordError(status: 500, body: Array("boom \(i % 2)".utf8)) }
        #expect(!a.wants(status: 500))
        #expect(a.wants(status: 503))
        #expect(
            a.byStatus[500] == [ErrorSample(excerpt: "boom 0", count: 2), ErrorSample(excerpt: "boom 1", count: 1)]
        )
        var b = ResponseSamples()
        for i in 2..<5 { b.recordError(status: 500, body: Array("boom \(i)".utf8)) }
        b.recordError(status: 404, body: Array("no such user".utf8))
        a.merge(b)
        #expect(a.byStatus[500]?.map(\.excerpt) == ["boom 0", "boom 1", "boom 2"])
        #expect(a.errorSamplesByCode?["404"] == [ErrorSample(excerpt: "no such user", count: 1)])
    }

    @Test func captureFailuresAreBoundedPerRequestName() {
        var a = ResponseSamples()
        for _ in 0..<5 {
            a.recordCaptureFailure(request: "login", capture: "token", source: "json $.token", status: 401, body: [])
        }
        var b = ResponseSamples()
        b.recordCaptureFailure(
            request: "search",
            capture: "id",
            source: "regex id=(\\d+) group 1",
            status: 200,
            body: Array("[]".utf8)
        )
        b.recordCaptureFailure(request: "login", capture: "token", source: "json $.token", status: 401, body: [])
        a.merge(b)
        #expect(a.captureFailures.map(\.request) == ["login", "login", "login", "search"])
        #expect(a.captureFailures.last?.excerpt == "[]")
    }
}
