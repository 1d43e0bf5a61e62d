/// HPACK's Huffman code (RFC 7541 Appendix B), decoded without a tree: the code is
/// canonical (codes of one length are consecutive, in symbol order, and each length's first
/// code follows the previous length's last), so the bit lengths alone rebuild it, and a code
/// of length L is `firstCode[L] ..< firstCode[L] + count[L]` — a comparison per length tried.
enum HPACKHuffman {
    /// Bit length of each symbol's code, 0–255 and EOS (256), from the RFC's table.
    static let lengths: [UInt8] = [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28,
        28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23,
        22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22,
        23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26,
        28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27,
        27, 27, 27, 26,
        30,
    ]

    /// Per length 0…30: its first code, how many codes it has, and where its symbols start
    /// in `symbols`.
    static let firstCode: [UInt32] = tables.first
    static let counts: [UInt32] = tables.counts
    static let offsets: [Int] = tables.offsets
    /// Symbols ordered by (length, symbol): the canonical order.
    static let symbols: [UInt16] = tables.symbols

    private static let tables: (first: [UInt32], counts: [UInt32], offsets: [Int], symbols: [UInt16]) = {
        var counts = [UInt32](repeating: 0, count: 31)
        for l in lengths { counts[Int(l)] += 1 }
        var first = [UInt32](repeating: 0, count: 31)
        var offsets = [Int](repeating: 0, count: 31)
        var code: UInt32 = 0
        var offset = 0
        for l in 1...30 {
            first[l] = code
            offsets[l] = offset
            code = (code + counts[l]) << 1
            offset += Int(counts[l])
        }
        var symbols: [UInt16] = []
        for l in 1...30 {
            for (s, length) in lengths.enumerated() where Int(length) == l { symbols.append(UInt16(s)) }
        }
        return (first, counts, offsets, symbols)
    }()

    struct DecodingError: Error {
        var description: String
    }

    /// Appends the decoded bytes of `encoded` (a Huffman-coded string literal) to `out`.
    static func decode(_ encoded: UnsafeRawBufferPointer, into out: inout [UInt8]) throws(DecodingError) {
        var accumulator: UInt64 = 0
        var bits = 0
        var index = 0
        let n = encoded.count
        while true {
            // Keep at least 30 bits (the longest code) in the accumulator while bytes remain.
            while bits <= 56 && index < n {
                accumulator |= UInt64(encoded[index]) << UInt64(56 - bits)
                index += 1
                bits += 8
            }
            if bits == 0 { return }
            var matched = false
            var length = 5
            while length <= 30 && length <= bits {
                let code = UInt32(truncatingIfNeeded: accumulator >> UInt64(64 - length))
                let relative = code &- firstCode[length]
                if code >= firstCode[length] && relative < counts[length] {
                    let symbol = symbols[offsets[length] + Int(relative)]
                    guard symbol < 256 else { throw DecodingError(description: "HPACK: EOS inside a Huffman string") }
                    out.append(UInt8(symbol))
                    accumulator <<= UInt64(length)
                    bits -= length
                    matched = true
                    break
                }
                length += 1
            }
            if !matched {
                // What is left must be padding: fewer than 8 bits, all ones (the EOS prefix).
                guard index >= n, bits < 8 else {
                    throw DecodingError(description: "HPACK: invalid Huffman code")
                }
                let mask: UInt64 = bits == 0 ? 0 : ~UInt64(0) << UInt64(64 - bits)
                guard accumulator & mask == mask else {
                    throw DecodingError(description: "HPACK: Huffman padding is not the EOS prefix")
                }
                return
            }
        }
    }
}
