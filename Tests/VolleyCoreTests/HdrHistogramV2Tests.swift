import Foundation
import Histogram
import Testing

@testable import VolleyCore

/// Round trips and hostile input for the V2 codec (vectors from other libraries are in
/// HdrHistogramV2VectorTests).
@Suite struct HdrHistogramV2Tests {
    /// Count by bucket (lowest value of the bucket), read through the histogram's own lookup.
    static func buckets(_ h: Histogram<UInt64>) -> [UInt64: UInt64] {
        let layout = HdrLayout(of: h)!
        var out: [UInt64: UInt64] = [:]
        for (index, count) in HdrHistogramV2.nonZeroCounts(h, layout: layout) {
            out[h.lowestEquivalentForValue(layout.value(at: index))] = count
        }
        return out
    }

    static func random(seed: UInt64, values: Int) -> Histogram<UInt64> {
        var rng = SplitMix64(seed: seed)
        var h = LatencyHistogram.make()
        for _ in 0..<values {
            // Log-uniform over 1 µs … 1 h, with repeats: every bucket size and many zero runs.
            let exponent = Double.random(in: 0...log2(Double(LatencyHistogram.highestMicroseconds)), using: &rng)
            let value = Swift.min(UInt64(exp2(exponent)), LatencyHistogram.highestMicroseconds)
            _ = h.record(value, count: UInt64.random(in: 1...3, using: &rng))
        }
        return h
    }

    @Test(arguments: [(1, 0), (2, 1), (3, 50), (4, 5_000), (5, 100_000)] as [(UInt64, Int)])
    func roundTripEqualsBucketByBucket(seed: UInt64, values: Int) throws {
        let h = Self.random(seed: seed, values: values)
        for bytes in [HdrHistogramV2.encode(h), HdrHistogramV2.encodeCompressed(h)] {
            let back = try HdrHistogramV2.decode(bytes)
            #expect(Self.buckets(back) == Self.buckets(h))
            #expect(back.totalCount == h.totalCount)
            #expect(back.lowestDiscernibleValue == 1 && back.highestTrackableValue == 3_600_000_000)
            #expect(back.numberOfSignificantValueDigits == .three)
            #expect(HdrHistogramV2.encode(back) == HdrHistogramV2.encode(h))
        }
        let text = HdrHistogramV2.encodeBase64(h)
        #expect(text.hasPrefix("HISTF"))
        #expect(Self.buckets(try HdrHistogramV2.decode(base64: text)) == Self.buckets(h))
    }

    @Test func extremesAndOtherLayoutsRoundTrip() throws {
        var h = Histogram<UInt64>(
            lowestDiscernibleValue: 1000,
            highestTrackableValue: 1 << 62,
            numberOfSignificantValueDigits: .two
        )
        _ = h.record(0)
        _ = h.record(1 << 62, count: UInt64(Int64.max) / 2)
        _ = h.record(123_456_789, count: 3)
        let back = try HdrHistogramV2.decode(HdrHistogramV2.encodeCompressed(h))
        #expect(Self.buckets(back) == Self.buckets(h))
        #expect(back.lowestDiscernibleValue == 1000 && back.numberOfSignificantValueDigits == .two)
        #expect(back.totalCount == h.totalCount)
    }

    @Test func mergedOfDecodedEqualsDecodedOfMerged() throws {
        let a = Self.random(seed: 11, values: 3_000)
        let b = Self.random(seed: 12, values: 7_000)
        var mergedDecoded = try HdrHistogramV2.decode(HdrHistogramV2.encodeCompressed(a))
        mergedDecoded.add(try HdrHistogramV2.decode(HdrHistogramV2.encodeCompressed(b)))
        var merged = a
        merged.add(b)
        let decodedMerged = try HdrHistogramV2.decode(HdrHistogramV2.encodeCompressed(merged))
        #expect(Self.buckets(mergedDecoded) == Self.buckets(decodedMerged))
        #expect(mergedDecoded.totalCount == a.totalCount + b.totalCount)
        for p in [50.0, 99, 99.9, 100] {
            #expect(mergedDecoded.valueAtPercentile(p) == decodedMerged.valueAtPercentile(p))
        }
    }

    static func header(lowest: UInt64 = 1, highest: UInt64 = 1000, digits: Int = 3, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        HdrHistogramV2.appendBigEndian(UInt64(HdrHistogramV2.cookie), bytes: 4, to: &out)
        HdrHistogramV2.appendBigEndian(UInt64(payload.count), bytes: 4, to: &out)
        HdrHistogramV2.appendBigEndian(0, bytes: 4, to: &out)
        HdrHistogramV2.appendBigEndian(UInt64(UInt32(bitPattern: Int32(digits))), bytes: 4, to: &out)
        HdrHistogramV2.appendBigEndian(lowest, bytes: 8, to: &out)
        HdrHistogramV2.appendBigEndian(highest, bytes: 8, to: &out)
        HdrHistogramV2.appendBigEndian((1.0 as Double).bitPattern, bytes: 8, to: &out)
        return out + payload
    }

    static func expectError(
        _ bytes: [UInt8],
        _ fragment: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        #expect(sourceLocation: sourceLocation) {
            try HdrHistogramV2.decode(bytes)
        } throws: { error in
            "\(error)".contains(fragment)
        }
    }

    @Test func corruptInputIsAClearErrorNotACrash() {
        Self.expectError([0x1c, 0x84], "too short for a cookie")
        Self.expectError([0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0], "unknown cookie 0xdeadbeef")
        Self.expectError(Self.header(payload: [0x02])[0..<30].map { $0 }, "needs 40 bytes")
        Self.expectError(Self.header(digits: 7, payload: [0x02]), "invalid or too large layout")
        Self.expectError(Self.header(digits: -1, payload: [0x02]), "invalid or too large layout")
        Self.expectError(Self.header(lowest: 0, payload: [0x02]), "invalid or too large layout")
        Self.expectError(Self.header(lowest: 1 << 62, payload: [0x02]), "invalid or too large layout")
        Self.expectError(Self.header(highest: UInt64.max, payload: [0x02]), "invalid or too large layout")
        Self.expectError(Self.header(payload: [0xFF]), "payload truncated at byte 40")
        // -2147483648 zeros (HdrHistogram_py's INDEX_SKIPPER_VALUE), then a count.
        Self.expectError(Self.header(payload: [0x01, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x02]), "passes the end")
        // The largest negative number, as a zero run (HdrHistogram_py's LARGE_NEGATIVE_VALUE).
        Self.expectError(Self.header(payload: [UInt8](repeating: 0xFF, count: 9)), "passes the end")
        // Two counts near Int64.max: the total would overflow.
        let huge: [UInt8] = [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        Self.expectError(Self.header(payload: huge + huge + huge), "cannot be recorded")
        var long = Self.header(payload: [0x02])
        long[7] = 200
        Self.expectError(long, "payload length 200 exceeds")
        Self.expectError([0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 4, 1, 2, 3, 4], "not valid zlib data")
        Self.expectError([0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 99, 1, 2], "compressed length 99 exceeds")
        let good = HdrHistogramV2.encodeCompressed(Self.random(seed: 3, values: 500))
        var truncated = Array(good[0..<(good.count - 10)])
        truncated[7] = UInt8(truncatingIfNeeded: truncated.count - 8)  // a consistent length over cut zlib data
        truncated[6] = UInt8((truncated.count - 8) >> 8)
        Self.expectError(truncated, "corrupt or truncated")
        #expect(throws: HdrHistogramV2.DecodingError.self) { try HdrHistogramV2.decode(base64: "HISTF@@@") }
    }

    @Test func randomDamageNeverCrashes() {
        let good = HdrHistogramV2.encodeCompressed(Self.random(seed: 9, values: 2_000))
        let plain = HdrHistogramV2.encode(Self.random(seed: 10, values: 2_000))
        var rng = SplitMix64(seed: 42)
        var decoded = 0
        for round in 0..<600 {
            var bytes = round.isMultiple(of: 2) ? good : plain
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[at] = UInt8.random(in: 0...255, using: &rng)
            }
            if (try? HdrHistogramV2.decode(bytes)) != nil { decoded += 1 }
        }
        #expect(decoded < 600)  // damage is mostly detected; none of it crashed to get here
    }
}
