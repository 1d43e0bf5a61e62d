import CBrotliEncoder
import CompressNIO
import NIOCore

/// Compressed response bodies for the test server's `/encoded/{kind}` routes, public so that
/// tests can compare Volley's byte counts with the exact compressed and decoded sizes.
public enum EncodedBodies {
    /// The JSON every `/encoded` route serves (decoded): an `id` and a `token` to check and
    /// capture, and enough repetition (about 2 KiB) that compression shrinks it several times.
    public static let json: String = {
        let items = (0..<40).map { "{\"n\":\($0),\"name\":\"item number \($0)\",\"ok\":true}" }
        return "{\"id\":42,\"token\":\"tok-3f9a\",\"items\":[" + items.joined(separator: ",") + "]}"
    }()

    /// How a route encodes its body.
    public enum Kind: String, CaseIterable, Sendable {
        /// `Content-Encoding: gzip`.
        case gzip
        /// `Content-Encoding: deflate`, zlib-wrapped (RFC 9110's meaning).
        case deflate
        /// `Content-Encoding: deflate` sent as raw deflate, as some servers do.
        case deflateRaw = "deflate-raw"
        /// `Content-Encoding: br`.
        case br
        /// `Content-Encoding: gzip, br`: gzip first, then brotli over it.
        case gzipThenBr = "gzip-br"
        /// `Content-Encoding: gzip` on a body that is not gzip at all.
        case badGzip = "bad-gzip"
        /// `Content-Encoding: zstd`: an encoding Volley does not decode (the body is plain).
        case unknown = "zstd"
        /// `Content-Encoding: gzip` of 8 MiB of zeros: a decompression bomb (about 8 KiB).
        case bomb
    }

    /// The `Content-Encoding` value and the bytes on the wire for `kind`.
    public static func body(_ kind: Kind) -> (contentEncoding: String, bytes: [UInt8]) {
        let plain = Array(json.utf8)
        switch kind {
        case .gzip: return ("gzip", zlib(plain, .gzip()))
        case .deflate: return ("deflate", zlib(plain, .zlib()))
        case .deflateRaw: return ("deflate", zlib(plain, .deflate()))
        case .br: return ("br", brotli(plain))
        case .gzipThenBr: return ("gzip, br", brotli(zlib(plain, .gzip())))
        case .badGzip: return ("gzip", Array("<html>this is not gzip</html>".utf8))
        case .unknown: return ("zstd", plain)
        case .bomb: return ("gzip", zlib([UInt8](repeating: 0, count: 8 << 20), .gzip()))
        }
    }

    /// `bytes` compressed with a zlib-family algorithm (CompressNIO).
    public static func zlib(_ bytes: [UInt8], _ algorithm: CompressionAlgorithm) -> [UInt8] {
        var input = ByteBuffer(bytes: bytes)
        // Compressing a byte array in memory cannot fail short of running out of memory.
        let output = try! input.compress(with: algorithm)
        return Array(output.readableBytesView)
    }

    /// `bytes` compressed with brotli (the system's libbrotlienc).
    public static func brotli(_ bytes: [UInt8]) -> [UInt8] {
        var size = BrotliEncoderMaxCompressedSize(bytes.count)
        var out = [UInt8](repeating: 0, count: max(size, 64))
        size = out.count
        let ok = bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                BrotliEncoderCompress(
                    BROTLI_DEFAULT_QUALITY,
                    BROTLI_DEFAULT_WINDOW,
                    BROTLI_MODE_GENERIC,
                    input.count,
                    input.baseAddress,
                    &size,
                    output.baseAddress
                )
            }
        }
        precondition(ok == BROTLI_TRUE, "brotli could not compress \(bytes.count) bytes")
        return Array(out[0..<size])
    }
}
