/// A small JSON path: `$`, `.key`, `['key']`, `["key"]`, `[index]` (negative counts from the
/// end). Enough for checks and captures on API responses; filters and wildcards are not
/// supported and are rejected when the plan is loaded.
public struct JSONPath: Equatable, Sendable, CustomStringConvertible {
    public enum Segment: Equatable, Sendable {
        case key(String)
        case index(Int)
    }

    public let segments: [Segment]
    public let description: String

    public init(parsing text: String) throws(InputError) {
        let chars = Array(text.trimmingSpaces())
        guard chars.first == "$" else {
            throw InputError("JSON path \"\(text)\" must start with $", hint: "e.g. $.id or $.items[0].name")
        }
        var segments: [Segment] = []
        var i = 1
        func fail(_ why: String) -> InputError {
            InputError(
                "invalid JSON path \"\(text)\": \(why)",
                hint: "use $.key, $['key'] or $[0], e.g. $.data.items[0].id"
            )
        }
        while i < chars.count {
            switch chars[i] {
            case ".":
                var j = i + 1
                while j < chars.count && chars[j] != "." && chars[j] != "[" { j += 1 }
                let key = String(chars[(i + 1)..<j])
                guard !key.isEmpty, key != "*" else { throw fail("empty or wildcard key after \".\"") }
                segments.append(.key(key))
                i = j
            case "[":
                guard let close = chars[i...].firstIndex(of: "]") else { throw fail("unclosed \"[\"") }
                let inner = String(chars[(i + 1)..<close]).trimmingSpaces()
                if let n = Int(inner) {
                    segments.append(.index(n))
                } else if inner.count >= 2, let q = inner.first, q == "'" || q == "\"", inner.last == q {
                    segments.append(.key(String(inner.dropFirst().dropLast())))
                } else {
                    throw fail("\"[\(inner)]\" is neither an index nor a quoted key")
                }
                i = close + 1
            default:
                throw fail("unexpected \"\(chars[i])\"")
            }
        }
        self.segments = segments
        self.description = text
    }
}
