import Foundation
import Histogram
import Testing

@testable import VolleyCore

/// "HISTF…" strings written by other HdrHistogram implementations, with the contents their own
/// test suites expect: proof that Volley reads what Java, Go, C and Python write.
@Suite struct HdrHistogramV2VectorTests {
    // HdrHistogram/hdrhistogram-go, hdr_encoding_test.go (TestHistogram_Load): one value, 42.
    static let goOne = "HISTFAAAAB542pNpmSzMwMDAxAABzFCaEUoz2X+AMIKZAEARAtM="
    // HdrHistogram/hdrhistogram-go, hdr_encoding_test.go (TestHistogram_Load): one value, 42,
    // with a normalizing index offset of 1 in its header (which the logical payload ignores).
    static let goOneAgain = "HISTFAAAAB94nJNpmSzMwMDABMSMQMzMAAGMUJoJxg9mAgA1TQGm"
    // HdrHistogram/hdrhistogram-go, hdr_encoding_test.go (TestHistogram_Load, _Dump_empty):
    // empty, lowest 20, highest 1000, 3 digits.
    static let goEmpty = "HISTFAAAABl4nJNpmSzMgADMUFoEyn1h/wHCAgBDogN4"
    // HdrHistogram/hdrhistogram-go, hdr_encoding_test.go (TestHistogram_Load_Errors): V1, refused.
    static let goV1 =
        "HISTIgAAAFd42pNpmazIwMAYxgABTBDKT4GBgdnNYMcCBvsPUBkeBkYGZqA8MwMbAzsDC5DFBCTZgJCDQY1BjkGLQZRBlUEPCB8zWDCYMxgDZZkZhgJgHDibAY8JB/A="
    // HdrHistogram/HdrHistogram_py, test/test_hdrhistogram.py (ENCODE_SAMPLES_HDRHISTOGRAM_C[0],
    // written by HdrHistogram_c): 1000 recorded 10,000 times and 100,000,000 once (1, 3.6e9, 3).
    static let cStandard = "HISTFAAAACl4nJNpmSzMwMBgyAABzFCaEURcm7yEwf4DROA8/4I5jNM7mJgAlWkH9g=="
    // HdrHistogram/HdrHistogram_py, test/test_hdrhistogram.py (ENCODE_SAMPLES_HDRHISTOGRAM_C[1]):
    // the same values recorded with coordinated-omission correction (interval 10,000).
    static let cCorrected =
        "HISTFAAAAP94nJNpmSzMwCByigECmKE0I4i4NnkJg/0HiMB5/gVzGD8aM/3lZ7rPyTSbjektC9N7Fqa"
        + "HzEzbmZi2whCEvZKRaSYj02wwiYng4tFM3lDoC2dhhwh5UyZlJlUMjClCmgpMEUUmQSZ+IBZEojFFCM"
        + "vQRwUxenmZ2MGQFUqz4+CTo4I2pg4dFdQylZWJkYkZCaPyMEUIydPLjMHrssFixuB12XD0HRAwMsFJg"
        + "kwilZHJHHKmjzp41MFDOjhYmFiQEUEmMWqGsvKBd8Fwd/Co/waTC9jYOMAIiSJRhLbKh5x9Q87Bo/YN"
        + "bfsoM4CPhw+IIJAkxnDXN+QcTIpyAPnGh6k="

    @Test func goSingleValue() throws {
        for text in [Self.goOne, Self.goOneAgain] {
            let h = try HdrHistogramV2.decode(base64: text)
            #expect(h.totalCount == 1)
            #expect(h.mean == 42.0)
            #expect(h.min == 42 && h.max == 42)
        }
    }

    @Test func goEmptyKeepsTheProducersParameters() throws {
        let (header, h) = try HdrHistogramV2.decodeWithHeader([UInt8](Data(base64Encoded: Self.goEmpty)!))
        #expect(h.totalCount == 0)
        #expect(h.lowestDiscernibleValue == 20)
        #expect(h.highestTrackableValue == 1000)
        #expect(h.numberOfSignificantValueDigits == .three)
        #expect(header.integerToDoubleValueConversionRatio == 1.0)
        #expect(header.normalizingIndexOffset == 0)
    }

    @Test func goTenThousandValues() throws {
        let h = try HdrHistogramV2.decode(base64: HdrHistogramV2GoBig.text)
        #expect(h.totalCount == 10_000)
    }

    @Test func olderEncodingIsRefusedWithAClearError() {
        #expect {
            try HdrHistogramV2.decode(base64: Self.goV1)
        } throws: { error in
            "\(error)".contains("older V0/V1 encoding")
        }
    }

    /// The expectations of HdrHistogram_py's `check_percentiles` (within 0.1 %).
    @Test func cStandardHistogram() throws {
        let h = try HdrHistogramV2.decode(base64: Self.cStandard)
        #expect(h.totalCount == 10_001)
        for (p, v) in [(30.0, 1000.0), (99.0, 1000), (99.99, 1000), (99.999, 100_000_000), (100, 100_000_000)] {
            #expect(abs(Double(h.valueAtPercentile(p)) - v) < v * 0.001, "p\(p)")
        }
        #expect(h.valuesAreEquivalent(h.min, 1000))
        #expect(h.valuesAreEquivalent(h.max, 100_000_000))
        #expect(h.lowestDiscernibleValue == 1 && h.highestTrackableValue == 3_600_000_000)
    }

    @Test func cCorrectedHistogram() throws {
        let h = try HdrHistogramV2.decode(base64: Self.cCorrected)
        #expect(h.totalCount == 20_000)
        let expected: [(Double, Double)] = [
            (30, 1000), (50, 1000), (75, 50_000_000), (90, 80_000_000), (99, 98_000_000),
            (99.999, 100_000_000), (100, 100_000_000),
        ]
        for (p, v) in expected {
            #expect(abs(Double(h.valueAtPercentile(p)) - v) < v * 0.001, "p\(p)")
        }
        #expect(h.valuesAreEquivalent(h.min, 1000))
        #expect(h.valuesAreEquivalent(h.max, 100_000_000))
    }

    /// Volley's encoder writes the very V2 bytes HdrHistogram_c wrote for the same counts
    /// (compare before compression: zlib output may differ between versions and levels).
    @Test func encoderMatchesOtherImplementationsByteForByte() throws {
        // Not goEmpty: Go writes no payload for an empty histogram, Java and Volley one zero.
        // Not cCorrected: HdrHistogram_c writes a lone zero count as a run of one (-1), Java,
        // Go and Volley as 0; both decode alike (cCorrectedHistogram checks the contents).
        for text in [Self.goOne, Self.cStandard, HdrHistogramV2GoBig.text] {
            let bytes = [UInt8](Data(base64Encoded: text)!)
            let theirs = try HdrHistogramV2.inflate(Array(bytes[8...]))
            let ours = HdrHistogramV2.encode(try HdrHistogramV2.decode(bytes))
            #expect(ours.count == theirs.count, "\(text.prefix(16))")
            // Bytes 0..<8 hold the cookie's word-size nibble and the payload length, which
            // producers set differently (HdrHistogram_c writes its buffer size): check ours.
            #expect(ours[8...].elementsEqual(theirs[8...]), "\(text.prefix(16))")
            #expect(HdrHistogramV2.readBigEndian(ours, at: 4, bytes: 4) == UInt64(ours.count - 40))
        }
    }

    /// HdrHistogram/HdrHistogram_py, test/test_hdrhistogram.py (test_zz_encode,
    /// LARGE_POSITIVE_VALUE, LARGE_NEGATIVE_VALUE): the 9-byte ZigZag LEB128 variant.
    @Test func zigZagMatchesHdrHistogramPy() {
        let vectors: [(Int64, [UInt8])] = [
            (-10, [0x13]), (-9, [0x11]), (1, [0x02]), (0, [0x00]),
            (Int64.max, [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            (Int64.min, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ]
        for (value, bytes) in vectors {
            var out: [UInt8] = []
            ZigZag.append(value, to: &out)
            #expect(out == bytes, "\(value)")
            var index = 0
            #expect(ZigZag.read(bytes, &index, end: bytes.count) == value, "\(value)")
            #expect(index == bytes.count)
        }
    }
}
