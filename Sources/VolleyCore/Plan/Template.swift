/// A string with `${...}` placeholders, parsed once when the plan is loaded.
///
/// One syntax for everything a value can come from, resolved in this order:
/// - `${name}`: a capture or plan variable of the VU, else an environment variable
///   (`-e NAME=value` or the process environment); `${name:-default}` falls back to
///   `default` when neither exists;
/// - `${feed.column}`: the current row of a data feed;
/// - `${vu}`, `${iteration}`: the VU number (1-based) and its iteration (0-based);
/// - `${uuid()}`, `${randomInt(1, 100)}`, `${randomString(8)}`, `${now()}` (Unix ms);
/// - `$${` writes a literal `${`.
public struct Template: Equatable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public enum Part: Equatable, Hashable, Sendable {
        case literal(String)
        case variable(name: String, fallback: String?)
        case field(feed: String, column: String)
        case function(name: String, arguments: [String])
    }

    public var parts: [Part]
    /// The text as written, for names and messages.
    public var source: String

    public static let functions: [String: ClosedRange<Int>] = [
        "uuid": 0...0, "randomInt": 2...2, "randomString": 1...1, "now": 0...0,
    ]

    public init(stringLiteral value: String) {
        do {
            try self.init(parsing: value)
        } catch {
            self.init(parts: [.literal(value)], source: value)
        }
    }

    public init(parts: [Part], source: String) {
        self.parts = parts
        self.source = source
    }

    /// Parses `text`; the error's `offset` is the character position of the problem, so a
    /// loader can turn it into a column.
    public init(parsing text: String) throws(TemplateError) {
        var parts: [Part] = []
        var literal = ""
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 2 < chars.count + 1, i + 1 < chars.count {
                if chars[i + 1] == "$", i + 2 < chars.count, chars[i + 2] == "{" {
                    literal += "${"
                    i += 3
                    continue
                }
                if chars[i + 1] == "{" {
                    guard let close = chars[(i + 2)...].firstIndex(of: "}") else {
                        throw TemplateError(
                            message: "unclosed \"${\"",
                            hint: "close it with \"}\", or write \"$${\" for a literal",
                            offset: i
                        )
                    }
                    let inner = String(chars[(i + 2)..<close]).trimmingSpaces()
                    if !literal.isEmpty {
                        parts.append(.literal(literal))
                        literal = ""
                    }
                    parts.append(try Self.parsePlaceholder(inner, offset: i))
                    i = close + 1
                    continue
                }
            }
            literal.append(chars[i])
            i += 1
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.init(parts: parts, source: text)
    }

    private static func parsePlaceholder(_ inner: String, offset: Int) throws(TemplateError) -> Part {
        guard !inner.isEmpty else {
            throw TemplateError(message: "empty \"${}\"", hint: "write a name, e.g. ${id}", offset: offset)
        }
        if let open = inner.firstIndex(of: "(") {
            guard inner.hasSuffix(")") else {
                throw TemplateError(
                    message: "unclosed \"(\" in \"${\(inner)}\"",
                    hint: "e.g. ${randomInt(1, 100)}",
                    offset: offset
                )
            }
            let name = String(inner[inner.startIndex..<open]).trimmingSpaces()
            let argText = String(inner[inner.index(after: open)..<inner.index(before: inner.endIndex)])
            let args = argText.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
            guard let arity = functions[name] else {
                let known = functions.keys.sorted()
                throw TemplateError(
                    message: "unknown function \"\(name)\"",
                    hint: Suggestion.didYouMean(name, among: known).map { "did you mean \"\($0)\"?" }
                        ?? "functions are \(known.joined(separator: ", "))",
                    offset: offset
                )
            }
            guard arity.contains(args.count) else {
                throw TemplateError(
                    message:
                        "\(name)() takes \(arity.lowerBound) argument\(arity.lowerBound == 1 ? "" : "s"), got \(args.count)",
                    hint: "e.g. ${randomInt(1, 100)}, ${randomString(8)}, ${uuid()}, ${now()}",
                    offset: offset
                )
            }
            if name == "randomInt" {
                guard let lo = Int(args[0]), let hi = Int(args[1]), lo <= hi else {
                    throw TemplateError(
                        message: "randomInt needs two whole numbers, low <= high",
                        hint: "e.g. ${randomInt(1, 100)}",
                        offset: offset
                    )
                }
            }
            if name == "randomString" {
                guard let n = Int(args[0]), n >= 0, n <= 1_000_000 else {
                    throw TemplateError(
                        message: "randomString needs a length from 0 to 1,000,000",
                        hint: "e.g. ${randomString(8)}",
                        offset: offset
                    )
                }
            }
            return .function(name: name, arguments: args)
        }
        var name = inner
        var fallback: String?
        let innerChars = Array(inner)
        if let colon = innerChars.indices.first(where: {
            $0 + 1 < innerChars.count && innerChars[$0] == ":" && innerChars[$0 + 1] == "-"
        }) {
            name = String(innerChars[..<colon]).trimmingSpaces()
            fallback = String(innerChars[(colon + 2)...])
        }
        guard Self.isIdentifier(name, allowingDot: true) else {
            throw TemplateError(
                message: "invalid name \"\(name)\" in \"${\(inner)}\"",
                hint: "names are letters, digits and _, e.g. ${id} or ${users.email}",
                offset: offset
            )
        }
        let pieces = name.split(separator: ".", omittingEmptySubsequences: false)
        if pieces.count == 2 {
            guard fallback == nil else {
                throw TemplateError(
                    message: "a feed field cannot have a default",
                    hint: "drop \":-\(fallback!)\"",
                    offset: offset
                )
            }
            return .field(feed: String(pieces[0]), column: String(pieces[1]))
        }
        guard pieces.count == 1 else {
            throw TemplateError(
                message: "invalid name \"\(name)\"",
                hint: "use feed.column or a plain name",
                offset: offset
            )
        }
        return .variable(name: name, fallback: fallback)
    }

    static func isIdentifier(_ s: String, allowingDot: Bool) -> Bool {
        guard let first = s.first, first.isLetter || first == "_" else { return false }
        return s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || (allowingDot && $0 == ".") }
    }

    /// Names of `${name}` variables used (not feed fields, functions or builtins).
    public var variableNames: [String] {
        parts.compactMap {
            if case .variable(let name, _) = $0, !Self.builtins.contains(name) { return name }
            return nil
        }
    }

    /// Feeds referenced as `${feed.column}`.
    public var feedFields: [(feed: String, column: String)] {
        parts.compactMap {
            if case .field(let f, let c) = $0 { return (f, c) }
            return nil
        }
    }

    /// Names that are always defined.
    public static let builtins: Set<String> = ["vu", "iteration"]

    /// True when the template is plain text.
    public var isLiteral: Bool {
        parts.allSatisfy {
            if case .literal = $0 { return true }
            return false
        }
    }

    /// Replaces variables for which `value` returns text (used to substitute environment
    /// variables at load time); the others stay as placeholders.
    public func substituting(_ value: (String) -> String?) -> Template {
        var out: [Part] = []
        for p in parts {
            var next = p
            if case .variable(let name, _) = p, let v = value(name) { next = .literal(v) }
            if case .literal(let text) = next, let last = out.last, case .literal(let prev) = last {
                out[out.count - 1] = .literal(prev + text)
            } else {
                out.append(next)
            }
        }
        return Template(parts: out, source: source)
    }

    public var description: String { source }
}

/// A template that could not be parsed; `offset` is the character index in the string.
public struct TemplateError: Error, Equatable, Sendable {
    public var message: String
    public var hint: String?
    public var offset: Int
}

/// "Did you mean" suggestions for misspelt keys and names.
public enum Suggestion {
    /// The closest of `candidates` to `word` by edit distance, if close enough to be a typo.
    public static func didYouMean(_ word: String, among candidates: [String]) -> String? {
        let lower = word.lowercased()
        var best: (String, Int)?
        for c in candidates {
            let d = distance(lower, c.lowercased())
            if best == nil || d < best!.1 { best = (c, d) }
        }
        guard let (candidate, d) = best else { return nil }
        let limit = max(1, min(3, word.count / 3))
        return d <= limit ? candidate : nil
    }

    /// Damerau-Levenshtein (optimal string alignment): a swap of two letters counts as one
    /// edit, the most common typo ("captrue").
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a)
        let y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }
}
