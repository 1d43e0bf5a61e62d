import CBrotli
import CompressNIO
import Foundation
import NIOCore
import VolleyCore

/// Undoes a response's `Content-Encoding` so that checks and captures read what the service
/// meant, not its compressed bytes (a JSON check on a gzip body used to fail silently).
///
/// Bounded: the output stops at `limit` bytes (the plan's body limit, 1 MiB) and says it was
/// truncated, so a decompression bomb (a few KiB that inflate to gigabytes) costs at most that.
/// Several encodings (`Content-Encoding: gzip, br`) were applied in order and are undone in
/// reverse. An encoding Volley does not know leaves the body as it is, with a reason.
enum ContentDecoder {
    /// What decoding a body gave.
    enum Outcome: Equatable {
        /// No encoding (or `identity`): the body is read as it came.
        case identity
        /// The decoded body; `truncated` when it reached the limit (or the raw body did).
        case decoded([UInt8], truncated: Bool)
        /// The body could not be decoded: why, naming the encoding
        /// ("Content-Encoding gzip: invalid header …"). Checks that read the body fail.
        case failed(String)
    }

    /// The encodings Volley decodes, as the docs and the failure messages name them.
    static let supported = "gzip, deflate, br"

    /// Decodes `body` as its `Content-Encoding` header value says. `rawTruncated` when the
    /// body is only the start of a longer one (cut at the body limit): a stream that ends
    /// early is then truncated, not invalid.
    /// The start of a body as an error or capture sample shows it: decoded when it came
    /// compressed and decodes, as it came otherwise. One rule for both engines' samples.
    static func sample(_ body: [UInt8], contentEncoding: String?, rawTruncated: Bool) -> [UInt8] {
        guard contentEncoding != nil else { return body }
        let outcome = decode(
            body,
            contentEncoding: contentEncoding,
            limit: 2 * ResponseSamples.excerptBytes,
            rawTruncated: rawTruncated
        )
        if case .decoded(let bytes, _) = outcome { return bytes }
        return body
    }

    static func decode(_ body: [UInt8], contentEncoding: String?, limit: Int, rawTruncated: Bool = false) -> Outcome {
        guard let contentEncoding else { return .identity }
        let codings = contentEncoding.split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }.filter { !$0.isEmpty && $0 != "identity" }
        guard !codings.isEmpty else { return .identity }
        // A response without a body (HEAD, 204, 304) has nothing to decode.
        guard !body.isEmpty else { return .decoded([], truncated: false) }
        var bytes = body
        var truncated = rawTruncated
        for coding in codings.reversed() {
            let step: Result<(bytes: [UInt8], truncated: Bool), StepFailure>
            switch coding {
            case "gzip", "x-gzip":
                step = gzip(bytes, limit: limit, inputTruncated: truncated)
            case "deflate":
                step = deflate(bytes, limit: limit, inputTruncated: truncated)
            case "br":
                step = brotli(bytes, limit: limit, inputTruncated: truncated)
            default:
                return .failed(
                    "Content-Encoding \(coding): not an encoding Volley decodes (\(supported)); the body was left as it is"
                )
            }
            switch step {
            case .success(let out):
                bytes = out.bytes
                truncated = out.truncated
            case .failure(let failure):
                return .failed("Content-Encoding \(coding): \(failure.message)")
            }
        }
        return .decoded(bytes, truncated: truncated)
    }

    /// Why one encoding could not be undone (without the encoding's name).
    struct StepFailure: Error {
        var message: String
    }

    // MARK: - zlib family (CompressNIO)

    static func gzip(
        _ input: [UInt8],
        limit: Int,
        inputTruncated: Bool
    ) -> Result<
        (bytes: [UInt8], truncated: Bool), StepFailure
    > {
        guard input.count >= 2, input[0] == 0x1F, input[1] == 0x8B else {
            return .failure(StepFailure(message: "invalid header (the body starts \(hex(input)), not 1f 8b)"))
        }
        return inflate(input, .gzip, limit: limit, inputTruncated: inputTruncated)
    }

    /// `deflate` is meant to be zlib-wrapped (RFC 9110), but servers have long sent raw
    /// deflate too, and browsers accept both: a valid zlib header decides.
    static func deflate(
        _ input: [UInt8],
        limit: Int,
        inputTruncated: Bool
    ) -> Result<
        (bytes: [UInt8], truncated: Bool), StepFailure
    > {
        let zlibWrapped =
            input.count >= 2 && input[0] & 0x0F == 8 && input[0] >> 4 <= 7
            && (UInt16(input[0]) << 8 | UInt16(input[1])) % 31 == 0
        return inflate(input, zlibWrapped ? .zlib : .deflate, limit: limit, inputTruncated: inputTruncated)
    }

    private static func inflate(
        _ input: [UInt8],
        _ algorithm: ZlibAlgorithm,
        limit: Int,
        inputTruncated: Bool
    ) -> Result<(bytes: [UInt8], truncated: Bool), StepFailure> {
        guard let inflater = try? ZlibDecompressor(algorithm: algorithm) else {
            return .failure(StepFailure(message: "zlib could not start a stream"))
        }
        var from = ByteBuffer(bytes: input)
        // Grown as needed up to the limit: most bodies inflate 3-10×, and allocating the whole
        // limit for each response would cost a megabyte per check.
        var to = ByteBuffer()
        to.reserveCapacity(min(limit, max(4096, input.count * 4)))
        var truncated = false
        var ended = false
        while true {
            do {
                try inflater.inflate(from: &from, to: &to)
                // Returned normally: either the stream ended, or all input went in.
                ended = from.readableBytes > 0 || streamEnded(inflater, &to)
                break
            } catch let error as CompressNIOError where error == .bufferOverflow {
                if to.readableBytes >= limit {
                    truncated = true
                    break
                }
                to.reserveCapacity(min(limit, max(to.capacity * 2, to.readableBytes + 4096)))
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                break  // all input consumed, the stream not finished
            } catch {
                let at = input.count - from.readableBytes
                return .failure(StepFailure(message: "invalid compressed data at byte \(at) of \(input.count)"))
            }
        }
        let bytes = Array(to.readableBytesView.prefix(limit))
        if to.readableBytes > limit { truncated = true }
        if !ended && !truncated {
            guard inputTruncated else {
                return .failure(
                    StepFailure(message: "the body (\(input.count) bytes) ends before the compressed stream does")
                )
            }
            truncated = true
        }
        return .success((bytes, truncated))
    }

    /// Whether the zlib stream has ended: once it has, inflate takes no more input (a
    /// probe byte stays unread); a stream still open would consume it. The probe's output,
    /// if any, is discarded.
    private static func streamEnded(_ inflater: ZlibDecompressor, _ to: inout ByteBuffer) -> Bool {
        var probe = ByteBuffer(bytes: [0])
        let kept = to.writerIndex
        to.reserveCapacity(minimumWritableBytes: 64)
        defer { to.moveWriterIndex(to: kept) }
        do {
            try inflater.inflate(from: &probe, to: &to)
            return probe.readableBytes == 1
        } catch {
            return false
        }
    }

    // MARK: - brotli (the system's libbrotlidec)

    static func brotli(
        _ input: [UInt8],
        limit: Int,
        inputTruncated: Bool
    ) -> Result<
        (bytes: [UInt8], truncated: Bool), StepFailure
    > {
        guard let state = BrotliDecoderCreateInstance(nil, nil, nil) else {
            return .failure(StepFailure(message: "the brotli decoder could not start"))
        }
        defer { BrotliDecoderDestroyInstance(state) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(limit, 64 * 1024))
        return input.withUnsafeBufferPointer { inBuffer in
            var nextIn = inBuffer.baseAddress
            var availIn = inBuffer.count
            while true {
                var availOut = chunk.count
                let result = chunk.withUnsafeMutableBufferPointer { outBuffer in
                    var nextOut = outBuffer.baseAddress
                    return BrotliDecoderDecompressStream(state, &availIn, &nextIn, &availOut, &nextOut, nil)
                }
                let produced = chunk.count - availOut
                let room = limit - out.count
                out.append(contentsOf: chunk[0..<min(produced, room)])
                if produced > room { return .success((out, true)) }
                switch result {
                case BROTLI_DECODER_RESULT_SUCCESS:
                    return .success((out, false))
                case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
                    if out.count >= limit { return .success((out, true)) }
                case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
                    guard inputTruncated else {
                        return .failure(
                            StepFailure(
                                message: "the body (\(input.count) bytes) ends before the compressed stream does"
                            )
                        )
                    }
                    return .success((out, true))
                default:
                    let code = BrotliDecoderGetErrorCode(state)
                    let name = String(cString: BrotliDecoderErrorString(code))
                    let at = input.count - availIn
                    return .failure(
                        StepFailure(message: "invalid compressed data at byte \(at) of \(input.count) (\(name))")
                    )
                }
            }
        }
    }

    /// The first bytes of a body in hex, for a message: `3c 68 74 6d`.
    private static func hex(_ bytes: [UInt8]) -> String {
        guard !bytes.isEmpty else { return "empty" }
        let digits = Array("0123456789abcdef")
        return bytes.prefix(4).map { String([digits[Int($0 >> 4)], digits[Int($0 & 0xF)]]) }.joined(separator: " ")
    }
}
