import Histogram

/// The histograms of one run, kept so that a saved run can be re-analysed, re-rendered and
/// compared later with full percentile precision (not just the percentiles printed then).
public struct RunHistograms: Sendable {
    /// Latency of completed responses (µs), as in the summary.
    public var latency: Histogram<UInt64>
    /// From the actual write to the end of the response (µs).
    public var serviceTime: Histogram<UInt64>
    /// Latency per request name (plans only).
    public var byName: [String: Histogram<UInt64>]
    /// Each recorded phase of the whole run (µs), so a saved run's phase percentiles can be
    /// read again exactly, not only the summary's rounded figures.
    public var phases: [Phase: Histogram<UInt64>]

    public init(
        latency: Histogram<UInt64>,
        serviceTime: Histogram<UInt64>,
        byName: [String: Histogram<UInt64>] = [:],
        phases: [Phase: Histogram<UInt64>] = [:]
    ) {
        self.latency = latency
        self.serviceTime = serviceTime
        self.byName = byName
        self.phases = phases
    }
}

/// A compact, lossless encoding of a `LatencyHistogram`: only the non-empty buckets, as
/// (value delta, count) varints. A full histogram is ~190 KB in memory and in
/// `Histogram`'s own Codable form; a typical run's encodes to a few hundred bytes to a few
/// KB, small enough to keep every run's histograms in the history database.
public enum HistogramCodec {
    static let magic: [UInt8] = Array("VHS1".utf8)

    public struct DecodingError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func encode(_ histogram: Histogram<UInt64>) -> [UInt8] {
        var out = magic
        var previous: UInt64 = 0
        func emit(_ value: UInt64, _ count: UInt64) {
            appendVarint(value - previous, to: &out)
            appendVarint(count, to: &out)
            previous = value
        }
        let buckets = histogram.recordedValues().filter { $0.count > 0 }
        for (i, bucket) in buckets.enumerated() {
            // Each bucket as its lowest value (it records into the same bucket and, unlike
            // the highest, never lies beyond the trackable range) — except one count each for
            // the exact minimum and maximum, which the histogram tracks beyond its buckets.
            var exact: [UInt64] = []
            if i == 0 { exact.append(histogram.min) }
            if i == buckets.count - 1 { exact.append(histogram.maxRecorded) }
            if exact.count == 2 && bucket.count == 1 { exact = [histogram.maxRecorded] }
            let rest = bucket.count - UInt64(exact.count)
            // The first bucket's other counts are written at the exact minimum (the same
            // bucket): written at the bucket's lowest value, they would read back as the minimum.
            let at = i == 0 ? histogram.min : histogram.lowestEquivalentForValue(bucket.value)
            if rest > 0 { emit(at, rest) }
            for value in exact.sorted() { emit(value, 1) }
        }
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> Histogram<UInt64> {
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            throw DecodingError(description: "not a Volley histogram (bad header)")
        }
        var histogram = LatencyHistogram.make()
        var index = magic.count
        var value: UInt64 = 0
        while index < bytes.count {
            let delta = try readVarint(bytes, &index)
            let count = try readVarint(bytes, &index)
            let (sum, overflow) = value.addingReportingOverflow(delta)
            guard !overflow, sum <= LatencyHistogram.highestMicroseconds else {
                throw DecodingError(description: "histogram value out of range")
            }
            value = sum
            guard histogram.record(value, count: count) else {
                throw DecodingError(description: "histogram value \(value) cannot be recorded")
            }
        }
        return histogram
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func readVarint(_ bytes: [UInt8], _ index: inout Int) throws(DecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            guard shift < 64 else { break }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
        throw DecodingError(description: "truncated histogram")
    }
}
