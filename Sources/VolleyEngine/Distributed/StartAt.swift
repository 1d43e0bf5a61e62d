import VolleyCore

/// `volley run --start-at TIME`: a start time agreed without a rendezvous (segment 0
/// unreachable, or runs launched by a scheduler), as wall-clock nanoseconds.
///
/// Accepted: RFC 3339 (`2026-12-06T17:00:00Z`, `2026-12-06T17:00:00.250Z`,
/// `2026-12-06T18:00:00+01:00`), a delay from now (`+5s`, `+1m30s`), or Unix seconds
/// (`1796576400`, `1796576400.5`). A time more than a second in the past is refused: the
/// segments would each start "now", at different moments, which is what the flag exists to
/// prevent.
public enum StartAt {
    /// How far in the past a start time may be before it is refused (clock skew and the time
    /// it takes a scheduler to launch the process).
    public static let pastTolerance: Int64 = 1_000_000_000

    /// Parses `text` into wall-clock nanoseconds, with `now` (wall-clock ns) for relative
    /// times and the past check.
    public static func parse(_ text: String, now: Int64 = WallClock.now()) throws(InputError) -> Int64 {
        let trimmed = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        let value: Int64
        if trimmed.hasPrefix("+") {
            let duration: Duration
            do {
                duration = try DurationText.parse(String(trimmed.dropFirst()))
            } catch {
                throw InputError(
                    "--start-at \"\(text)\": the delay is not a duration",
                    hint: "write +5s, +500ms or +1m30s"
                )
            }
            value = now + nanoseconds(duration)
        } else if let first = trimmed.first, first.isNumber, !trimmed.contains("-"), !trimmed.contains(":") {
            guard let seconds = Double(trimmed), seconds.isFinite, seconds >= 0, seconds < 1e11 else {
                throw InputError(
                    "--start-at \"\(text)\" is not Unix seconds",
                    hint: "write whole or fractional seconds since 1970, e.g. 1796576400 or 1796576400.5"
                )
            }
            value = Int64((seconds * 1e9).rounded())
        } else if let parsed = rfc3339(trimmed) {
            value = parsed
        } else {
            throw InputError(
                "--start-at \"\(text)\" is not a time",
                hint: "write an RFC 3339 UTC time (2026-12-06T17:00:00Z), a delay (+5s) or Unix seconds"
            )
        }
        if value < now - pastTolerance {
            let ago = Double(now - value) / 1e9
            throw InputError(
                "--start-at \"\(text)\" is \(formatSeconds(ago)) in the past",
                hint: "give every segment the same time a little in the future, e.g. --start-at +30s"
                    + " computed once by the launcher"
            )
        }
        return value
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    private static func formatSeconds(_ seconds: Double) -> String {
        seconds < 120 ? "\(Int(seconds.rounded()))s" : "\(Int((seconds / 60).rounded())) min"
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t` or a space may stand for `T`.
    static func rfc3339(_ text: String) -> Int64? {
        let chars = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= chars.count else { return nil }
            var value = 0
            for c in chars[from..<(from + count)] {
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            return value
        }
        func byte(_ at: Int, _ expected: Character...) -> Bool {
            at < chars.count && expected.contains(Character(UnicodeScalar(chars[at])))
        }
        guard let year = number(0, 4), byte(4, "-"), let month = number(5, 2), byte(7, "-"),
            let day = number(8, 2), byte(10, "T", "t", " "), let hour = number(11, 2), byte(13, ":"),
            let minute = number(14, 2), byte(16, ":"), let second = number(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour < 24,
            minute < 60, second < 61
        else { return nil }
        var position = 19
        var fraction: Int64 = 0
        if byte(position, ".") {
            position += 1
            var digits = 0
            while position < chars.count, chars[position] >= 48, chars[position] <= 57 {
                if digits < 9 { fraction = fraction * 10 + Int64(chars[position] - 48) }
                digits += 1
                position += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { fraction *= 10 }
        }
        var offsetSeconds = 0
        if byte(position, "Z", "z") {
            position += 1
        } else if byte(position, "+", "-") {
            let sign = chars[position] == UInt8(ascii: "-") ? -1 : 1
            guard let oh = number(position + 1, 2), byte(position + 3, ":"), let om = number(position + 4, 2),
                oh < 24, om < 60
            else { return nil }
            offsetSeconds = sign * (oh * 3600 + om * 60)
            position += 6
        } else {
            return nil
        }
        guard position == chars.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        return seconds * 1_000_000_000 + fraction
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
