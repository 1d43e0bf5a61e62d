/// What may go into a request line or a header, checked wherever a URL or a header comes
/// from: a flag, a plan literal, or a value rendered during the run (a capture, a feed row).
///
/// A CR or LF in a URL or a header value ends the line early and lets whoever wrote it add
/// headers, or a whole second request, to Volley's traffic; a value captured from the
/// service's own response makes the service under test that writer. So line breaks, NUL and
/// other control bytes are refused, never passed on; spaces and non-ASCII text in a URL are
/// percent-encoded (as browsers and curl do) because they have one safe spelling.
public enum WireText {
    /// The request target (path and query) as it goes into the request line: spaces and
    /// non-ASCII bytes percent-encoded, everything else as written. Throws for control bytes
    /// (CR, LF, NUL, DEL …) and for a `%` not followed by two hex digits (`%zz`), which servers
    /// read differently from each other.
    ///
    /// `subject` names the text in messages (by default `URL "…"`).
    public static func requestTarget(_ text: String, subject: String? = nil) throws -> String {
        try refuseControlBytes(inURL: text, subject: subject)
        var needsEncoding = false
        let bytes = text.utf8
        var i = bytes.startIndex
        var offset = 0
        while i != bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                let h1 = bytes.index(after: i)
                let h2 = h1 == bytes.endIndex ? h1 : bytes.index(after: h1)
                guard h1 != bytes.endIndex, h2 != bytes.endIndex, isHex(bytes[h1]), isHex(bytes[h2]) else {
                    throw InputError(
                        "\(subject ?? "URL \"\(escaped(text))\"") has an invalid percent-escape at byte \(offset + 1)",
                        hint: "% starts an escape of two hex digits (e.g. %20); write a literal % as %25"
                    )
                }
            }
            if b == 0x20 || b > 0x7E { needsEncoding = true }
            i = bytes.index(after: i)
            offset += 1
        }
        guard needsEncoding else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        for b in bytes {
            if b == 0x20 || b > 0x7E {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigit(b >> 4))
                out.append(hexDigit(b & 0xF))
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Throws when a URL holds a control byte (CR, LF, NUL, DEL …), naming it and where.
    public static func refuseControlBytes(inURL text: String, subject: String? = nil) throws {
        for (offset, b) in text.utf8.enumerated() where b < 0x20 || b == 0x7F {
            throw InputError(
                "\(subject ?? "URL \"\(escaped(text))\"") contains \(describe(b)) at byte \(offset + 1)",
                hint: "line breaks and control bytes would change the request on the wire; "
                    + "percent-encode them (e.g. %0D%0A) if the server expects them"
            )
        }
    }

    /// Throws when a header value holds CR, LF or NUL: each would end or cut the header line.
    /// Other bytes (tabs, UTF-8 text) pass, as RFC 9110 lets servers decide about them. The
    /// message names the header and the position, not the value: it may be a credential.
    public static func checkHeaderValue(_ value: String, name: String) throws {
        for (offset, b) in value.utf8.enumerated() where b == 0x0D || b == 0x0A || b == 0x00 {
            throw InputError(
                "the value of header \"\(name)\" contains \(describe(b)) at byte \(offset + 1)",
                hint: "a header value is one line; CR, LF and NUL would add to the request on the wire"
            )
        }
    }

    /// An HTTP token (RFC 9110 `tchar`s): what header names and methods are made of.
    public static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { b in
                switch b {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"):
                    return true
                default:
                    return "!#$%&'*+-.^_`|~".utf8.contains(b)
                }
            }
    }

    /// `text` with control bytes spelled out (`\r`, `\n`, `\0`, `\u{7}`) and a URL's password
    /// hidden, for messages: an error must not itself write a line break or an escape
    /// sequence to the terminal, nor a credential to a log.
    public static func escaped(_ text: String) -> String {
        var out = ""
        for scalar in Redaction.credentials(in: text).unicodeScalars {
            switch scalar.value {
            case 0x0D: out += "\\r"
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x00: out += "\\0"
            case 0..<0x20, 0x7F: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func describe(_ b: UInt8) -> String {
        switch b {
        case 0x0D: return "a carriage return (\\r)"
        case 0x0A: return "a line feed (\\n)"
        case 0x00: return "a NUL byte (\\0)"
        default: return "a control byte (\\u{\(String(b, radix: 16))})"
        }
    }

    private static func isHex(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b)
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 {
        v < 10 ? 0x30 + v : 0x41 + v - 10
    }
}
