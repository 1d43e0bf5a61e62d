import Histogram

/// The counts-array layout every HdrHistogram implementation shares (Java's `AbstractHistogram`,
/// which hdrhistogram-swift ports): the V2 encoding is that array, index by index, so the codec
/// must map values to indices and back exactly as the writer did. hdrhistogram-swift keeps
/// these functions internal, hence this small mirror.
struct HdrLayout {
    let unitMagnitude: Int
    let subBucketHalfCountMagnitude: Int
    let subBucketHalfCount: Int
    let subBucketMask: UInt64
    let leadingZeroCountBase: Int
    let countsLength: Int

    /// Nil when the parameters describe no valid histogram (the same rules as Java's constructor,
    /// checked here so that a corrupt header cannot reach hdrhistogram-swift's preconditions).
    init?(lowest: UInt64, highest: UInt64, digits: Int) {
        guard (0...5).contains(digits), lowest >= 1, lowest <= UInt64(Int64.max) / 2,
            highest >= 2 * lowest, highest <= UInt64(Int64.max)
        else { return nil }
        var largestSingleUnit: UInt64 = 2
        for _ in 0..<digits { largestSingleUnit *= 10 }
        unitMagnitude = 63 - lowest.leadingZeroBitCount
        // ceil(log2(largestSingleUnit)), exactly
        let subBucketCountMagnitude = 64 - (largestSingleUnit - 1).leadingZeroBitCount
        subBucketHalfCountMagnitude = Swift.max(subBucketCountMagnitude, 1) - 1
        guard unitMagnitude + subBucketHalfCountMagnitude <= 61 else { return nil }
        let subBucketCount = 1 << subBucketCountMagnitude
        subBucketHalfCount = subBucketCount / 2
        subBucketMask = UInt64(subBucketCount - 1) << unitMagnitude
        leadingZeroCountBase = 64 - unitMagnitude - subBucketCountMagnitude
        var smallestUntrackable = UInt64(subBucketCount) << unitMagnitude
        var buckets = 1
        while smallestUntrackable <= highest {
            if smallestUntrackable > UInt64(Int64.max) / 2 {
                buckets += 1
                break
            }
            smallestUntrackable <<= 1
            buckets += 1
        }
        countsLength = (buckets + 1) * subBucketHalfCount
    }

    init?(of histogram: Histogram<UInt64>) {
        self.init(
            lowest: histogram.lowestDiscernibleValue,
            highest: histogram.highestTrackableValue,
            digits: Int(histogram.numberOfSignificantValueDigits.rawValue)
        )
    }

    func index(of value: UInt64) -> Int {
        let bucketIndex = leadingZeroCountBase - (value | subBucketMask).leadingZeroBitCount
        let subBucketIndex = Int(value >> UInt64(bucketIndex + unitMagnitude))
        return ((bucketIndex + 1) << subBucketHalfCountMagnitude) + subBucketIndex - subBucketHalfCount
    }

    func value(at index: Int) -> UInt64 {
        var bucketIndex = (index >> subBucketHalfCountMagnitude) - 1
        var subBucketIndex = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
        if bucketIndex < 0 {
            subBucketIndex -= subBucketHalfCount
            bucketIndex = 0
        }
        return UInt64(subBucketIndex) << UInt64(bucketIndex + unitMagnitude)
    }
}

/// HdrHistogram's ZigZag LEB128 variant: at most 9 bytes, the ninth carrying a full 8 bits.
enum ZigZag {
    static func append(_ value: Int64, to out: inout [UInt8]) {
        var v = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        for _ in 0..<8 {
            if v >> 7 == 0 {
                out.append(UInt8(v))
                return
            }
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Nil when the bytes end in the middle of a number.
    static func read(_ bytes: [UInt8], _ index: inout Int, end: Int) -> Int64? {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        for position in 0..<9 {
            guard index < end else { return nil }
            let byte = bytes[index]
            index += 1
            if position == 8 {
                v |= UInt64(byte) << 56
                break
            }
            v |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }
}
