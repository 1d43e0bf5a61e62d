import Foundation
import Histogram

/// A histogram in a bundle: the V2 compressed encoding, plus the exact smallest and largest
/// values, which V2 rounds to their buckets but the summary's min, max and percentiles (a
/// percentile is clamped to them) read exactly.
public struct BundleHistogram: Codable, Sendable, Equatable {
    /// HdrHistogram V2 compressed, base64 ("HISTF…"), microseconds.
    public var hdr: String
    public var minMicros: UInt64
    public var maxMicros: UInt64

    enum CodingKeys: String, CodingKey {
        case hdr
        case minMicros = "min_us"
        case maxMicros = "max_us"
    }

    public init(_ histogram: Histogram<UInt64>) {
        hdr = HdrHistogramV2.encodeBase64(histogram)
        minMicros = histogram.totalCount > 0 ? histogram.min : 0
        maxMicros = histogram.maxRecorded
    }

    /// The histogram as it was recorded: every count in its bucket, the exact minimum and
    /// maximum restored, in Volley's latency layout (so it merges with any other).
    public func histogram() throws(InputError) -> Histogram<UInt64> {
        let decoded: Histogram<UInt64>
        do {
            decoded = try HdrHistogramV2.decode(base64: hdr)
        } catch {
            throw InputError("a histogram in the bundle cannot be read: \(error.description)", hint: nil)
        }
        var out = LatencyHistogram.make()
        guard decoded.totalCount > 0 else { return out }
        var buckets: [(value: UInt64, count: UInt64)] = []
        for bucket in decoded.recordedValues() where bucket.count > 0 {
            buckets.append((decoded.lowestEquivalentForValue(bucket.value), bucket.count))
        }
        guard let first = buckets.first, let last = buckets.last,
            decoded.lowestEquivalentForValue(minMicros) == first.value,
            decoded.lowestEquivalentForValue(maxMicros) == last.value
        else {
            throw InputError(
                "a histogram in the bundle is inconsistent: min \(minMicros) µs / max \(maxMicros) µs lie outside its recorded buckets",
                hint: "the bundle was edited or damaged; write it again with volley run --bundle"
            )
        }
        // Every count goes into its own bucket; those of the first and last buckets are
        // recorded at the exact extremes (the same buckets), so min and max come back exact.
        for (i, bucket) in buckets.enumerated() {
            guard bucket.value <= LatencyHistogram.highestMicroseconds else {
                throw InputError("a histogram in the bundle has values out of range", hint: nil)
            }
            var rest = bucket.count
            if i == buckets.count - 1 {
                _ = out.record(maxMicros)
                rest -= 1
            }
            if rest > 0 { _ = out.record(i == 0 ? minMicros : bucket.value, count: rest) }
        }
        return out
    }
}
