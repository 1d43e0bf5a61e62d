import NIOCore
import VolleyCore

/// A request's HPACK header block (RFC 7541), encoded once: sending the request is a copy of
/// the block behind a 9-byte frame header, plus 16 hex digits of the request id written in
/// place, as the HTTP/1.1 path does with its template.
///
/// The block never touches the dynamic table (literals *without indexing*, §6.2.2), so it
/// stays valid for every request on every connection whatever the server's table does, and
/// names come from the static table where it has them. No Huffman coding: it would save a
/// few bytes per request and make the id's position depend on its digits.
public struct H2RequestTemplate: Sendable {
    /// The header block as sent (with the id's digits zero).
    public let block: [UInt8]
    /// Where the 16 varying hex digits of the request id sit in `block`; nil without an id.
    public let sequenceOffset: Int?
    /// The request body, sent as DATA frames; nil: the HEADERS frame ends the stream.
    public let body: ByteBuffer?
    /// A HEAD request: its response has a head and no body, whatever `content-length` says.
    public let isHEAD: Bool
    /// Safe to send twice (``RetryPolicy/isReplayable(method:headerNames:)``).
    public let isReplayable: Bool

    /// Bytes the request puts on the wire: its HEADERS frame, and DATA frames of at most
    /// 16 KiB (the default SETTINGS_MAX_FRAME_SIZE) for the body.
    public var wireBytes: Int {
        let bodyBytes = body?.readableBytes ?? 0
        let frames = (bodyBytes + H2.defaultMaxFrameSize - 1) / H2.defaultMaxFrameSize
        return 9 + block.count + bodyBytes + 9 * frames
    }

    /// Headers that mean nothing in HTTP/2 and make a request malformed (RFC 9113 §8.2.2).
    static let connectionSpecific: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host",
    ]

    /// The request of `volley run`: method, URL, the run's default headers, the user's headers,
    /// and the `X-Request-ID`-style header with the run's prefix, as ``RequestEncoder`` does.
    public init(spec: RequestSpec, runPrefix: UInt32, defaults: DefaultHeaders = .run) {
        let names = Set(spec.headers.map { $0.name.lowercased() })
        var headers = defaults.missing(from: names.contains).map { (name: $0.name, value: $0.value) }
        headers += spec.headers.map { (name: $0.name, value: $0.value) }
        let method = spec.method.uppercased()
        if !names.contains("content-length")
            && (spec.body != nil || method == "POST" || method == "PUT" || method == "PATCH")
        {
            headers.append((name: "content-length", value: String(spec.body?.count ?? 0)))
        }
        let host = spec.headers.last { $0.name.lowercased() == "host" }?.value ?? spec.url.hostHeader
        self.init(
            method: spec.method,
            scheme: spec.url.scheme,
            authority: host,
            path: spec.url.pathAndQuery,
            headers: headers,
            requestID: spec.requestIDHeader.map {
                (name: $0, prefix: RequestEncoder.hex(UInt64(runPrefix), digits: 8))
            },
            body: spec.body
        )
    }

    /// Any request: pseudo-headers first (§8.3.1), then `headers` with names lower-cased and
    /// connection-specific ones left out, then the request id (`prefix-` and 16 hex digits).
    public init(
        method: String,
        scheme: String,
        authority: String,
        path: String,
        headers: [(name: String, value: String)],
        requestID: (name: String, prefix: [UInt8])? = nil,
        body: [UInt8]? = nil
    ) {
        var out: [UInt8] = []
        let m = method.uppercased()
        switch m {
        case "GET": out.append(0x82)
        case "POST": out.append(0x83)
        default: Self.literal(nameIndex: 2, value: Array(m.utf8), into: &out)
        }
        switch scheme.lowercased() {
        case "http": out.append(0x86)
        case "https": out.append(0x87)
        default: Self.literal(nameIndex: 6, value: Array(scheme.lowercased().utf8), into: &out)
        }
        Self.literal(nameIndex: 1, value: Array(authority.utf8), into: &out)
        if path == "/" { out.append(0x84) } else { Self.literal(nameIndex: 4, value: Array(path.utf8), into: &out) }
        var names: [String] = []
        for h in headers {
            let name = h.name.lowercased()
            if Self.connectionSpecific.contains(name) || (name == "te" && h.value.lowercased() != "trailers") {
                continue
            }
            names.append(name)
            Self.literal(name: name, value: Array(h.value.utf8), into: &out)
        }
        if let requestID {
            var value = requestID.prefix
            value.append(UInt8(ascii: "-"))
            value += [UInt8](repeating: UInt8(ascii: "0"), count: 16)
            Self.literal(name: requestID.name.lowercased(), value: value, into: &out)
            sequenceOffset = out.count - 16
        } else {
            sequenceOffset = nil
        }
        block = out
        self.body = body.flatMap { $0.isEmpty ? nil : ByteBuffer(bytes: $0) }
        isHEAD = m == "HEAD"
        isReplayable = RetryPolicy.isReplayable(method: m, headerNames: names)
    }

    /// Writes HEADERS (and CONTINUATION when the block is longer than `maxFrameSize`) for
    /// `stream` with the request id `requestID` (``RequestID/value(loop:sequence:)``).
    /// `tableSizeUpdate`: the block starts with a dynamic table size update to 0 (the peer
    /// lowered SETTINGS_HEADER_TABLE_SIZE; we never use the table).
    public func write(
        stream: UInt32,
        requestID: UInt64,
        tableSizeUpdate: Bool = false,
        maxFrameSize: Int = H2.defaultMaxFrameSize,
        into out: inout ByteBuffer
    ) {
        let prefix: [UInt8] = tableSizeUpdate ? [0x20] : []
        let endStream = body == nil
        func headers(_ block: UnsafeRawBufferPointer) -> Int? {
            H2FrameEncoder.writeHeaders(
                stream: stream,
                block: block,
                prefix: prefix,
                endStream: endStream,
                maxFrameSize: maxFrameSize,
                into: &out
            )
        }
        if block.count + prefix.count <= maxFrameSize {
            // One frame: the id's digits are patched where the block landed in `out`.
            let at = block.withUnsafeBytes(headers)
            if let sequenceOffset, let at { Self.stamp(&out, at: at + sequenceOffset, requestID: requestID) }
            return
        }
        // Cut into CONTINUATION frames: the digits are patched into a copy first.
        var stamped = ByteBuffer(bytes: block)
        if let sequenceOffset { Self.stamp(&stamped, at: sequenceOffset, requestID: requestID) }
        _ = stamped.withUnsafeReadableBytes(headers)
    }

    /// The block as written for `requestID`, for tests and for a server log's comparison.
    public func block(requestID: UInt64) -> [UInt8] {
        var out = ByteBuffer()
        write(stream: 1, requestID: requestID, into: &out)
        out.moveReaderIndex(forwardBy: H2.frameHeaderLength)
        return Array(out.readableBytesView)
    }

    /// Writes `requestID` as 16 lowercase hex digits at absolute index `index` of `out`.
    @inline(__always)
    static func stamp(_ out: inout ByteBuffer, at index: Int, requestID: UInt64) {
        let offset = index - out.readerIndex
        out.withUnsafeMutableReadableBytes { RequestID.writeHex(requestID, into: $0, at: offset) }
    }

    // MARK: - HPACK primitives (RFC 7541 §5, §6.2.2)

    /// An integer with an `n`-bit prefix; `first` holds the pattern bits above the prefix.
    static func integer(_ value: Int, prefixBits n: Int, first: UInt8, into out: inout [UInt8]) {
        let limit = (1 << n) - 1
        if value < limit {
            out.append(first | UInt8(value))
            return
        }
        out.append(first | UInt8(limit))
        var rest = value - limit
        while rest >= 128 {
            out.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    /// A string literal without Huffman coding (H = 0).
    static func string(_ bytes: [UInt8], into out: inout [UInt8]) {
        integer(bytes.count, prefixBits: 7, first: 0, into: &out)
        out += bytes
    }

    /// Literal header field without indexing, name from the static table (`0000xxxx`).
    static func literal(nameIndex: Int, value: [UInt8], into out: inout [UInt8]) {
        integer(nameIndex, prefixBits: 4, first: 0, into: &out)
        string(value, into: &out)
    }

    /// Literal header field without indexing: the static table's name when it has it,
    /// otherwise a new name.
    static func literal(name: String, value: [UInt8], into out: inout [UInt8]) {
        if let index = H2StaticTable.nameIndex[name] {
            literal(nameIndex: index, value: value, into: &out)
        } else {
            out.append(0)
            string(Array(name.utf8), into: &out)
            string(value, into: &out)
        }
    }
}

/// The names of HPACK's static table (RFC 7541 Appendix A) with their first index.
enum H2StaticTable {
    static let names = [
        ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status",
        ":status", ":status", ":status", ":status", ":status", "accept-charset", "accept-encoding",
        "accept-language", "accept-ranges", "accept", "access-control-allow-origin", "age", "allow",
        "authorization", "cache-control", "content-disposition", "content-encoding", "content-language",
        "content-length", "content-location", "content-range", "content-type", "cookie", "date", "etag",
        "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range",
        "if-unmodified-since", "last-modified", "link", "location", "max-forwards", "proxy-authenticate",
        "proxy-authorization", "range", "referer", "refresh", "retry-after", "server", "set-cookie",
        "strict-transport-security", "transfer-encoding", "user-agent", "vary", "via", "www-authenticate",
    ]
    static let nameIndex: [String: Int] = {
        var map: [String: Int] = [:]
        for (i, name) in names.enumerated() where map[name] == nil { map[name] = i + 1 }
        return map
    }()
}
