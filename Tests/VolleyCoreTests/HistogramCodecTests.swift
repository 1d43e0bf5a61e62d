import Histogram
import Testing

@testable import VolleyCore

@Suite struct HistogramCodecTests {
    @Test func roundTripKeepsEveryBucket() throws {
        var h = LatencyHistogram.make()
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { _ = h.record(UInt64.random(in: 1...5_000_000, using: &random)) }
        _ = h.record(LatencyHistogram.highestMicroseconds)
        _ = h.record(1, count: 7)
        let bytes = HistogramCodec.encode(h)
        let back = try HistogramCodec.decode(bytes)
        #expect(back.totalCount == h.totalCount)
        for p in [0.0, 1, 50, 90, 99, 99.9, 100] {
            #expect(back.valueAtPercentile(p) == h.valueAtPercentile(p), "p\(p)")
        }
        #expect(back.min == h.min && back.max == h.max)
        #expect(bytes.count < 60_000)
    }

    @Test func exactMinimumAndMaximumSurvive() throws {
        // The last case: the minimum shares its bucket with another value.
        for values in [
            [1_234_567], [1_234_567, 1_234_999], [17, 17, 3_000_000_001], [1_234_567, 1_234_600, 5_000_000],
        ]
            as [[UInt64]]
        {
            var h = LatencyHistogram.make()
            for v in values { _ = h.record(v) }
            let back = try HistogramCodec.decode(HistogramCodec.encode(h))
            #expect(back.min == h.min && back.maxRecorded == h.maxRecorded, "\(values)")
            #expect(back.totalCount == UInt64(values.count))
        }
    }

    @Test func anEmptyHistogramIsJustTheHeader() throws {
        let bytes = HistogramCodec.encode(LatencyHistogram.make())
        #expect(bytes.count == 4)
        #expect(try HistogramCodec.decode(bytes).totalCount == 0)
    }

    @Test func corruptInputIsAnErrorNotACrash() {
        #expect(throws: HistogramCodec.DecodingError.self) { try HistogramCodec.decode([1, 2, 3]) }
        #expect(throws: HistogramCodec.DecodingError.self) {
            try HistogramCodec.decode(Array("VHS1".utf8) + [0xFF])
        }
        #expect(throws: HistogramCodec.DecodingError.self) {
            try HistogramCodec.decode(Array("VHS1".utf8) + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1])
        }
    }
}
