import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// HPACK decoding of response heads (RFC 7541) that makes no `String` of a field nobody reads.
///
/// A load test reads `:status` of every response and, unless a check or capture asks, three
/// headers more (`content-length`, `content-encoding`, `location`); NIOHPACK's decoder builds
/// two strings for every field of every response (a fifth of an HTTP/2 run's CPU, measured).
/// This decoder keeps the dynamic table in step with the server's (it must, or every later
/// block is misread) as byte arrays, decodes literals into reused scratch buffers, and turns
/// into strings only what is asked for.
struct H2HeaderDecoder {
    /// A decoded head: the fields Volley acts on, and every field when `keepAll`.
    struct Head {
        var status: Int?
        var contentLength: Int?
        var contentEncoding: String?
        var location: String?
        var fields: [(name: String, value: String)] = []
    }

    struct DecodingError: Error, CustomStringConvertible {
        var description: String
    }

    /// A Huffman-coded string seen recently and what it decoded to: servers send the same
    /// coded values response after response (`nginx/1.22.1`, `text/plain`, the date for a
    /// second), and comparing a few bytes is cheaper than decoding them again.
    private struct Memo {
        var encoded: [UInt8] = []
        var decoded: [UInt8] = []
    }

    /// The dynamic table; copied before a write when this decoder was copied.
    private var table: HPACKDynamicTable
    /// The table's size limit now (the server may lower it, up to what we announced).
    var maxSize: Int { table.maxSize }
    /// SETTINGS_HEADER_TABLE_SIZE as we announced it.
    var announcedMaxSize: Int { table.capacity }
    private var name: [UInt8] = []
    private var value: [UInt8] = []
    /// One memo per static-table name a value comes with (index 1…61), where nginx's values
    /// sit, and a few more shared by hash for values of other names.
    private var memos: [Memo]
    /// The static table, held here so the hot path does not go through a global's lazy
    /// initialisation check for every field.
    private let statics = HPACKStaticTable.entries

    /// The last header block that named no dynamic-table entry, what it decoded to, and the
    /// entries it added. Servers send the same block response after response (nginx: the
    /// same 48 bytes until its `date` changes), and a block that refers to no dynamic entry
    /// means the same whatever the table holds: when the next block has the same bytes, its
    /// head is this one and only its insertions are made again (the table must stay in step).
    private var replay = Replay()
    /// Whether the block being decoded referred to the dynamic table (or resized it).
    private var usedTable = false
    /// Whether the block being decoded is recorded for ``replay``.
    private var recording = false

    private struct Replay {
        var valid = false
        var keepAll = false
        var block: [UInt8] = []
        var head = Head()
        /// The inserted entries' names and values, back to back, and their lengths.
        var inserted: [UInt8] = []
        var insertions: [(name: Int, value: Int)] = []
    }

    /// Huffman strings longer than this are decoded every time (cookies, tokens: unique).
    private static let memoLimit = 64
    private static let hashedMemos = 8
    /// Blocks longer than this are decoded every time (cookies, tokens: unique).
    private static let replayLimit = 512

    init(maxTableSize: Int = 4096) {
        table = HPACKDynamicTable(capacity: maxTableSize)
        memos = [Memo](repeating: Memo(), count: HPACKStaticTable.count + 1 + Self.hashedMemos)
        name.reserveCapacity(64)
        value.reserveCapacity(256)
    }

    /// The table, for writing: this decoder's own (a copy of the decoder shares it until then).
    private mutating func writableTable() -> HPACKDynamicTable {
        if !isKnownUniquelyReferenced(&table) { table = table.copy() }
        return table
    }

    /// Decodes one complete header block.
    mutating func decode(_ block: ByteBuffer, keepAll: Bool) throws(DecodingError) -> Head {
        try block.withUnsafeReadableBytes { (bytes: UnsafeRawBufferPointer) throws(DecodingError) in
            try decode(bytes, keepAll: keepAll)
        }
    }

    /// Decodes one complete header block.
    mutating func decode(_ bytes: UnsafeRawBufferPointer, keepAll: Bool) throws(DecodingError) -> Head {
        if replay.valid, replay.keepAll == keepAll, replay.block.count == bytes.count,
            replay.block.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 })
        {
            replayInsertions()
            return replay.head
        }
        replay.valid = false
        recording = bytes.count > 0 && bytes.count <= Self.replayLimit
        usedTable = false
        if recording {
            replay.inserted.removeAll(keepingCapacity: true)
            replay.insertions.removeAll(keepingCapacity: true)
        }
        var head = Head()
        do {
            var i = 0
            while i < bytes.count {
                let first = bytes[i]
                if first & 0x80 != 0 {
                    let index = try Self.integer(bytes, &i, prefix: 7)
                    try field(at: index, into: &head, keepAll: keepAll)
                } else if first & 0x40 != 0 {
                    try literal(bytes, &i, prefix: 6, into: &head, keepAll: keepAll, indexing: true)
                } else if first & 0x20 != 0 {
                    let newSize = try Self.integer(bytes, &i, prefix: 5)
                    guard newSize <= announcedMaxSize else {
                        throw DecodingError(
                            description: "HPACK: table size update to \(newSize) above our \(announcedMaxSize)"
                        )
                    }
                    usedTable = true
                    let table = writableTable()
                    table.maxSize = newSize
                    table.evict(toFit: 0)
                } else {
                    try literal(bytes, &i, prefix: 4, into: &head, keepAll: keepAll, indexing: false)
                }
            }
        }
        if recording && !usedTable {
            replay.block.removeAll(keepingCapacity: true)
            replay.block.append(contentsOf: bytes)
            replay.head = head
            replay.keepAll = keepAll
            replay.valid = true
        }
        return head
    }

    /// Makes the insertions of the block ``replay`` holds again.
    private mutating func replayInsertions() {
        guard !replay.insertions.isEmpty else { return }
        let table = writableTable()
        replay.inserted.withUnsafeBytes { all in
            var at = 0
            for (n, v) in replay.insertions {
                table.insert(
                    name: UnsafeRawBufferPointer(rebasing: all[at..<(at + n)]),
                    value: UnsafeRawBufferPointer(rebasing: all[(at + n)..<(at + n + v)])
                )
                at += n + v
            }
        }
    }

    // MARK: - Fields

    private mutating func field(at index: Int, into head: inout Head, keepAll: Bool) throws(DecodingError) {
        if index >= 8 && index <= 14 {
            // `:status 200` … `:status 500`: most responses' whole first byte.
            head.status = Self.staticStatus[index - 8]
        } else if index >= 1 && index <= HPACKStaticTable.count {
            let entry = statics[index - 1]
            entry.name.withUnsafeBytes { name in
                entry.value.withUnsafeBytes { value in
                    Self.take(name, value, staticIndex: index, into: &head, keepAll: keepAll)
                }
            }
        } else {
            usedTable = true
            let found: Void? = table.withEntry(index - HPACKStaticTable.count) { name, value in
                Self.take(name, value, staticIndex: 0, into: &head, keepAll: keepAll)
            }
            guard found != nil else { throw DecodingError(description: "HPACK: index \(index) is not in the table") }
        }
    }

    private static let staticStatus = [200, 204, 206, 304, 400, 404, 500]

    private mutating func literal(
        _ bytes: UnsafeRawBufferPointer,
        _ i: inout Int,
        prefix: Int,
        into head: inout Head,
        keepAll: Bool,
        indexing: Bool
    ) throws(DecodingError) {
        let nameIndex = try Self.integer(bytes, &i, prefix: prefix)
        // The scratch buffers are taken out of `self` while written (no copy, no overlap).
        var name = self.name
        var value = self.value
        self.name = []
        self.value = []
        defer {
            self.name = name
            self.value = value
        }
        name.removeAll(keepingCapacity: true)
        var staticIndex = 0
        if nameIndex == 0 {
            try string(bytes, &i, into: &name, memo: nil)
        } else if nameIndex <= HPACKStaticTable.count {
            name.append(contentsOf: statics[nameIndex - 1].name)
            staticIndex = nameIndex
        } else {
            usedTable = true
            let found: Void? = table.withEntry(nameIndex - HPACKStaticTable.count) { n, _ in
                name.append(contentsOf: n)
            }
            guard found != nil else {
                throw DecodingError(description: "HPACK: name index \(nameIndex) is not in the table")
            }
        }
        value.removeAll(keepingCapacity: true)
        try string(bytes, &i, into: &value, memo: staticIndex > 0 ? staticIndex : nil)
        name.withUnsafeBytes { name in
            value.withUnsafeBytes { value in
                Self.take(name, value, staticIndex: staticIndex, into: &head, keepAll: keepAll)
                if indexing {
                    writableTable().insert(name: name, value: value)
                    if recording {
                        replay.inserted.append(contentsOf: name)
                        replay.inserted.append(contentsOf: value)
                        replay.insertions.append((name.count, value.count))
                    }
                }
            }
        }
    }

    /// Keeps what Volley reads of a field. `staticIndex`: the name's index in the static
    /// table (0: the name came otherwise and is compared byte by byte).
    private static func take(
        _ name: UnsafeRawBufferPointer,
        _ value: UnsafeRawBufferPointer,
        staticIndex: Int,
        into head: inout Head,
        keepAll: Bool
    ) {
        switch staticIndex == 0 ? Names.kind(of: name) : Names.kind(ofStatic: staticIndex) {
        case .status:
            if value.count == 3, let d0 = digit(value[0]), let d1 = digit(value[1]), let d2 = digit(value[2]) {
                head.status = d0 * 100 + d1 * 10 + d2
            }
            return
        case .pseudo:
            return
        case .contentLength:
            var n = 0
            var valid = !value.isEmpty && value.count <= 18
            for b in value {
                guard let d = digit(b) else {
                    valid = false
                    break
                }
                n = n * 10 + d
            }
            if valid { head.contentLength = n }
        case .contentEncoding:
            head.contentEncoding = String(decoding: value, as: UTF8.self)
        case .location:
            head.location = String(decoding: value, as: UTF8.self)
        case .other:
            break
        }
        if keepAll {
            head.fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
    }
    @inline(__always)
    private static func digit(_ b: UInt8) -> Int? {
        b >= 0x30 && b <= 0x39 ? Int(b - 0x30) : nil
    }

    /// The fields Volley tells apart.
    private enum Names {
        case status, pseudo, contentLength, contentEncoding, location, other

        /// By the static table's index of the name (RFC 7541 Appendix A).
        @inline(__always)
        static func kind(ofStatic index: Int) -> Names {
            switch index {
            case 8...14: .status
            case 1...7: .pseudo
            case 28: .contentLength
            case 26: .contentEncoding
            case 46: .location
            default: .other
            }
        }

        /// By the name's bytes (a literal name, or one from the dynamic table).
        static func kind(of name: UnsafeRawBufferPointer) -> Names {
            guard let first = name.first else { return .other }
            if first == UInt8(ascii: ":") { return name.elementsEqual(":status".utf8) ? .status : .pseudo }
            switch name.count {
            case 14 where name.elementsEqual("content-length".utf8): return .contentLength
            case 16 where name.elementsEqual("content-encoding".utf8): return .contentEncoding
            case 8 where name.elementsEqual("location".utf8): return .location
            default: return .other
            }
        }
    }

    // MARK: - Primitives (§5)

    static func integer(_ bytes: UnsafeRawBufferPointer, _ i: inout Int, prefix: Int) throws(DecodingError) -> Int {
        guard i < bytes.count else { throw DecodingError(description: "HPACK: truncated integer") }
        let mask = (1 << prefix) - 1
        var value = Int(bytes[i]) & mask
        i += 1
        guard value == mask else { return value }
        var shift = 0
        while true {
            guard i < bytes.count else { throw DecodingError(description: "HPACK: truncated integer") }
            let b = Int(bytes[i])
            i += 1
            value += (b & 0x7F) << shift
            shift += 7
            guard shift <= 28 else { throw DecodingError(description: "HPACK: integer too large") }
            if b & 0x80 == 0 { return value }
        }
    }

    /// Appends a string literal's bytes to `out`: as sent, or Huffman-decoded (from a memo
    /// when the same coded bytes came recently). `memo`: the static-table index of the
    /// value's name (its own memo); nil: a memo shared by hash.
    mutating func string(
        _ bytes: UnsafeRawBufferPointer,
        _ i: inout Int,
        into out: inout [UInt8],
        memo: Int?
    ) throws(DecodingError) {
        guard i < bytes.count else { throw DecodingError(description: "HPACK: truncated string") }
        let huffman = bytes[i] & 0x80 != 0
        let length = try Self.integer(bytes, &i, prefix: 7)
        guard length <= bytes.count - i else { throw DecodingError(description: "HPACK: string past the block's end") }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[i..<(i + length)])
        i += length
        guard huffman else { return out.append(contentsOf: slice) }
        guard length > 0, length <= Self.memoLimit else { return try Self.huffman(slice, into: &out) }
        let m =
            memo
            ?? HPACKStaticTable.count + 1 + (length &* 31 &+ Int(slice[0]) &* 7 &+ Int(slice[length - 1]))
            % Self.hashedMemos
        if memos[m].encoded.withUnsafeBytes({ $0.elementsEqual(slice) }) {
            return out.append(contentsOf: memos[m].decoded)
        }
        let start = out.count
        try Self.huffman(slice, into: &out)
        memos[m].encoded.removeAll(keepingCapacity: true)
        memos[m].encoded.append(contentsOf: slice)
        memos[m].decoded.removeAll(keepingCapacity: true)
        memos[m].decoded.append(contentsOf: out[start...])
    }

    private static func huffman(_ slice: UnsafeRawBufferPointer, into out: inout [UInt8]) throws(DecodingError) {
        do {
            try HPACKHuffman.decode(slice, into: &out)
        } catch {
            throw DecodingError(description: error.description)
        }
    }
}
