/// A small YAML writer for the Kubernetes manifests of `volley k8s render`.
///
/// Yams can emit YAML, but the manifests carry the plan file's text, which must reach the pod
/// byte for byte: a literal block scalar keeps it readable in `kubectl get configmap -o yaml`,
/// and the writer falls back to a double-quoted scalar with escapes whenever a block could not
/// hold the text exactly (a carriage return, a control character, a line that would be read
/// as indentation). Every other string is written plain only when YAML 1.1 and 1.2 both read it
/// back as that same string, and quoted otherwise (`"7070"`, `"yes"`, `"a: b"`).
indirect enum K8sYAML {
    case string(String)
    case int(Int)
    case bool(Bool)
    /// Multi-line text (a file's content), written as a literal block scalar when exact.
    case text(String)
    case list([K8sYAML])
    /// Keys in the order given: manifests read best in the order Kubernetes documents them.
    case map([(String, K8sYAML)])

    /// The value as a YAML document body (a mapping at column 0, ending with a newline).
    var document: String { rendered(indent: 0) }

    private func rendered(indent: Int) -> String {
        var out = ""
        switch self {
        case .map(let pairs):
            for (key, value) in pairs {
                Self.appendEntry(prefix: Self.scalar(key) + ":", value, indent: indent, to: &out)
            }
        case .list(let items):
            for item in items { Self.appendEntry(prefix: "-", item, indent: indent, to: &out) }
        default:
            out = String(repeating: " ", count: indent) + inline(indent: indent) + "\n"
        }
        return out
    }

    /// `prefix` (a key with its colon, or a list dash) followed by the value: on the same line
    /// for scalars and empty collections, on the next lines, indented, for the others.
    private static func appendEntry(prefix: String, _ value: K8sYAML, indent: Int, to out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .map(let pairs) where !pairs.isEmpty:
            if prefix == "-" {
                // `- key: value` with the rest of the mapping aligned under the first key.
                let body = value.rendered(indent: indent + 2)
                out += pad + "- " + body.dropFirst(indent + 2)
            } else {
                out += pad + prefix + "\n" + value.rendered(indent: indent + 2)
            }
        case .list(let items) where !items.isEmpty:
            out += pad + prefix + "\n" + value.rendered(indent: indent + (prefix == "-" ? 2 : 0))
        default:
            out += pad + prefix + " " + value.inline(indent: indent) + "\n"
        }
    }

    private func inline(indent: Int) -> String {
        switch self {
        case .string(let s): return Self.scalar(s)
        case .int(let n): return String(n)
        case .bool(let b): return b ? "true" : "false"
        case .text(let t): return Self.block(t, indent: indent + 2) ?? Self.quoted(t)
        case .list: return "[]"
        case .map: return "{}"
        }
    }

    // MARK: - Scalars

    /// Words YAML 1.1 reads as booleans or null, whatever their case.
    private static let reserved: Set<String> = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ]

    /// A string as a plain scalar when that reads back as the same string, else double-quoted.
    static func scalar(_ s: String) -> String {
        guard let first = s.unicodeScalars.first, first.properties.isAlphabetic || first == "/" || first == "_",
            first.isASCII,
            !reserved.contains(s.lowercased()),
            s.unicodeScalars.allSatisfy({
                $0.isASCII && ($0.properties.isAlphabetic || "0123456789-._/".unicodeScalars.contains($0))
            })
        else { return quoted(s) }
        return s
    }

    /// A double-quoted scalar: JSON's escapes, which YAML shares, plus the characters YAML
    /// treats as line breaks or as not printable (NEL, LS, PS, BOM, C1 controls).
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if needsEscape(u) {
                    out +=
                        "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count)
                        + String(u.value, radix: 16, uppercase: true)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// Not YAML-printable, or a line break other than LF: must be escaped (and so cannot be in a
    /// block scalar). Values above the BMP are printable in YAML and written as they are.
    private static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        return v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) || v == 0x2028 || v == 0x2029 || v == 0xFEFF
            || v == 0xFFFE || v == 0xFFFF
    }

    /// `text` as a literal block scalar whose content lines start at column `indent`, or nil when
    /// a block cannot hold it exactly. The indentation indicator is always explicit (a first
    /// line that starts with spaces would otherwise set the indentation), and the chomping
    /// indicator keeps exactly the text's trailing newlines.
    static func block(_ text: String, indent: Int) -> String? {
        guard !text.isEmpty, text.contains("\n") else { return nil }
        for u in text.unicodeScalars where u != "\n" && u != "\t" && needsEscape(u) { return nil }
        var body = Substring(text)
        var trailingNewlines = 0
        while body.hasSuffix("\n") {
            body = body.dropLast()
            trailingNewlines += 1
        }
        // Newlines only: an empty block reads as "" whatever its chomping.
        guard !body.isEmpty else { return nil }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        // A line of spaces only before the last content line is read as an empty line when it is
        // no longer than the indentation; longer, it is content. Either way libyaml and the spec
        // disagree at the edges: quote such text instead.
        if lines.contains(where: { !$0.isEmpty && $0.allSatisfy { $0 == " " || $0 == "\t" } }) { return nil }
        // Whitespace at the very end is fine within a line, but tabs at a line start read as
        // indentation in some parsers.
        if lines.contains(where: { $0.hasPrefix("\t") }) { return nil }
        let chomp = trailingNewlines == 0 ? "-" : trailingNewlines == 1 ? "" : "+"
        let pad = String(repeating: " ", count: indent)
        var out = "|2" + chomp
        for line in lines { out += "\n" + (line.isEmpty ? "" : pad + line) }
        // Keep: the extra trailing newlines are empty lines of the block.
        if trailingNewlines > 1 { out += String(repeating: "\n", count: trailingNewlines - 1) }
        return out
    }
}
