import VolleyCore

/// A YAML value with its position, as the plan reader sees it: aliases expanded, merge keys
/// (`<<`) applied and duplicate keys already reported, so the reader never touches Yams.
struct PlanNode {
    /// How a scalar was written; decides whether `200` is a number or the text "200" in a
    /// JSON body, and how to find a column inside the text.
    enum Style: Equatable {
        case plain
        case singleQuoted
        case doubleQuoted
        case literal
        case folded
    }

    enum Kind {
        case scalar(String, Style)
        case mapping([Pair])
        case sequence([PlanNode])
    }

    /// A map entry; keys are always text.
    struct Pair {
        var key: String
        var keyNode: PlanNode
        var value: PlanNode
    }

    var kind: Kind
    var location: SourceLocation

    /// A plain `~`, `null` or nothing at all (`check:` with no value).
    var isNull: Bool {
        guard case .scalar(let text, .plain) = kind else { return false }
        return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }

    /// The text of a scalar that is not null.
    var text: String? {
        guard case .scalar(let text, _) = kind, !isNull else { return nil }
        return text
    }

    var style: Style? {
        guard case .scalar(_, let style) = kind else { return nil }
        return style
    }

    var pairs: [Pair]? {
        guard case .mapping(let pairs) = kind else { return nil }
        return pairs
    }

    var items: [PlanNode]? {
        guard case .sequence(let items) = kind else { return nil }
        return items
    }

    /// What the value is, for "must be a map, got a list" messages.
    var kindDescription: String {
        switch kind {
        case .mapping: return "a map"
        case .sequence: return "a list"
        case .scalar(let text, let style):
            if isNull { return "nothing" }
            if style != .plain { return "\"\(text)\"" }
            if text == "true" || text == "false" { return text }
            return JSONNumber.isNumber(text) ? text : "\"\(text)\""
        }
    }
}

/// JSON's number syntax, used to decide which plain YAML scalars are numbers in a JSON body.
enum JSONNumber {
    static func isNumber(_ text: String) -> Bool {
        var chars = Substring(text)
        if chars.first == "-" { chars = chars.dropFirst() }
        let digits = chars.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits == "0" || digits.first != "0" else { return false }
        chars = chars.dropFirst(digits.count)
        if chars.first == "." {
            chars = chars.dropFirst()
            let fraction = chars.prefix { $0.isASCII && $0.isNumber }
            guard !fraction.isEmpty else { return false }
            chars = chars.dropFirst(fraction.count)
        }
        if chars.first == "e" || chars.first == "E" {
            chars = chars.dropFirst()
            if chars.first == "+" || chars.first == "-" { chars = chars.dropFirst() }
            let exponent = chars.prefix { $0.isASCII && $0.isNumber }
            guard !exponent.isEmpty else { return false }
            chars = chars.dropFirst(exponent.count)
        }
        return chars.isEmpty
    }
}
