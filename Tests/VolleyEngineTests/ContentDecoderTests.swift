import Testing
import VolleyTestSupport

@testable import VolleyEngine

/// ``ContentDecoder`` on bodies whose encoding is known byte for byte (``EncodedBodies``).
@Suite struct ContentDecoderTests {
    private let json = Array(EncodedBodies.json.utf8)
    private let limit = 1 << 20

    private func decode(_ kind: EncodedBodies.Kind, limit: Int = 1 << 20) -> ContentDecoder.Outcome {
        let (encoding, bytes) = EncodedBodies.body(kind)
        return ContentDecoder.decode(bytes, contentEncoding: encoding, limit: limit)
    }

    @Test(arguments: [EncodedBodies.Kind.gzip, .deflate, .deflateRaw, .br, .gzipThenBr])
    func everyEncodingBrowsersAcceptDecodesToTheJSON(kind: EncodedBodies.Kind) {
        #expect(EncodedBodies.body(kind).bytes.count < json.count / 3)
        #expect(decode(kind) == .decoded(json, truncated: false))
    }

    @Test func plainAndIdentityBodiesAreLeftAsTheyAre() {
        #expect(ContentDecoder.decode(json, contentEncoding: nil, limit: limit) == .identity)
        #expect(ContentDecoder.decode(json, contentEncoding: "identity", limit: limit) == .identity)
        #expect(ContentDecoder.decode([], contentEncoding: "gzip", limit: limit) == .decoded([], truncated: false))
    }

    @Test func aBodyThatIsNotGzipSaysSo() {
        #expect(
            decode(.badGzip)
                == .failed("Content-Encoding gzip: invalid header (the body starts 3c 68 74 6d, not 1f 8b)")
        )
    }

    @Test func anUnknownEncodingIsNamed() {
        guard case .failed(let message) = decode(.unknown) else {
            Issue.record("zstd was not reported")
            return
        }
        #expect(message.hasPrefix("Content-Encoding zstd: not an encoding Volley decodes (gzip, deflate, br)"))
    }

    @Test func corruptAndCutStreamsFailWithWhere() {
        var gzip = EncodedBodies.body(.gzip).bytes
        let cut = Array(gzip.prefix(gzip.count / 2))
        #expect(
            ContentDecoder.decode(cut, contentEncoding: "gzip", limit: limit)
                == .failed(
                    "Content-Encoding gzip: the body (\(cut.count) bytes) ends before the compressed stream does"
                )
        )
        // Cut by Volley's own body limit rather than by the server: truncated, not invalid.
        guard
            case .decoded(let start, truncated: true) = ContentDecoder.decode(
                cut,
                contentEncoding: "gzip",
                limit: limit,
                rawTruncated: true
            )
        else {
            Issue.record("a body cut at the limit was not decoded as truncated")
            return
        }
        #expect(json.starts(with: start) && !start.isEmpty)
        for i in 10..<gzip.count - 8 { gzip[i] ^= 0xFF }
        guard case .failed(let message) = ContentDecoder.decode(gzip, contentEncoding: "gzip", limit: limit) else {
            Issue.record("corrupt data decoded")
            return
        }
        #expect(message.hasPrefix("Content-Encoding gzip: invalid compressed data at byte "))
        let br = EncodedBodies.body(.br).bytes
        guard
            case .failed(let brMessage) = ContentDecoder.decode(
                Array(br.prefix(5)),
                contentEncoding: "br",
                limit: limit
            )
        else {
            Issue.record("a cut brotli stream decoded")
            return
        }
        #expect(brMessage == "Content-Encoding br: the body (5 bytes) ends before the compressed stream does")
    }

    @Test func aDecompressionBombStopsAtTheLimit() {
        let (encoding, bytes) = EncodedBodies.body(.bomb)
        #expect(bytes.count < 64 * 1024)
        #expect(
            ContentDecoder.decode(bytes, contentEncoding: encoding, limit: limit)
                == .decoded(
                    [UInt8](repeating: 0, count: limit),
                    truncated: true
                )
        )
        let brBomb = EncodedBodies.brotli([UInt8](repeating: 0, count: 8 << 20))
        #expect(
            ContentDecoder.decode(brBomb, contentEncoding: "br", limit: 1000)
                == .decoded(
                    [UInt8](repeating: 0, count: 1000),
                    truncated: true
                )
        )
        #expect(decode(.gzip, limit: 100) == .decoded(Array(json.prefix(100)), truncated: true))
    }
}
