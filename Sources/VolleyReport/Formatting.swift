import VolleyCore

/// Number formatting shared by every terminal renderer, independent of the locale so that
/// golden files and CI logs read the same everywhere.
package enum Fmt {
    /// 1234567 → "1,234,567".
    package static func int(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    package static func int(_ n: UInt64) -> String { int(Int(clamping: n)) }

    /// Fixed decimals without Foundation: 3.14159, 2 → "3.14".
    package static func fixed(_ x: Double, _ decimals: Int) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (abs(x) * scale).rounded()
        let whole = rounded / scale
        let intPart = whole.rounded(.towardZero)
        let frac = Int((rounded - intPart * scale).rounded())
        var s = int(Int(intPart))
        if decimals > 0 {
            var f = String(frac)
            while f.count < decimals { f = "0" + f }
            s += "." + f
        }
        return (x < 0 && rounded != 0 ? "-" : "") + s
    }

    /// Milliseconds with precision that suits the size: 0.123, 12.3, 1,234.
    package static func ms(_ x: Double) -> String {
        if x < 10 { return fixed(x, 2) }
        if x < 1000 { return fixed(x, 1) }
        return fixed(x, 0)
    }

    package static func percent(_ fraction: Double) -> String {
        fixed(fraction * 100, 2) + "%"
    }

    package static func bytes(_ n: UInt64) -> String {
        let x = Double(n)
        if x < 1024 { return "\(n) B" }
        if x < 1024 * 1024 { return fixed(x / 1024, 1) + " KiB" }
        if x < 1024 * 1024 * 1024 { return fixed(x / 1024 / 1024, 1) + " MiB" }
        return fixed(x / 1024 / 1024 / 1024, 2) + " GiB"
    }

    package static func seconds(_ s: Double) -> String {
        if s < 60 { return fixed(s, 2) + " s" }
        let m = Int(s / 60)
        return "\(m)m" + fixed(s - Double(m) * 60, 1) + "s"
    }

    package static func pad(_ s: String, _ width: Int, right: Bool = true) -> String {
        let n = s.count
        guard n < width else { return s }
        let fill = String(repeating: " ", count: width - n)
        return right ? fill + s : s + fill
    }
}

/// ANSI styling that collapses to plain text when colour is off (not a TTY, or NO_COLOR).
public struct Style: Sendable {
    public var enabled: Bool

    public init(enabled: Bool) { self.enabled = enabled }

    package func bold(_ s: String) -> String { wrap(s, "1") }
    package func dim(_ s: String) -> String { wrap(s, "2") }
    package func red(_ s: String) -> String { wrap(s, "31") }
    package func green(_ s: String) -> String { wrap(s, "32") }
    package func yellow(_ s: String) -> String { wrap(s, "33") }
    package func cyan(_ s: String) -> String { wrap(s, "36") }

    private func wrap(_ s: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }
}
