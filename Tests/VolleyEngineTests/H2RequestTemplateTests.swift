import NIOCore
import NIOHPACK
import Testing
import VolleyCore

@testable import VolleyEngine

/// Decodes `block` with NIOHPACK, as a server would, into (name, value) pairs.
private func decoded(_ block: [UInt8]) throws -> [[String]] {
    var decoder = HPACKDecoder(allocator: ByteBufferAllocator(), maxDynamicTableSize: 4096, maxHeaderListSize: 1 << 20)
    var buffer = ByteBuffer(bytes: block)
    return try decoder.decodeHeaders(from: &buffer).map { [$0.name, $0.value] }
}

@Suite("HTTP/2 request header blocks")
struct H2RequestTemplateTests {
    @Test("integers and literals are encoded as in RFC 7541 Appendix C")
    func rfc7541Vectors() {
        var out: [UInt8] = []
        H2RequestTemplate.integer(10, prefixBits: 5, first: 0, into: &out)  // C.1.1
        #expect(out == [0x0A])
        out = []
        H2RequestTemplate.integer(1337, prefixBits: 5, first: 0, into: &out)  // C.1.2
        #expect(out == [0x1F, 0x9A, 0x0A])
        out = []
        H2RequestTemplate.integer(42, prefixBits: 8, first: 0, into: &out)  // C.1.3
        #expect(out == [0x2A])
        out = []
        H2RequestTemplate.literal(nameIndex: 4, value: Array("/sample/path".utf8), into: &out)  // C.2.2
        #expect(out == [0x04, 0x0C] + Array("/sample/path".utf8))
        // C.3.1's request, with the authority as a literal without indexing (0x01, not 0x41).
        let template = H2RequestTemplate(
            method: "GET",
            scheme: "http",
            authority: "www.example.com",
            path: "/",
            headers: []
        )
        #expect(template.block == [0x82, 0x86, 0x01, 0x0F] + Array("www.example.com".utf8) + [0x84])
    }

    @Test("a run's request decodes to its pseudo-headers, defaults, headers and request id")
    func decodesAsSent() throws {
        let spec = RequestSpec(
            method: "post",
            url: try TargetURL(parsing: "http://127.0.0.1:8080/api/items?x=1"),
            headers: [
                HTTPHeader(name: "X-Custom", value: "v1"), HTTPHeader(name: "Connection", value: "close"),
                HTTPHeader(name: "Content-Type", value: "application/json"),
            ],
            body: Array("{}".utf8)
        )
        let template = H2RequestTemplate(spec: spec, runPrefix: 0xDEAD_BEEF)
        let id = RequestID.value(loop: 3, sequence: 0x1234)
        let headers = try decoded(template.block(requestID: id))
        #expect(
            headers == [
                [":method", "POST"], [":scheme", "http"], [":authority", "127.0.0.1:8080"],
                [":path", "/api/items?x=1"],
                ["user-agent", "volley/\(VolleyVersion.current)"], ["accept", "*/*"], ["x-custom", "v1"],
                ["content-type", "application/json"], ["content-length", "2"],
                ["x-request-id", "deadbeef-0300000000001234"],
            ]
        )
        #expect(template.body == ByteBuffer(string: "{}"))
        #expect(!template.isReplayable)
        // Another id: only the 16 digits change, in place.
        let other = template.block(requestID: RequestID.value(loop: 3, sequence: 0xFFFF))
        #expect(try decoded(other).last == ["x-request-id", "deadbeef-030000000000ffff"])
        #expect(zip(template.block(requestID: id), other).filter { $0 != $1 }.count == 4)
    }

    @Test("a Host header becomes :authority; a GET has no body and ends the stream with HEADERS")
    func hostAndEndStream() throws {
        let spec = RequestSpec(
            url: try TargetURL(parsing: "https://example.com/"),
            headers: [HTTPHeader(name: "Host", value: "api.example.com")],
            requestIDHeader: nil
        )
        let template = H2RequestTemplate(spec: spec, runPrefix: 1)
        #expect(template.sequenceOffset == nil && template.body == nil && template.isReplayable)
        var out = ByteBuffer()
        template.write(stream: 5, requestID: 0, into: &out)
        let frame = Array(out.readableBytesView.prefix(9))
        #expect(frame[3] == H2.FrameType.headers && frame[4] == H2.Flags.endHeaders | H2.Flags.endStream)
        #expect(frame.suffix(4) == [0, 0, 0, 5])
        let headers = try decoded(Array(out.readableBytesView.dropFirst(9)))
        #expect(
            headers.prefix(4) == [
                [":method", "GET"], [":scheme", "https"], [":authority", "api.example.com"], [":path", "/"],
            ]
        )
    }

    @Test("a block longer than the frame size is split into CONTINUATION with the id still patched")
    func longBlockSplits() throws {
        let cookie = String(repeating: "c", count: 20_000)
        let template = H2RequestTemplate(
            method: "GET",
            scheme: "http",
            authority: "h",
            path: "/",
            headers: [(name: "Cookie", value: cookie)],
            requestID: (name: "X-Request-ID", prefix: Array("00000001".utf8))
        )
        var out = ByteBuffer()
        template.write(stream: 1, requestID: 0xABC, tableSizeUpdate: true, into: &out)
        var frames = H2FrameDecoder()
        frames.append(out)
        var block: [UInt8] = []
        var count = 0
        while let frame = try frames.nextFrame() {
            count += 1
            switch frame {
            case .headers(_, let b, _, _), .continuation(_, let b, _): block += b.readableBytesView
            default: Issue.record("unexpected \(frame)")
            }
        }
        #expect(count == 2)
        #expect(block.first == 0x20)  // the dynamic table size update to 0
        let headers = try decoded(block)
        #expect(headers.last == ["x-request-id", "00000001-0000000000000abc"])
        #expect(headers.contains(["cookie", cookie]))
    }
}
