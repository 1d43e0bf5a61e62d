import CZlib
import Foundation
import Histogram

/// HdrHistogram's standard interchange format, the V2 encoding and its zlib-compressed form
/// (base64: the "HISTF…" strings that the Java, Go, Python, C, Rust and JS libraries print and
/// parse). Distributed runs write their histograms this way so any HDR tool can read a bundle;
/// hdrhistogram-swift has no V2 codec. Volley's own `HistogramCodec` stays the history format.
///
/// V2: a 40-byte big-endian header (cookie, payload length, normalizing index offset,
/// significant digits, lowest discernible value, highest trackable value, integer-to-double
/// ratio), then the counts array as ZigZag LEB128 numbers, a run of zeros written as its
/// negated length. Compressed: cookie, length, then zlib (deflate) of the whole V2 encoding.
public enum HdrHistogramV2 {
    /// The V2 cookie as every implementation writes it (base 0x1c849303, word-size nibble 0x10).
    public static let cookie: UInt32 = 0x1c84_9313
    /// The V2 compressed cookie (base 0x1c849304, word-size nibble 0x10).
    public static let compressedCookie: UInt32 = 0x1c84_9314
    static let headerSize = 40
    /// Bounds for untrusted input: a counts array of at most 8 Mi entries (the largest sane
    /// layout, 5 digits up to 2^63, needs ~6 Mi) and a decompressed encoding of at most 64 MiB.
    static let maxCountsLength = 1 << 23
    static let maxDecompressedBytes = 64 << 20

    /// The header fields of a V2 encoding, as written by the producer.
    public struct Header: Equatable, Sendable {
        public var payloadLength: Int
        /// How the producer stored its counts internally; the payload is in logical order regardless.
        public var normalizingIndexOffset: Int32
        public var significantDigits: Int
        public var lowestDiscernibleValue: UInt64
        public var highestTrackableValue: UInt64
        /// 1.0 for integer histograms; DoubleHistogram producers write their value scale here,
        /// which a caller must apply to read the decoded integer values as doubles.
        public var integerToDoubleValueConversionRatio: Double
    }

    /// Why some bytes are not a usable V2 histogram: says what was wrong and where.
    public struct DecodingError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    // MARK: Encoding

    /// The V2 encoding (uncompressed). Counts above `Int64.max`, which no other implementation
    /// can hold, are written as `Int64.max`.
    public static func encode(_ histogram: Histogram<UInt64>) -> [UInt8] {
        // A Histogram always has a valid layout (its initializer enforces the same rules).
        guard let layout = HdrLayout(of: histogram) else { return [] }
        var payload: [UInt8] = []
        var next = 0  // the next counts index to write
        for (index, count) in nonZeroCounts(histogram, layout: layout) {
            let zeros = index - next
            if zeros == 1 { ZigZag.append(0, to: &payload) }
            if zeros > 1 { ZigZag.append(-Int64(zeros), to: &payload) }
            ZigZag.append(Int64(clamping: count), to: &payload)
            next = index + 1
        }
        if next == 0 { ZigZag.append(0, to: &payload) }  // empty: one zero, as Java writes
        var out: [UInt8] = []
        out.reserveCapacity(headerSize + payload.count)
        appendBigEndian(UInt64(cookie), bytes: 4, to: &out)
        appendBigEndian(UInt64(payload.count), bytes: 4, to: &out)
        appendBigEndian(0, bytes: 4, to: &out)
        appendBigEndian(UInt64(histogram.numberOfSignificantValueDigits.rawValue), bytes: 4, to: &out)
        appendBigEndian(histogram.lowestDiscernibleValue, bytes: 8, to: &out)
        appendBigEndian(histogram.highestTrackableValue, bytes: 8, to: &out)
        appendBigEndian((1.0 as Double).bitPattern, bytes: 8, to: &out)
        return out + payload
    }

    /// The V2 compressed encoding: what HdrHistogram's `encodeIntoCompressedByteBuffer` writes.
    public static func encodeCompressed(_ histogram: Histogram<UInt64>) -> [UInt8] {
        let plain = encode(histogram)
        var compressed = [UInt8](repeating: 0, count: Int(compressBound(uLong(plain.count))))
        var length = uLongf(compressed.count)
        let status = compressed.withUnsafeMutableBufferPointer { dst in
            plain.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &length, src.baseAddress, uLong(src.count), Z_DEFAULT_COMPRESSION)
            }
        }
        // compress2 fails only without memory or with a too small buffer, which compressBound rules out.
        precondition(status == Z_OK, "zlib compress2 failed (\(status))")
        var out: [UInt8] = []
        appendBigEndian(UInt64(compressedCookie), bytes: 4, to: &out)
        appendBigEndian(UInt64(length), bytes: 4, to: &out)
        return out + compressed[0..<Int(length)]
    }

    /// The non-zero counts by counts-array index, up to the maximum's. By index and
    /// `countForValue`, not `recordedValues()`, whose running value sum traps on overflow.
    static func nonZeroCounts(_ histogram: Histogram<UInt64>, layout: HdrLayout) -> [(index: Int, count: UInt64)] {
        let last = Swift.min(layout.index(of: histogram.max), layout.countsLength - 1)
        var out: [(index: Int, count: UInt64)] = []
        for index in 0...last {
            let count = histogram.countForValue(layout.value(at: index))
            if count > 0 { out.append((index, count)) }
        }
        return out
    }

    /// The compressed encoding in base64: the "HISTF…" string of HDR logs and tools.
    public static func encodeBase64(_ histogram: Histogram<UInt64>) -> String {
        Data(encodeCompressed(histogram)).base64EncodedString()
    }

    // MARK: Decoding

    /// A histogram from a V2 or V2 compressed encoding, with the producer's parameters.
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> Histogram<UInt64> {
        try decodeWithHeader(bytes).histogram
    }

    /// A histogram from a "HISTF…" base64 string (surrounding whitespace ignored).
    public static func decode(base64: String) throws(DecodingError) -> Histogram<UInt64> {
        let text = base64.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError(description: "HdrHistogram: not valid base64 (\(text.prefix(24))…)")
        }
        return try decode([UInt8](data))
    }

    /// The histogram and the header it was built from (for the conversion ratio and offset).
    public static func decodeWithHeader(
        _ bytes: [UInt8]
    ) throws(DecodingError) -> (header: Header, histogram: Histogram<UInt64>) {
        let found = try readCookie(bytes)
        switch found & ~0xF0 {
        case 0x1c84_9304:
            guard bytes.count >= 8 else { throw DecodingError(description: "HdrHistogram: truncated header") }
            let length = Int(readBigEndian(bytes, at: 4, bytes: 4))
            guard length <= bytes.count - 8 else {
                throw DecodingError(
                    description:
                        "HdrHistogram: compressed length \(length) exceeds the \(bytes.count - 8) bytes present"
                )
            }
            let plain = try inflate(Array(bytes[8..<(8 + length)]))
            guard try readCookie(plain) & ~0xF0 == 0x1c84_9303 else {
                throw DecodingError(description: "HdrHistogram: compressed contents are not a V2 encoding")
            }
            return try decodePlain(plain, trustedLength: false)
        case 0x1c84_9303:
            return try decodePlain(bytes, trustedLength: true)
        case 0x1c84_9301, 0x1c84_9302, 0x1c84_9308, 0x1c84_9309:
            throw DecodingError(
                description: String(format: "HdrHistogram: cookie 0x%08x is an older V0/V1 encoding;", found)
                    + " only V2 is supported (re-encode with a current HdrHistogram)"
            )
        default:
            throw DecodingError(
                description: String(format: "HdrHistogram: unknown cookie 0x%08x", found)
                    + " (expected V2 0x1c849313 or V2 compressed 0x1c849314, base64 \"HISTF…\")"
            )
        }
    }

    static func readCookie(_ bytes: [UInt8]) throws(DecodingError) -> UInt32 {
        guard bytes.count >= 4 else {
            throw DecodingError(description: "HdrHistogram: \(bytes.count) bytes, too short for a cookie")
        }
        return UInt32(readBigEndian(bytes, at: 0, bytes: 4))
    }

    /// `trustedLength: false` inside a compressed envelope: zlib's checksum already proves the
    /// contents whole, and HdrHistogram_c writes its buffer's capacity, not the bytes used, as
    /// the payload length (its "HISTF…" strings say 49 over 9 bytes), so the bytes present win.
    static func decodePlain(
        _ bytes: [UInt8],
        trustedLength: Bool
    ) throws(DecodingError) -> (header: Header, histogram: Histogram<UInt64>) {
        guard bytes.count >= headerSize else {
            throw DecodingError(description: "HdrHistogram: V2 header needs 40 bytes, got \(bytes.count)")
        }
        let header = Header(
            payloadLength: Int(readBigEndian(bytes, at: 4, bytes: 4)),
            normalizingIndexOffset: Int32(bitPattern: UInt32(readBigEndian(bytes, at: 8, bytes: 4))),
            significantDigits: Int(Int32(bitPattern: UInt32(readBigEndian(bytes, at: 12, bytes: 4)))),
            lowestDiscernibleValue: readBigEndian(bytes, at: 16, bytes: 8),
            highestTrackableValue: readBigEndian(bytes, at: 24, bytes: 8),
            integerToDoubleValueConversionRatio: Double(bitPattern: readBigEndian(bytes, at: 32, bytes: 8))
        )
        let payloadEnd = headerSize + Swift.min(header.payloadLength, bytes.count - headerSize)
        guard header.payloadLength <= bytes.count - headerSize || !trustedLength else {
            throw DecodingError(
                description: "HdrHistogram: payload length \(header.payloadLength) exceeds the"
                    + " \(bytes.count - headerSize) bytes after the header"
            )
        }
        // The normalizing index offset only says how the producer stored its array internally:
        // encoders write logical indices (Java's getCountAtIndex), so the payload ignores it.
        let lowest = header.lowestDiscernibleValue
        // As Java's decoder: the highest trackable value is at least twice the lowest.
        let highest = lowest <= UInt64(Int64.max) / 2 ? max(header.highestTrackableValue, 2 * lowest) : 0
        guard let layout = HdrLayout(lowest: lowest, highest: highest, digits: header.significantDigits),
            let digits = SignificantDigits(rawValue: Int8(header.significantDigits)),
            layout.countsLength <= maxCountsLength
        else {
            throw DecodingError(
                description: "HdrHistogram: invalid or too large layout (lowest \(lowest), highest"
                    + " \(header.highestTrackableValue), \(header.significantDigits) significant digits)"
            )
        }
        var histogram = Histogram<UInt64>(
            lowestDiscernibleValue: lowest,
            highestTrackableValue: highest,
            numberOfSignificantValueDigits: digits
        )
        try fill(&histogram, layout: layout, bytes, from: headerSize, to: payloadEnd)
        return (header, histogram)
    }

    static func fill(
        _ histogram: inout Histogram<UInt64>,
        layout: HdrLayout,
        _ bytes: [UInt8],
        from start: Int,
        to end: Int
    ) throws(DecodingError) {
        var position = start
        var index = 0
        var total: UInt64 = 0
        while position < end {
            let at = position
            guard let count = ZigZag.read(bytes, &position, end: end) else {
                throw DecodingError(description: "HdrHistogram: payload truncated at byte \(at)")
            }
            if count < 0 {
                let zeros = count.magnitude
                guard zeros <= UInt64(layout.countsLength - index) else {
                    throw DecodingError(
                        description: "HdrHistogram: a run of \(zeros) zeros at byte \(at) passes the end of"
                            + " the \(layout.countsLength) counts"
                    )
                }
                index += Int(zeros)
                continue
            }
            guard index < layout.countsLength else {
                throw DecodingError(
                    description: "HdrHistogram: count at byte \(at) lies past the \(layout.countsLength) counts"
                )
            }
            if count > 0 {
                let (sum, overflow) = total.addingReportingOverflow(UInt64(count))
                guard !overflow, histogram.record(layout.value(at: index), count: UInt64(count)) else {
                    throw DecodingError(description: "HdrHistogram: count at byte \(at) cannot be recorded")
                }
                total = sum
            }
            index += 1
        }
    }

    /// zlib-inflates untrusted bytes into at most `maxDecompressedBytes`.
    static func inflate(_ compressed: [UInt8]) throws(DecodingError) -> [UInt8] {
        var capacity = Swift.max(256, Swift.min(compressed.count * 8, maxDecompressedBytes))
        while true {
            var out = [UInt8](repeating: 0, count: capacity)
            var length = uLongf(capacity)
            let status = out.withUnsafeMutableBufferPointer { dst in
                compressed.withUnsafeBufferPointer { src in
                    uncompress(dst.baseAddress, &length, src.baseAddress, uLong(src.count))
                }
            }
            if status == Z_OK { return Array(out[0..<Int(length)]) }
            if status == Z_BUF_ERROR && Int(length) < capacity {
                throw DecodingError(description: "HdrHistogram: compressed contents truncated")
            }
            // Z_BUF_ERROR is also zlib's answer for truncated input: retry only while there is room.
            guard status == Z_BUF_ERROR, capacity < maxDecompressedBytes else {
                throw DecodingError(
                    description: status == Z_BUF_ERROR
                        ? "HdrHistogram: compressed contents larger than 64 MiB"
                        : "HdrHistogram: compressed contents are not valid zlib data (corrupt or truncated; zlib error \(status))"
                )
            }
            capacity = Swift.min(capacity * 4, maxDecompressedBytes)
        }
    }

    static func appendBigEndian(_ value: UInt64, bytes: Int, to out: inout [UInt8]) {
        for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    static func readBigEndian(_ bytes: [UInt8], at offset: Int, bytes count: Int) -> UInt64 {
        var value: UInt64 = 0
        for byte in bytes[offset..<(offset + count)] { value = value << 8 | UInt64(byte) }
        return value
    }
}
