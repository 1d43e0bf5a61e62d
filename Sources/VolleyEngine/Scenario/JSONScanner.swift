import VolleyCore

/// Finds the value at a JSON path by scanning the body's bytes, without building a tree.
///
/// Checks and captures read one or two values from a response; parsing the whole body
/// with Foundation's `JSONSerialization` (an `NSDictionary` of `NSNumber`s) cost more than
/// the rest of the step. This walks the bytes once, skipping what the path does not need.
/// Objects and arrays as values are returned as their raw text.
enum JSONScanner {
    /// What the path points at.
    enum Value: Equatable {
        case string(String)
        /// The number as written (normalised by `text`).
        case number(String)
        case bool(Bool)
        case null
        /// An object or array, as its JSON text.
        case composite(String)

        /// The capture text: strings as they are, numbers without a needless ".0", JSON null
        /// as nil (never a usable value), composites as their JSON text.
        var text: String? {
            switch self {
            case .string(let s): return s
            case .number(let n):
                // Integers (ids, counts) as written: no floating-point round trip.
                if let i = Int64(n), i.magnitude < 1_000_000_000_000_000, String(i) == n { return n }
                guard let d = Double(n) else { return n }
                if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
                return String(d)
            case .bool(let b): return b ? "true" : "false"
            case .null: return nil
            case .composite(let s): return s
            }
        }
    }

    static func find(_ path: JSONPath, in body: [UInt8]) -> Value? {
        body.withUnsafeBufferPointer { buffer -> Value? in
            var i = skipSpace(buffer, 0)
            for segment in path.segments {
                guard let start = locate(segment, buffer, i) else { return nil }
                i = start
            }
            return value(buffer, i)
        }
    }

    // MARK: - Navigation

    private static func locate(_ segment: JSONPath.Segment, _ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> Int? {
        var i = skipSpace(b, at)
        guard i < b.count else { return nil }
        switch segment {
        case .key(let key):
            guard b[i] == UInt8(ascii: "{") else { return nil }
            i = skipSpace(b, i + 1)
            while i < b.count, b[i] != UInt8(ascii: "}") {
                guard b[i] == UInt8(ascii: "\""), let (name, afterKey) = string(b, i) else { return nil }
                i = skipSpace(b, afterKey)
                guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
                i = skipSpace(b, i + 1)
                if name == key { return i }
                guard let end = skipValue(b, i) else { return nil }
                i = skipSpace(b, end)
                if i < b.count, b[i] == UInt8(ascii: ",") { i = skipSpace(b, i + 1) }
            }
            return nil
        case .index(let wanted):
            guard b[i] == UInt8(ascii: "[") else { return nil }
            var starts: [Int] = []
            i = skipSpace(b, i + 1)
            while i < b.count, b[i] != UInt8(ascii: "]") {
                if wanted >= 0 && starts.count == wanted { return i }
                starts.append(i)
                guard let end = skipValue(b, i) else { return nil }
                i = skipSpace(b, end)
                if i < b.count, b[i] == UInt8(ascii: ",") { i = skipSpace(b, i + 1) }
            }
            let index = wanted < 0 ? starts.count + wanted : wanted
            return index >= 0 && index < starts.count ? starts[index] : nil
        }
    }

    private static func value(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> Value? {
        let i = skipSpace(b, at)
        guard i < b.count else { return nil }
        switch b[i] {
        case UInt8(ascii: "\""):
            return string(b, i).map { .string($0.0) }
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard let end = skipValue(b, i) else { return nil }
            return .composite(String(decoding: UnsafeBufferPointer(rebasing: b[i..<end]), as: UTF8.self))
        case UInt8(ascii: "t"): return .bool(true)
        case UInt8(ascii: "f"): return .bool(false)
        case UInt8(ascii: "n"): return .null
        default:
            guard let end = skipValue(b, i), end > i else { return nil }
            return .number(String(decoding: UnsafeBufferPointer(rebasing: b[i..<end]), as: UTF8.self))
        }
    }

    // MARK: - Lexing

    private static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> Int {
        var i = at
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        return i
    }

    /// The end (exclusive) of the value starting at `at`, or nil if the JSON is broken.
    private static func skipValue(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> Int? {
        guard at < b.count else { return nil }
        switch b[at] {
        case UInt8(ascii: "\""):
            var i = at + 1
            while i < b.count {
                if b[i] == UInt8(ascii: "\\") {
                    i += 2
                } else if b[i] == UInt8(ascii: "\"") {
                    return i + 1
                } else {
                    i += 1
                }
            }
            return nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = at
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "\""):
                    guard let end = skipValue(b, i) else { return nil }
                    i = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return nil
        default:
            var i = at
            while i < b.count, b[i] != UInt8(ascii: ","), b[i] != UInt8(ascii: "}"), b[i] != UInt8(ascii: "]"),
                b[i] != 0x20, b[i] != 0x0A, b[i] != 0x0D, b[i] != 0x09
            {
                i += 1
            }
            return i > at ? i : nil
        }
    }

    /// Decodes the string starting at the quote at `at`; returns it and the index after it.
    private static func string(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> (String, Int)? {
        guard let end = skipValue(b, at) else { return nil }
        let raw = UnsafeBufferPointer(rebasing: b[(at + 1)..<(end - 1)])
        guard raw.contains(UInt8(ascii: "\\")) else {
            return (String(decoding: raw, as: UTF8.self), end)
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            let c = raw[i]
            guard c == UInt8(ascii: "\\"), i + 1 < raw.count else {
                out.append(c)
                i += 1
                continue
            }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard i + 4 <= raw.count,
                    var code = UInt32(
                        String(decoding: UnsafeBufferPointer(rebasing: raw[i..<(i + 4)]), as: UTF8.self),
                        radix: 16
                    )
                else { return nil }
                i += 4
                if (0xD800..<0xDC00).contains(code), i + 6 <= raw.count, raw[i] == UInt8(ascii: "\\"),
                    raw[i + 1] == UInt8(ascii: "u"),
                    let low = UInt32(
                        String(decoding: UnsafeBufferPointer(rebasing: raw[(i + 2)..<(i + 6)]), as: UTF8.self),
                        radix: 16
                    ),
                    (0xDC00..<0xE000).contains(low)
                {
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(scalar).utf8))
            default: out.append(e)
            }
        }
        return (String(decoding: out, as: UTF8.self), end)
    }
}
