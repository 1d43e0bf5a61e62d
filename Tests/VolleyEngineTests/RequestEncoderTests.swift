import NIOCore
import Testing
import VolleyCore

@testable import VolleyEngine

@Suite struct RequestEncoderTests {
    private func encoded(_ spec: RequestSpec, loop: Int = 1, sequence: UInt64 = 42) -> (String, RequestEncoder) {
        let encoder = RequestEncoder(spec: spec, runPrefix: 0xDEAD_BEEF)
        var buffer = ByteBuffer()
        encoder.encode(into: &buffer, loop: loop, sequence: sequence)
        return (String(buffer: buffer), encoder)
    }

    @Test func getCarriesHostAndAUniqueID() throws {
        let url = try TargetURL(parsing: "http://127.0.0.1:8080/a?b=1")
        let (text, encoder) = encoded(RequestSpec(url: url))
        #expect(text.hasPrefix("GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"))
        #expect(text.hasSuffix("X-Request-ID: deadbeef-012a\r\n\r\n".replacingZeros()))
        #expect(text.contains("X-Request-ID: \(encoder.requestID(loop: 1, sequence: 42))\r\n"))
        #expect(encoder.requestID(loop: 1, sequence: 42) == "deadbeef-010000000000002a")
        #expect(encoder.requestID(loop: 1, sequence: 42).utf8.count == RequestEncoder.idLength)
        #expect(!text.contains("Content-Length"))
    }

    @Test func postsBodiesWithLengthAndUserHeaders() throws {
        let url = try TargetURL(parsing: "http://localhost/x")
        let spec = RequestSpec(
            method: "POST",
            url: url,
            headers: [
                HTTPHeader(name: "Content-Type", value: "application/json"), HTTPHeader(name: "Host", value: "api"),
            ],
            body: Array("{\"a\":1}".utf8),
            requestIDHeader: nil,
            keepAlive: false
        )
        let (text, _) = encoded(spec)
        #expect(
            text == "POST /x HTTP/1.1\r\nUser-Agent: volley/\(VolleyVersion.current)\r\nAccept: */*\r\n"
                + "Content-Type: application/json\r\nHost: api\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}"
        )
    }

    @Test func stampingATemplateWritesTheSameBytesAsEncoding() throws {
        let url = try TargetURL(parsing: "http://127.0.0.1:8080/a")
        let encoder = RequestEncoder(spec: RequestSpec(method: "POST", url: url, body: Array("{}".utf8)), runPrefix: 7)
        var template = encoder.makeTemplate(loop: 3)
        for sequence: UInt64 in [1, 255, 0xABCDEF, 0x00FF_FFFF_FFFF_FFFF] {
            encoder.stamp(&template, loop: 3, sequence: sequence)
            var expected = ByteBuffer()
            encoder.encode(into: &expected, loop: 3, sequence: sequence)
            #expect(template == expected, "sequence \(sequence)")
        }
    }

    @Test func largeBodiesAreSharedNotCopied() throws {
        let url = try TargetURL(parsing: "http://localhost/upload")
        let body = [UInt8](repeating: 1, count: RequestEncoder.inlineBodyLimit + 1)
        let encoder = RequestEncoder(spec: RequestSpec(method: "PUT", url: url, body: body), runPrefix: 1)
        #expect(encoder.largeBody?.readableBytes == body.count)
        #expect(!encoder.tail.contains(1))
    }
}

extension String {
    /// "deadbeef-012a" → "deadbeef-010000000000002a": keeps the expectation readable.
    fileprivate func replacingZeros() -> String {
        replacing("deadbeef-012a", with: "deadbeef-010000000000002a")
    }
}
