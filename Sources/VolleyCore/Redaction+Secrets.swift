/// Secrets on a command line: what the history keeps and every report shows.
///
/// A run is saved so that it can be repeated and explained, and its command line is printed
/// by `volley show`, the HTML reports and the experiments. Tokens, cookies and passwords must
/// not ride along: they would sit in `~/.volley` and in every report shared from it. The
/// value is replaced, the rest kept, so the record still says which header or variable was
/// set and how (`Authorization: Bearer ***`).
extension Redaction {
    /// What stands in for a secret.
    public static let mask = "***"

    /// Header names whose values are credentials: the standard ones, and any name that says
    /// token, secret or key (`X-API-Key`, `X-Auth-Token`, `X-Client-Secret`), case-insensitive.
    public static func isSecretHeader(_ name: String) -> Bool {
        let lower = trim(name).lowercased()
        if ["authorization", "proxy-authorization", "cookie", "set-cookie"].contains(lower) { return true }
        return ["token", "secret", "key"].contains { lower.contains($0) }
    }

    /// Variable names (`-e NAME=value`) whose values are credentials, case-insensitive.
    public static func isSecretVariable(_ name: String) -> Bool {
        let lower = name.lowercased()
        return ["token", "secret", "key", "password", "pass", "auth"].contains { lower.contains($0) }
    }

    /// `Authorization: Bearer abc` → `Authorization: Bearer ***`, `Cookie: a=b` → `Cookie: ***`;
    /// other headers unchanged. The authorization scheme (Bearer, Basic…) is kept: it is not a
    /// secret, and it tells which kind of credential the run used.
    public static func header(_ line: String) -> String {
        guard let colon = line.firstIndex(of: ":") else { return line }
        let name = String(line[..<colon])
        guard isSecretHeader(name) else { return line }
        let value = trim(line[line.index(after: colon)...])
        guard !value.isEmpty else { return line }
        let lower = trim(name).lowercased()
        if lower == "authorization" || lower == "proxy-authorization", let space = value.firstIndex(of: " ") {
            return "\(name): \(value[..<space]) \(mask)"
        }
        return "\(name): \(mask)"
    }

    /// `TOKEN=abc` → `TOKEN=***` when the name says it holds a credential; other text unchanged.
    public static func assignment(_ text: String) -> String {
        guard let equals = text.firstIndex(of: "=") else { return text }
        let name = text[..<equals]
        guard isSecretVariable(String(name)), text.index(after: equals) < text.endIndex else { return text }
        return "\(name)=\(mask)"
    }

    /// A command line with every credential replaced: header values (`-H`, `--header`),
    /// variables (`-e`, `--env`) and passwords in URLs (any argument, e.g. `--probe
    /// postgres://user:pw@host/db`). Both `--flag value` and `--flag=value` forms.
    public static func commandLine(_ arguments: [String]) -> [String] {
        var out: [String] = []
        out.reserveCapacity(arguments.count)
        var previous: String?
        for argument in arguments {
            var redacted: String
            switch previous {
            case "-H", "--header": redacted = header(argument)
            case "-e", "--env": redacted = assignment(argument)
            default: redacted = attached(argument)
            }
            redacted = credentials(in: redacted)
            out.append(redacted)
            previous = argument
        }
        return out
    }

    private static func trim<S: StringProtocol>(_ text: S) -> String {
        let start = text.firstIndex { $0 != " " && $0 != "\t" } ?? text.endIndex
        guard let last = text.lastIndex(where: { $0 != " " && $0 != "\t" }), start <= last else { return "" }
        return String(text[start...last])
    }

    /// `--header=Name: value`, `-HName: value`, `--env=NAME=value`, `-eNAME=value`.
    private static func attached(_ argument: String) -> String {
        for (prefix, redact) in [
            ("--header=", header), ("--env=", assignment), ("-H", header), ("-e", assignment),
        ] as [(String, (String) -> String)] where argument.hasPrefix(prefix) && argument.count > prefix.count {
            return prefix + redact(String(argument.dropFirst(prefix.count)))
        }
        return argument
    }
}
