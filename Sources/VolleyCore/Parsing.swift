/// A problem with a value the user typed, phrased so the CLI can print it as-is.
///
/// Parsers in Core never print; they throw this so every front end (flags, plan files, the
/// Swift API) reports the same words and the same hint.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong, naming the offending text.
    public var message: String
    /// How to write it correctly.
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String {
        if let hint { return "\(message) (hint: \(hint))" }
        return message
    }
}

/// Human durations (`250ms`, `30s`, `1m30s`, `1.5h`) as used by wrk, k6 and Go.
///
/// A bare number is refused rather than guessed: `-d 30` has meant seconds in one tool and
/// minutes in another, and a load test that runs 60 times longer than intended is worse
/// than an error.
public enum DurationText {
    /// Parses `text` into a `Duration`; throws `InputError` naming the text on failure.
    public static func parse(_ text: String) throws -> Duration {
        let trimmed = text.trimmingSpaces()
        guard !trimmed.isEmpty else {
            throw InputError("empty duration", hint: "write e.g. 30s, 500ms, 2m or 1m30s")
        }
        var total: Double = 0
        var rest = Substring(trimmed)
        while !rest.isEmpty {
            let numberEnd = rest.firstIndex(where: { !($0.isNumber || $0 == ".") }) ?? rest.endIndex
            let numberText = rest[rest.startIndex..<numberEnd]
            guard let value = Double(numberText), value >= 0 else {
                throw InputError(
                    "invalid duration \"\(text)\"",
                    hint: "write a number followed by a unit (ms, s, m, h), e.g. 30s or 1m30s"
                )
            }
            rest = rest[numberEnd...]
            let unitEnd = rest.firstIndex(where: { $0.isNumber || $0 == "." }) ?? rest.endIndex
            let unit = rest[rest.startIndex..<unitEnd]
            rest = rest[unitEnd...]
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "":
                throw InputError(
                    "duration \"\(text)\" has no unit",
                    hint: "add a unit: \(numberText)s for seconds, \(numberText)ms for milliseconds"
                )
            default:
                throw InputError(
                    "unknown unit \"\(unit)\" in duration \"\(text)\"",
                    hint: "units are ns, us, ms, s, m, h"
                )
            }
            total += value * scale
        }
        // Beyond ~292 years a Duration in nanoseconds overflows; no load test is that long.
        guard total * 1e9 < Double(Int64.max) else {
            throw InputError("duration \"\(text)\" is too long", hint: "durations go up to 100 years")
        }
        return .nanoseconds(Int64((total * 1e9).rounded()))
    }
}

/// Request rates: `500` or `500/s` per second, `30/m` per minute, `2/1h` per hour.
public enum RateText {
    /// Far above what one machine can send (a few hundred thousand a second), and low enough
    /// that a rate times the longest duration still counts its arrivals in an `Int`.
    public static let maximum: Double = 10_000_000

    /// Parses `text` into requests per second.
    public static func parse(_ text: String) throws -> Double {
        let rate = try parseUnbounded(text)
        guard rate <= maximum else {
            throw InputError(
                "rate \"\(text)\" is more than 10,000,000 per second",
                hint: "one machine sends a few hundred thousand requests per second at most"
            )
        }
        return rate
    }

    private static func parseUnbounded(_ text: String) throws -> Double {
        let trimmed = text.trimmingSpaces()
        let parts = trimmed.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let count = Double(first), count >= 0, count.isFinite else {
            throw InputError("invalid rate \"\(text)\"", hint: "write requests per second, e.g. 500, 500/s or 30/m")
        }
        guard parts.count == 2 else { return count }
        var unit = String(parts[1])
        if unit.first?.isNumber != true { unit = "1" + unit }
        let period: Duration
        do {
            period = try DurationText.parse(unit)
        } catch {
            throw InputError("invalid rate period in \"\(text)\"", hint: "use /s, /m, /h or e.g. /10s")
        }
        let seconds = period.seconds
        guard seconds > 0 else {
            throw InputError("rate period in \"\(text)\" is zero", hint: "use /s, /m, /h or e.g. /10s")
        }
        return count / seconds
    }
}

extension Duration {
    /// The duration in (fractional) seconds; handy for arithmetic on schedules.
    public var seconds: Double {
        let (s, atto) = self.components
        return Double(s) + Double(atto) * 1e-18
    }

    /// The duration in whole nanoseconds, saturating at zero for negative values.
    public var nanosecondsClamped: UInt64 {
        let (s, atto) = self.components
        let ns = s * 1_000_000_000 + atto / 1_000_000_000
        return ns < 0 ? 0 : UInt64(ns)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
