import Foundation
import VolleyCore

/// A VU's variables and the values templates draw from.
struct VUContext {
    var number: Int
    var iteration: Int
    /// Captures and plan variables.
    var variables: [String: String]
    /// The current row of each feed, chosen at the start of the iteration.
    var rows: [String: [String: String]] = [:]

    /// Renders `template`; returns the name of the first missing variable instead of
    /// sending a request with an empty or "undefined" value.
    func render(_ template: Template) -> Result<String, MissingVariable> {
        // Most templates (paths, header values) are plain text: no copy, no concatenation.
        if template.parts.count == 1, case .literal(let s) = template.parts[0] { return .success(s) }
        var out = ""
        for part in template.parts {
            switch part {
            case .literal(let s):
                out += s
            case .variable(let name, let fallback):
                if let v = variables[name] {
                    out += v
                } else if name == "vu" {
                    out += String(number)
                } else if name == "iteration" {
                    out += String(iteration)
                } else if let fallback {
                    out += fallback
                } else {
                    return .failure(MissingVariable(name: name))
                }
            case .field(let feed, let column):
                guard let v = rows[feed]?[column] else { return .failure(MissingVariable(name: "\(feed).\(column)")) }
                out += v
            case .function(let name, let args):
                out += Self.call(name, args)
            }
        }
        return .success(out)
    }

    static func call(_ name: String, _ args: [String]) -> String {
        switch name {
        case "uuid":
            return UUID().uuidString.lowercased()
        case "randomInt":
            let lo = Int(args.first ?? "0") ?? 0
            let hi = Int(args.count > 1 ? args[1] : "0") ?? lo
            return String(Int.random(in: min(lo, hi)...max(lo, hi)))
        case "randomString":
            let n = Int(args.first ?? "8") ?? 8
            let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789")
            return String((0..<max(0, n)).map { _ in letters.randomElement()! })
        case "now":
            return String(Int64(Date().timeIntervalSince1970 * 1000))
        default:
            return ""
        }
    }

    /// Renders a JSON template to JSON text.
    func renderJSON(_ value: JSONTemplate) -> Result<String, MissingVariable> {
        switch value {
        case .null: return .success("null")
        case .bool(let b): return .success(b ? "true" : "false")
        case .number(let n):
            return .success(n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n))
        case .string(let t):
            return render(t).map { Self.quote($0) }
        case .array(let items):
            var parts: [String] = []
            for item in items {
                switch renderJSON(item) {
                case .success(let s): parts.append(s)
                case .failure(let m): return .failure(m)
                }
            }
            return .success("[" + parts.joined(separator: ",") + "]")
        case .object(let fields):
            var parts: [String] = []
            for (k, v) in fields {
                switch renderJSON(v) {
                case .success(let s): parts.append(Self.quote(k) + ":" + s)
                case .failure(let m): return .failure(m)
                }
            }
            return .success("{" + parts.joined(separator: ",") + "}")
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// A `${name}` with no value: the step that needs it is skipped and counted.
struct MissingVariable: Error, Equatable {
    var name: String
}
