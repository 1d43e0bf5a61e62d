import Testing

@testable import VolleyEngine

/// The plain run keeps the start of error bodies only: a 2xx body is still only counted.
@Suite struct HTTPResponseParserErrorBodyTests {
    private func feed(_ text: String, split: Int, errorBodyLimit: Int) -> HTTPResponseParser {
        var p = HTTPResponseParser()
        p.errorBodyLimit = errorBodyLimit
        p.reset()
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let end = min(i + split, bytes.count)
            _ = bytes[i..<end].withUnsafeBytes { p.consume($0) }
            i = end
        }
        return p
    }

    @Test(arguments: [1, 5, 1000])
    func errorBodiesAreKeptUpToTheLimitAndSuccessBodiesAreNot(split: Int) {
        let error = feed(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 12\r\n\r\npool timeout",
            split: split,
            errorBodyLimit: 4
        )
        #expect(String(decoding: error.body, as: UTF8.self) == "pool")
        #expect(error.bodyBytes == 12)
        let ok = feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", split: split, errorBodyLimit: 4)
        #expect(ok.body.isEmpty)
        #expect(ok.bodyBytes == 5)
    }

    @Test(arguments: [1, 3, 1000])
    func chunkedErrorBodiesAreKeptDechunked(split: Int) {
        let p = feed(
            "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nQueue\r\n4\r\nPool\r\n0\r\n\r\n",
            split: split,
            errorBodyLimit: 64
        )
        #expect(String(decoding: p.body, as: UTF8.self) == "QueuePool")
    }

    @Test func withoutALimitNothingIsKept() {
        let p = feed("HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nfail", split: 100, errorBodyLimit: 0)
        #expect(p.body.isEmpty)
    }
}
