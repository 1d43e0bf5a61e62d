import NIOCore
import NIOHPACK
import Testing
import VolleyCore

@testable import VolleyEngine

/// The lean HPACK decoder against NIOHPACK's encoder (and the RFC's examples): the same
/// fields, block after block, with the dynamic table in step, Huffman on and off, every
/// indexing mode, tables that evict.
@Suite struct H2HeaderDecoderTests {
    private func bytes(_ hex: String) -> ByteBuffer {
        var out: [UInt8] = []
        var chars = Array(hex.filter { !$0.isWhitespace })
        while chars.count >= 2 {
            out.append(UInt8(String(chars[0...1]), radix: 16)!)
            chars.removeFirst(2)
        }
        return ByteBuffer(bytes: out)
    }

    @Test func rfc7541ResponsesWithHuffmanAndEviction() throws {
        // RFC 7541 C.6: three responses, Huffman coded, a 256-byte table that evicts.
        var d = H2HeaderDecoder(maxTableSize: 256)
        let first = try d.decode(
            bytes(
                "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"
            ),
            keepAll: true
        )
        #expect(first.status == 302)
        #expect(first.location == "https://www.example.com")
        #expect(first.fields.map(\.name) == ["cache-control", "date", "location"])
        #expect(first.fields[1].value == "Mon, 21 Oct 2013 20:13:21 GMT")
        let second = try d.decode(bytes("4883 640e ff c1 c0 bf"), keepAll: true)
        #expect(second.status == 307)
        #expect(second.location == "https://www.example.com")
        let third = try d.decode(
            bytes(
                "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"
            ),
            keepAll: true
        )
        #expect(third.status == 200)
        #expect(third.contentEncoding == "gzip")
        #expect(
            third.fields.last?.value == "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
        )
    }

    @Test(arguments: [false, true])
    func manyBlocksDecodeAsNIOHPACKDecodesThem(huffman: Bool) throws {
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: huffman)
        var reference = HPACKDecoder(allocator: ByteBufferAllocator())
        var mine = H2HeaderDecoder()
        var rng = SplitMix64(seed: huffman ? 7 : 11)
        let statuses = ["200", "204", "301", "404", "500", "503"]
        for n in 0..<500 {
            var headers = HPACKHeaders()
            headers.add(name: ":status", value: statuses[Int(rng.next() % 6)])
            headers.add(name: "server", value: "nginx/1.22.\(rng.next() % 3)")
            headers.add(
                name: "date",
                value: "Sun, 06 Dec 2026 18:\(10 + n % 50):\(10 + n % 49) GMT",
                indexing: .nonIndexable
            )
            headers.add(name: "content-type", value: rng.next() % 2 == 0 ? "text/html" : "application/json")
            headers.add(name: "content-length", value: String(rng.next() % 100_000))
            if rng.next() % 3 == 0 { headers.add(name: "content-encoding", value: "gzip") }
            if rng.next() % 5 == 0 { headers.add(name: "location", value: "/next/\(n)") }
            headers.add(name: "x-trace-\(n % 7)", value: String(repeating: "v", count: Int(rng.next() % 300)))
            if rng.next() % 4 == 0 { headers.add(name: "set-cookie", value: "s=\(n)", indexing: .neverIndexed) }
            var block = ByteBuffer()
            try encoder.encode(headers: headers, to: &block)
            var copy = block
            let expected = try reference.decodeHeaders(from: &copy)
            let head = try mine.decode(block, keepAll: true)
            #expect(head.status == Int(expected.first(name: ":status")!), "block \(n)")
            #expect(head.contentLength == expected.first(name: "content-length").flatMap { Int($0) })
            #expect(head.contentEncoding == expected.first(name: "content-encoding"))
            #expect(head.location == expected.first(name: "location"))
            let fields = expected.filter { !$0.name.hasPrefix(":") }.map { "\($0.name)=\($0.value)" }
            #expect(head.fields.map { "\($0.name)=\($0.value)" } == fields, "block \(n)")
        }
    }

    @Test func repeatedCodedValuesComeBackExactlyFromTheMemos() throws {
        // Values repeat (memo hits), differ in one character at equal length (memo misses
        // that must not be taken for hits), and share hashed memo slots (8 for 40 values).
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: true)
        var reference = HPACKDecoder(allocator: ByteBufferAllocator())
        var mine = H2HeaderDecoder()
        var rng = SplitMix64(seed: 5)
        for n in 0..<400 {
            let k = Int(rng.next() % 40)
            var headers = HPACKHeaders()
            headers.add(name: ":status", value: "200")
            headers.add(name: "server", value: "nginx/1.22.\(k % 4)", indexing: .nonIndexable)
            headers.add(name: "x-shard", value: "shard-\(k)-of-40", indexing: .nonIndexable)
            headers.add(name: "content-type", value: k % 2 == 0 ? "text/plain" : "text/plaim")
            var block = ByteBuffer()
            try encoder.encode(headers: headers, to: &block)
            var copy = block
            let expected = try reference.decodeHeaders(from: &copy).filter { !$0.name.hasPrefix(":") }
            let head = try mine.decode(block, keepAll: true)
            #expect(head.fields.map { "\($0.name)=\($0.value)" } == expected.map { "\($0.name)=\($0.value)" }, "\(n)")
        }
    }

    @Test func aRepeatedBlockIsReplayedWithItsInsertionsAndOneThatReadsTheTableIsNot() throws {
        // A: `:status 200`, `server: a` with incremental indexing (as nginx sends every head).
        let a = ByteBuffer(bytes: [0x88, 0x76, 0x01, UInt8(ascii: "a")])
        // B: a new name, indexed: `x: b`.
        let b = ByteBuffer(bytes: [0x88, 0x40, 0x01, UInt8(ascii: "x"), 0x01, UInt8(ascii: "b")])
        // E: the newest dynamic entry: its meaning changes with the table.
        let e = ByteBuffer(bytes: [0x88, 0xBE])
        var d = H2HeaderDecoder()
        for _ in 0..<3 {
            let head = try d.decode(a, keepAll: true)
            #expect(head.status == 200 && head.fields.map { "\($0.name)=\($0.value)" } == ["server=a"])
        }
        #expect(try d.decode(a, keepAll: false).fields.isEmpty)  // the replay is per keepAll
        _ = try d.decode(b, keepAll: true)
        #expect(try d.decode(e, keepAll: true).fields.map(\.value) == ["b"])
        _ = try d.decode(a, keepAll: true)
        #expect(try d.decode(e, keepAll: true).fields.map(\.value) == ["a"])
        // Every replay inserted its entry: newest first, the last a, b, then a's four before.
        let all = ByteBuffer(bytes: [0x88, 0xBE, 0xBF, 0xC0, 0xC1, 0xC2, 0xC3])
        #expect(try d.decode(all, keepAll: true).fields.map(\.value) == ["a", "b", "a", "a", "a", "a"])
        #expect(throws: H2HeaderDecoder.DecodingError.self) {
            try d.decode(ByteBuffer(bytes: [0x88, 0xC4]), keepAll: true)
        }
    }

    @Test func aCopiedDecoderKeepsItsOwnTable() throws {
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: false)
        var first = ByteBuffer()
        try encoder.encode(headers: [":status": "200", "x-a": "one"], to: &first)
        var second = ByteBuffer()
        try encoder.encode(headers: [":status": "200", "x-a": "one"], to: &second)  // refers to the table
        var original = H2HeaderDecoder()
        _ = try original.decode(first, keepAll: true)
        var copy = original
        _ = try copy.decode(ByteBuffer(bytes: [0x20]), keepAll: true)  // size update to 0
        #expect(try original.decode(second, keepAll: true).fields.map(\.value) == ["one"])
        #expect(throws: H2HeaderDecoder.DecodingError.self) { try copy.decode(second, keepAll: true) }
    }

    @Test func withoutKeepAllOnlyTheFieldsVolleyReadsAreStrings() throws {
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: true)
        var block = ByteBuffer()
        try encoder.encode(
            headers: [":status": "404", "content-length": "12", "server": "x", "location": "/a"],
            to: &block
        )
        var d = H2HeaderDecoder()
        let head = try d.decode(block, keepAll: false)
        #expect(head.status == 404 && head.contentLength == 12 && head.location == "/a")
        #expect(head.fields.isEmpty)
    }

    @Test func damagedBlocksAreErrorsNotCrashes() throws {
        var d = H2HeaderDecoder()
        for hex in ["be", "7f", "40 85", "8a 00", "3f e1 ff ff ff 0f", "41 ff ff ff ff ff ff", "40 81 ff 81 00"] {
            #expect(throws: H2HeaderDecoder.DecodingError.self, "\(hex)") {
                _ = try d.decode(bytes(hex), keepAll: true)
            }
        }
        var rng = SplitMix64(seed: 3)
        for _ in 0..<2000 {
            let junk = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var fresh = H2HeaderDecoder()
            _ = try? fresh.decode(ByteBuffer(bytes: junk), keepAll: true)
        }
    }
}
