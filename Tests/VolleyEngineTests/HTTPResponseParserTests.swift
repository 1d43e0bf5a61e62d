import Testing

@testable import VolleyEngine

/// Feeds `text` to a fresh parser in pieces of `split` bytes (0 = all at once).
private func parse(
    _ text: String,
    split: Int = 0,
    head: Bool = false
) -> (HTTPResponseParser, HTTPResponseParser.Progress) {
    parse(Array(text.utf8), split: split, head: head)
}

private func parse(
    _ bytes: [UInt8],
    split: Int = 0,
    head: Bool = false
) -> (HTTPResponseParser, HTTPResponseParser.Progress) {
    var p = HTTPResponseParser()
    p.reset(isHEAD: head)
    var last = HTTPResponseParser.Progress.needMore
    let step = split == 0 ? max(bytes.count, 1) : split
    var i = 0
    while i < bytes.count {
        let end = min(i + step, bytes.count)
        last = bytes[i..<end].withUnsafeBytes { p.consume($0) }
        if case .needMore = last {
            i = end
            continue
        }
        break
    }
    return (p, last)
}

@Suite struct HTTPResponseParserTests {
    static let simple = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"

    @Test(arguments: [0, 1, 2, 3, 7, 13])
    func parsesContentLengthInAnySplit(split: Int) {
        let (p, progress) = parse(Self.simple, split: split)
        #expect(
            progress
                == .complete(consumed: split == 0 ? Self.simple.utf8.count : (Self.simple.utf8.count - 1) % split + 1)
        )
        #expect(p.status == 200)
        #expect(p.keepAlive)
        #expect(p.bodyBytes == 5)
        #expect(p.bytesReceived == Self.simple.utf8.count)
    }

    @Test(arguments: [0, 1, 5])
    func decodesChunkedWithExtensionsAndTrailers(split: Int) {
        let text =
            "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=v\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n"
        let (p, progress) = parse(text, split: split)
        guard case .complete = progress else {
            Issue.record("not complete: \(progress)")
            return
        }
        #expect(p.status == 201)
        #expect(p.bodyBytes == 15)
        #expect(p.keepAlive)
    }

    @Test func headerNamesAreCaseInsensitive() {
        let text = "HTTP/1.1 200 OK\r\ncontent-LENGTH: 2\r\nCONNECTION: Close\r\n\r\nok"
        let (p, progress) = parse(text)
        #expect(progress == .complete(consumed: text.utf8.count))
        #expect(!p.keepAlive)
    }

    @Test func keepsOnlyTheHeadersItIsAskedFor() {
        let text =
            "HTTP/1.1 302 Found\r\nDate: x\r\nset-cookie: s=1\r\nLocation: /next\r\nETag: e\r\nContent-Length: 0\r\n\r\n"
        var kept: [HTTPResponseParser.HeaderRetention: [String]] = [:]
        for retention in [HTTPResponseParser.HeaderRetention.none, .cookiesAndLocation, .all] {
            var p = HTTPResponseParser()
            p.keepsHeaders = retention
            p.reset()
            let progress = Array(text.utf8).withUnsafeBytes { p.consume($0) }
            #expect(progress == .complete(consumed: text.utf8.count))
            kept[retention] = p.headers.map(\.name)
        }
        #expect(kept[HTTPResponseParser.HeaderRetention.none] == [])
        #expect(kept[.cookiesAndLocation] == ["set-cookie", "Location"])
        #expect(kept[.all] == ["Date", "set-cookie", "Location", "ETag", "Content-Length"])
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() {
        let (a, _) = parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(!a.keepAlive)
        let (b, _) = parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
        #expect(b.keepAlive)
    }

    @Test func bodyWithoutLengthRunsUntilClose() {
        var (p, progress) = parse("HTTP/1.0 200 OK\r\n\r\n" + String(repeating: "x", count: 1000))
        #expect(progress == .needMore)
        #expect(p.readsUntilClose)
        let closedCleanly = p.connectionClosed()
        #expect(closedCleanly)
        #expect(p.bodyBytes == 1000)
        #expect(!p.keepAlive)
    }

    @Test func interimResponsesAreSkipped() {
        let (p, progress) = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
        guard case .complete = progress else {
            Issue.record("not complete")
            return
        }
        #expect(p.status == 200)
        #expect(p.bodyBytes == 1)
    }

    @Test func noBodyForHeadAnd204And304() {
        let headText = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        let (h, hp) = parse(headText, head: true)
        #expect(hp == .complete(consumed: headText.utf8.count))
        #expect(h.bodyBytes == 0)
        let (_, p204) = parse("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(p204 == .complete(consumed: 27))
        let text304 = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
        let (_, p304) = parse(text304)
        #expect(p304 == .complete(consumed: text304.utf8.count))
    }

    @Test func stopsAtTheEndOfTheResponse() {
        let (_, progress) = parse(Self.simple + "HTTP/1.1 200 OK\r\n")
        #expect(progress == .complete(consumed: Self.simple.utf8.count))
    }

    @Test(arguments: [
        "this is not http at all\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/2 200\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HTTP/1.1 099 Low\r\n\r\n",
    ])
    func malformedResponsesAreReported(text: String) {
        let (_, progress) = parse(text)
        guard case .malformed = progress else {
            Issue.record("expected malformed, got \(progress)")
            return
        }
    }

    @Test func hugeBodiesAreCountedNotStored() {
        var p = HTTPResponseParser()
        p.reset()
        let total = 200 * 1024 * 1024
        let head = Array("HTTP/1.1 200 OK\r\nContent-Length: \(total)\r\n\r\n".utf8)
        #expect(head.withUnsafeBytes { p.consume($0) } == .needMore)
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
        var progress = HTTPResponseParser.Progress.needMore
        for _ in 0..<(total / chunk.count) {
            progress = chunk.withUnsafeBytes { p.consume($0) }
        }
        #expect(progress == .complete(consumed: chunk.count))
        #expect(p.bodyBytes == total)
    }

    @Test func oversizedHeadIsMalformed() {
        var p = HTTPResponseParser()
        p.reset()
        let junk = [UInt8](repeating: 0x61, count: 64 * 1024)
        var progress = HTTPResponseParser.Progress.needMore
        for _ in 0..<20 {
            progress = junk.withUnsafeBytes { p.consume($0) }
            if progress != .needMore { break }
        }
        guard case .malformed = progress else {
            Issue.record("expected malformed, got \(progress)")
            return
        }
    }
}
