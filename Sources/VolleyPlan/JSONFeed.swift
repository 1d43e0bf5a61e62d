import Foundation
import VolleyCore

/// A feed from a JSON array of objects. Columns are the keys in order of first appearance;
/// strings are taken as they are, other values as their JSON text, and a missing key or
/// `null` as an empty string.
///
/// A small hand-written parser rather than JSONSerialization: it keeps key order, numbers as
/// written (`007`-free, `1.50` stays `1.50`), and says where a malformed file goes wrong.
enum JSONFeed {
    static func parse(_ text: String) throws -> FeedTable {
        var parser = Parser(bytes: Array(text.utf8))
        parser.skipSpace()
        guard parser.peek == UInt8(ascii: "[") else {
            throw FeedProblem(
                message: "must hold a JSON array of objects",
                hint: "e.g. [{\"id\": 1}, {\"id\": 2}]"
            )
        }
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw parser.failure("unexpected text after the array") }
        guard case .array(let items) = value else { return FeedTable(columns: [], rows: []) }
        var columns: [String] = []
        var known: Set<String> = []
        var objects: [[(String, String)]] = []
        for (n, item) in items.enumerated() {
            guard case .object(let fields) = item else {
                throw FeedProblem(
                    message: "must hold a JSON array of objects, item \(n + 1) is not an object",
                    hint: "write each row as an object, e.g. {\"id\": 1}"
                )
            }
            for (key, _) in fields where known.insert(key).inserted { columns.append(key) }
            objects.append(fields.map { ($0.0, $0.1.text) })
        }
        let rows = objects.map { fields in
            let values = Dictionary(fields, uniquingKeysWith: { first, _ in first })
            return columns.map { values[$0] ?? "" }
        }
        return FeedTable(columns: columns, rows: rows)
    }

    indirect enum Value {
        case scalar(String)
        case string(String)
        case array([Value])
        case object([(String, Value)])

        /// The cell text: strings unquoted, `null` empty, anything else as JSON.
        var text: String {
            switch self {
            case .string(let s): return s
            case .scalar(let s): return s == "null" ? "" : s
            default: return json
            }
        }

        var json: String {
            switch self {
            case .scalar(let s): return s
            case .string(let s):
                return "\""
                    + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            case .array(let items): return "[" + items.map(\.json).joined(separator: ",") + "]"
            case .object(let fields):
                return "{" + fields.map { Value.string($0.0).json + ":" + $0.1.json }.joined(separator: ",") + "}"
            }
        }
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { index += 1 }
        }

        func failure(_ what: String) -> FeedProblem {
            var line = 1
            var column = 1
            for b in bytes[..<min(index, bytes.count)] {
                if b == 0x0A {
                    line += 1
                    column = 1
                } else if b & 0xC0 != 0x80 {
                    column += 1
                }
            }
            return FeedProblem(message: "is not valid JSON: \(what) at line \(line), column \(column)", hint: nil)
        }

        mutating func expect(_ c: Character) throws {
            skipSpace()
            guard let b = peek, b == c.asciiValue else { throw failure("expected \"\(c)\"") }
            index += 1
        }

        mutating func value(depth: Int) throws -> Value {
            guard depth < 64 else { throw failure("values nested too deeply") }
            skipSpace()
            guard let b = peek else { throw failure("unexpected end of file") }
            switch b {
            case UInt8(ascii: "["):
                index += 1
                var items: [Value] = []
                skipSpace()
                if peek == UInt8(ascii: "]") {
                    index += 1
                    return .array(items)
                }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    if peek == UInt8(ascii: "]") {
                        index += 1
                        return .array(items)
                    }
                    try expect(",")
                }
            case UInt8(ascii: "{"):
                index += 1
                var fields: [(String, Value)] = []
                skipSpace()
                if peek == UInt8(ascii: "}") {
                    index += 1
                    return .object(fields)
                }
                while true {
                    skipSpace()
                    guard peek == UInt8(ascii: "\"") else { throw failure("expected a key in double quotes") }
                    let key = try string()
                    try expect(":")
                    fields.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    if peek == UInt8(ascii: "}") {
                        index += 1
                        return .object(fields)
                    }
                    try expect(",")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            default:
                let start = index
                while let c = peek, !" \t\r\n,]}".utf8.contains(c) { index += 1 }
                let word = String(decoding: bytes[start..<index], as: UTF8.self)
                guard word == "true" || word == "false" || word == "null" || JSONNumber.isNumber(word) else {
                    index = start
                    throw failure("unexpected \"\(word.prefix(20))\"")
                }
                return .scalar(word)
            }
        }

        mutating func string() throws -> String {
            index += 1
            var out: [UInt8] = []
            while let b = peek {
                index += 1
                switch b {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let e = peek else { break }
                    index += 1
                    switch e {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"): out.append(contentsOf: try unicodeEscape())
                    default: out.append(e)
                    }
                default:
                    guard b >= 0x20 else { throw failure("control character in a string") }
                    out.append(b)
                }
            }
            throw failure("unclosed string")
        }

        /// `\uXXXX`, with surrogate pairs; a lone surrogate becomes U+FFFD.
        private mutating func unicodeEscape() throws -> [UInt8] {
            func hex() throws -> UInt32 {
                guard index + 4 <= bytes.count,
                    let v = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16)
                else { throw failure("invalid \\u escape") }
                index += 4
                return v
            }
            var code = try hex()
            if (0xD800..<0xDC00).contains(code), index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"),
                bytes[index + 1] == UInt8(ascii: "u")
            {
                index += 2
                let low = try hex()
                code = (0xDC00..<0xE000).contains(low) ? 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00) : 0xFFFD
            }
            let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
            return Array(String(Character(scalar)).utf8)
        }
    }
}
