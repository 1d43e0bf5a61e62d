import NIOCore

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

    private struct Entry {
        var name: [UInt8]
        var value: [UInt8]
        var size: Int { name.count + value.count + 32 }
    }

    /// Newest last: dynamic index 1 is `entries[entries.count - 1]`.
    private var entries: [Entry] = []
    private var size = 0
    /// The table's size limit now (the server may lower it, up to what we announced).
    private(set) var maxSize: Int
    /// SETTINGS_HEADER_TABLE_SIZE as we announced it.
    let announcedMaxSize: Int
    private var name: [UInt8] = []
    private var value: [UInt8] = []

    init(maxTableSize: Int = 4096) {
        maxSize = maxTableSize
        announcedMaxSize = maxTableSize
        name.reserveCapacity(64)
        value.reserveCapacity(256)
    }

    /// Decodes one complete header block.
    mutating func decode(_ block: ByteBuffer, keepAll: Bool) throws(DecodingError) -> Head {
        var head = Head()
        try block.withUnsafeReadableBytes { (bytes: UnsafeRawBufferPointer) throws(DecodingError) in
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
                    maxSize = newSize
                    evict(toFit: 0)
                } else {
                    try literal(bytes, &i, prefix: 4, into: &head, keepAll: keepAll, indexing: false)
                }
            }
        }
        return head
    }

    // MARK: - Fields

    private mutating func field(at index: Int, into head: inout Head, keepAll: Bool) throws(DecodingError) {
        if index >= 1 && index <= HPACKStaticTable.count {
            let entry = HPACKStaticTable.entries[index - 1]
            Self.take(entry.name, entry.value, into: &head, keepAll: keepAll)
        } else {
            let d = index - HPACKStaticTable.count
            guard d >= 1 && d <= entries.count else {
                throw DecodingError(description: "HPACK: index \(index) is not in the table")
            }
            let entry = entries[entries.count - d]
            Self.take(entry.name, entry.value, into: &head, keepAll: keepAll)
        }
    }

    private mutating func literal(
        _ bytes: UnsafeRawBufferPointer,
        _ i: inout Int,
        prefix: Int,
        into head: inout Head,
        keepAll: Bool,
        indexing: Bool
    ) throws(DecodingError) {
        let nameIndex = try Self.integer(bytes, &i, prefix: prefix)
        name.removeAll(keepingCapacity: true)
        if nameIndex == 0 {
            try Self.string(bytes, &i, into: &name)
        } else if nameIndex <= HPACKStaticTable.count {
            name.append(contentsOf: HPACKStaticTable.entries[nameIndex - 1].name)
        } else {
            let d = nameIndex - HPACKStaticTable.count
            guard d <= entries.count else {
                throw DecodingError(description: "HPACK: name index \(nameIndex) is not in the table")
            }
            name.append(contentsOf: entries[entries.count - d].name)
        }
        value.removeAll(keepingCapacity: true)
        try Self.string(bytes, &i, into: &value)
        Self.take(name, value, into: &head, keepAll: keepAll)
        if indexing { insert(Entry(name: name, value: value)) }
    }

    private mutating func insert(_ entry: Entry) {
        guard entry.size <= maxSize else {
            // An entry larger than the table empties it and is not added (§4.4).
            entries.removeAll()
            size = 0
            return
        }
        evict(toFit: entry.size)
        entries.append(entry)
        size += entry.size
    }

    private mutating func evict(toFit incoming: Int) {
        var drop = 0
        while size + incoming > maxSize && drop < entries.count {
            size -= entries[drop].size
            drop += 1
        }
        if drop > 0 { entries.removeFirst(drop) }
    }

    /// Keeps what Volley reads of a field.
    private static func take(_ name: [UInt8], _ value: [UInt8], into head: inout Head, keepAll: Bool) {
        switch name.count {
        case 7 where name == Names.status:
            if value.count == 3, let d0 = digit(value[0]), let d1 = digit(value[1]), let d2 = digit(value[2]) {
                head.status = d0 * 100 + d1 * 10 + d2
            }
            return
        case 14 where name == Names.contentLength:
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
        case 16 where name == Names.contentEncoding:
            head.contentEncoding = String(decoding: value, as: UTF8.self)
        case 8 where name == Names.location:
            head.location = String(decoding: value, as: UTF8.self)
        default:
            break
        }
        if keepAll && name.first != UInt8(ascii: ":") {
            head.fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
    }

    @inline(__always)
    private static func digit(_ b: UInt8) -> Int? {
        b >= 0x30 && b <= 0x39 ? Int(b - 0x30) : nil
    }

    private enum Names {
        static let status = Array(":status".utf8)
        static let contentLength = Array("content-length".utf8)
        static let contentEncoding = Array("content-encoding".utf8)
        static let location = Array("location".utf8)
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

    static func string(_ bytes: UnsafeRawBufferPointer, _ i: inout Int, into out: inout [UInt8]) throws(DecodingError) {
        guard i < bytes.count else { throw DecodingError(description: "HPACK: truncated string") }
        let huffman = bytes[i] & 0x80 != 0
        let length = try integer(bytes, &i, prefix: 7)
        guard length <= bytes.count - i else { throw DecodingError(description: "HPACK: string past the block's end") }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[i..<(i + length)])
        i += length
        if huffman {
            do {
                try HPACKHuffman.decode(slice, into: &out)
            } catch {
                throw DecodingError(description: error.description)
            }
        } else {
            out.append(contentsOf: slice)
        }
    }
}

/// HPACK's static table (RFC 7541 Appendix A).
enum HPACKStaticTable {
    static let count = 61
    static let entries: [(name: [UInt8], value: [UInt8])] = [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""),
        ("cache-control", ""), ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""),
        ("content-length", ""), ("content-location", ""), ("content-range", ""), ("content-type", ""),
        ("cookie", ""), ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
        ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
        ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""),
        ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""),
        ("retry-after", ""), ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""),
        ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }
}
