/// One reply in Redis's wire protocol (RESP2): what the Redis probe reads back.
///
/// Bulk strings stay bytes (a Redis value need not be UTF-8); `text` decodes them when the
/// command is known to answer text, as INFO does.
public enum RESPValue: Equatable, Sendable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// `nil` is RESP's null bulk string (`$-1`), a missing key's value.
    case bulkString([UInt8]?)
    /// `nil` is RESP's null array (`*-1`).
    case array([RESPValue]?)

    /// Simple and bulk strings as text; anything else is not text.
    public var text: String? {
        switch self {
        case .simpleString(let s): return s
        case .bulkString(let bytes?): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }
}

/// A reply that cannot be RESP: the peer is not Redis, or the stream is out of step.
public struct RESPProtocolError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Commands out, replies in: the few hundred lines of RESP2 the probe needs, written here so
/// that VolleyProbes depends on SwiftNIO alone rather than on a Redis client library.
public enum RESP {
    /// A command as Redis expects it from clients: an array of bulk strings, which carries any
    /// byte (spaces, CRLF) in an argument without quoting.
    public static func encode(_ arguments: [String]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + arguments.reduce(0) { $0 + $1.utf8.count + 16 })
        out.append(UInt8(ascii: "*"))
        out.append(contentsOf: String(arguments.count).utf8)
        out.append(contentsOf: [13, 10])
        for argument in arguments {
            let bytes = Array(argument.utf8)
            out.append(UInt8(ascii: "$"))
            out.append(contentsOf: String(bytes.count).utf8)
            out.append(contentsOf: [13, 10])
            out.append(contentsOf: bytes)
            out.append(contentsOf: [13, 10])
        }
        return out
    }
}

/// Reads RESP2 replies from bytes as they arrive: a reply split across reads is held until
/// its last byte comes, and several replies in one read come out one by one.
///
/// Pure (no I/O), so that every way a reply can be cut is tested without a server.
public struct RESPParser: Sendable {
    /// Larger bulk strings are refused rather than buffered: INFO is a few kilobytes, and a
    /// peer announcing gigabytes is not a Redis answering the probe's commands.
    public static let maxBulkLength = 64 << 20
    /// Nesting deeper than this is refused, so a hostile peer cannot exhaust the stack.
    public static let maxDepth = 32

    private static let typeBytes: Set<UInt8> = Set("+-:$*".utf8)

    private var buffer: [UInt8] = []
    private var start = 0

    /// An empty parser: one per connection, since replies are matched to commands in order.
    public init() {}

    /// Bytes received and not yet returned as replies.
    public var pendingByteCount: Int { buffer.count - start }

    /// Bytes as they came off the socket, cut anywhere; consumed bytes are dropped in bulk,
    /// not per reply, so a read of many small replies stays linear.
    public mutating func append<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 4096 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete reply, or `nil` until more bytes arrive.
    public mutating func next() throws(RESPProtocolError) -> RESPValue? {
        guard let (value, end) = try Self.parse(buffer, at: start, depth: 0) else { return nil }
        start = end
        return value
    }

    private static func parse(_ b: [UInt8], at i: Int, depth: Int) throws(RESPProtocolError) -> (RESPValue, Int)? {
        guard i < b.count else { return nil }
        guard Self.typeBytes.contains(b[i]) else {
            throw RESPProtocolError("unexpected first byte \(describe(b[i])) (\(preview(b, from: i)))")
        }
        guard let (line, afterLine) = try readLine(b, from: i + 1) else { return nil }
        switch b[i] {
        case UInt8(ascii: "+"):
            return (.simpleString(String(decoding: line, as: UTF8.self)), afterLine)
        case UInt8(ascii: "-"):
            return (.error(String(decoding: line, as: UTF8.self)), afterLine)
        case UInt8(ascii: ":"):
            return (.integer(try integer(line)), afterLine)
        case UInt8(ascii: "$"):
            let length = try integer(line)
            if length == -1 { return (.bulkString(nil), afterLine) }
            guard length >= 0, length <= maxBulkLength else {
                throw RESPProtocolError("bulk string length \(length) out of range")
            }
            let end = afterLine + Int(length)
            guard end + 2 <= b.count else { return nil }
            guard b[end] == 13, b[end + 1] == 10 else {
                throw RESPProtocolError("bulk string of \(length) bytes not followed by CRLF")
            }
            return (.bulkString(Array(b[afterLine..<end])), end + 2)
        case UInt8(ascii: "*"):
            let count = try integer(line)
            if count == -1 { return (.array(nil), afterLine) }
            guard count >= 0, count <= maxBulkLength else {
                throw RESPProtocolError("array length \(count) out of range")
            }
            guard depth < maxDepth else { throw RESPProtocolError("arrays nested deeper than \(maxDepth)") }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(Int(count), 1024))
            var next = afterLine
            for _ in 0..<count {
                guard let (element, end) = try parse(b, at: next, depth: depth + 1) else { return nil }
                elements.append(element)
                next = end
            }
            return (.array(elements), next)
        default:
            preconditionFailure("typeBytes and the cases above disagree")
        }
    }

    /// The bytes up to the next CRLF, or `nil` when it has not arrived yet. Lines are short in
    /// RESP (a type byte, a number or a status); a long one means the peer speaks another
    /// protocol.
    private static func readLine(_ b: [UInt8], from i: Int) throws(RESPProtocolError) -> (ArraySlice<UInt8>, Int)? {
        var j = i
        while j < b.count {
            if b[j] == 13 {
                guard j + 1 < b.count else { return nil }
                guard b[j + 1] == 10 else { throw RESPProtocolError("CR not followed by LF") }
                return (b[i..<j], j + 2)
            }
            j += 1
            if j - i > 64 << 10 { throw RESPProtocolError("line longer than 64 KiB") }
        }
        return nil
    }

    private static func integer(_ line: ArraySlice<UInt8>) throws(RESPProtocolError) -> Int64 {
        guard let value = Int64(String(decoding: line, as: UTF8.self)) else {
            throw RESPProtocolError("not an integer: \(String(decoding: line.prefix(40), as: UTF8.self))")
        }
        return value
    }

    private static func describe(_ byte: UInt8) -> String {
        (32..<127).contains(byte) ? "'\(Character(UnicodeScalar(byte)))'" : "0x\(String(byte, radix: 16))"
    }

    /// The start of what the peer sent, printable, so "not Redis" errors show what it was.
    static func preview(_ b: [UInt8], from i: Int) -> String {
        let slice = b[i..<min(b.count, i + 40)]
        let printable = slice.map { (32..<127).contains($0) ? Character(UnicodeScalar($0)) : "." }
        return "\"" + String(printable) + "\""
    }
}
