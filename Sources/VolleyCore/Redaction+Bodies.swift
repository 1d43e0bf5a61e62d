/// Secrets in what the server said: an error page or a stack trace often prints the
/// connection string it failed with (`postgresql://app:pw@db/app`), a config dump
/// (`password=…`) or the request's own `Authorization` header. Excerpts of response bodies
/// are printed, saved in the history and put in shared reports, so they are masked like a
/// command line: the value replaced by `***`, the name kept so the excerpt still says what
/// was there.
extension Redaction {
    /// `scheme://user:pw@host` → `scheme://***@host` (every one in the text),
    /// `Bearer abc` → `Bearer ***`, and `password=x`, `"api_key": "x"`, `token: x` →
    /// the name and separator kept, the value masked. Other text unchanged.
    public static func body(_ text: String) -> String {
        var out = text
        for rule in bodyRules {
            guard let regex = try? Regex(rule.pattern) else { continue }
            out = out.replacing(regex) { match in
                var kept = ""
                for group in rule.keep {
                    if let part = match.output[group].substring { kept += part }
                }
                return kept + mask + rule.suffix
            }
        }
        return out
    }

    /// What is masked in a body: a pattern, the groups kept before the mask, and what follows it.
    private static let bodyRules: [(pattern: String, keep: [Int], suffix: String)] = [
        // Userinfo of any URL: the scheme stays, the user and password go.
        (#"([A-Za-z][A-Za-z0-9+.\-]*://)[^\s/@?#]+@"#, [1], "@"),
        // HTTP authorization values.
        (#"(?i)\b(bearer|basic|digest)(\s+)[A-Za-z0-9._~+/=\-]{4,}"#, [1, 2], ""),
        // `name=value`, `name: value`, `"name": "value"` where the name says it holds a credential.
        (
            #"(?i)([A-Za-z0-9_\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|credential|cookie|session)[A-Za-z0-9_\-]*["']?\s*[:=]\s*["']?)[^\s"'&,;<>}]+"#,
            [1], ""
        ),
    ]
}

/// Text taken from a response body, fit to print on a terminal, in a report and in JSON.
///
/// Bodies are bytes the service under test chose: invalid UTF-8, escape sequences that
/// would drive the terminal, line breaks that would break a one-line summary, credentials.
/// An excerpt is valid UTF-8 (invalid bytes become U+FFFD), has runs of whitespace folded
/// into one space, every other control character written as `\u{XX}`, credentials masked
/// (``Redaction/body(_:)``), and at most ``ResponseSamples/excerptBytes`` bytes, with `…`
/// when it was cut.
public enum Excerpt {
    /// The excerpt of `body`. `totalBytes` is the whole body's size when `body` holds only
    /// its start (it says whether the excerpt was cut).
    public static func make<Bytes: Collection>(
        _ body: Bytes,
        totalBytes: Int? = nil,
        limit: Int = ResponseSamples.excerptBytes
    ) -> String where Bytes.Element == UInt8 {
        // Twice the limit is read, so that a secret straddling the limit is still seen
        // whole by the redaction, which runs before the cut.
        let window = Array(body.prefix(limit * 2))
        let total = totalBytes ?? body.count
        let text = Redaction.body(sanitize(String(decoding: window, as: UTF8.self)))
        var out = ""
        var bytes = 0
        for c in text {
            let n = c.utf8.count
            if bytes + n > limit { return out + "…" }
            out.append(c)
            bytes += n
        }
        return total > window.count ? out + "…" : out
    }

    /// One line of printable text: whitespace runs folded into a space, other control
    /// characters (C0, DEL, C1, bidirectional overrides) escaped as `\u{XX}`.
    public static func sanitize(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v == 0x20 || v == 0x09 || v == 0x0A || v == 0x0D || v == 0x0B || v == 0x0C {
                pendingSpace = true
                continue
            }
            if pendingSpace {
                if !out.isEmpty { out.append(" ") }
                pendingSpace = false
            }
            if v < 0x20 || (0x7F...0x9F).contains(v) || (0x202A...0x202E).contains(v)
                || (0x2066...0x2069).contains(v)
            {
                out += "\\u{" + String(v, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
