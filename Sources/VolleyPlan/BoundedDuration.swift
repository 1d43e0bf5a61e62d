import VolleyCore

/// `DurationText` behind an upper bound checked first. Core stores durations as whole
/// nanoseconds in an `Int64`, which cannot hold more than about 292 years; a plan file, being
/// user input, must get an error for `99999999999999h`, not a crash.
enum BoundedDuration {
    /// About 31 years: far beyond any load test, far below the `Int64` nanosecond limit.
    static let maximumSeconds = 1e9

    static func parse(_ text: String) throws -> Duration {
        guard roughSeconds(text) <= maximumSeconds else {
            throw InputError(
                "duration \"\(text)\" is too long",
                hint: "durations are at most 1000000000s (about 31 years)"
            )
        }
        return try DurationText.parse(text)
    }

    /// The sum of number × unit, read the way `DurationText` reads it; anything it would
    /// reject counts as zero here, since it reports that itself.
    static func roughSeconds(_ text: String) -> Double {
        let scales: [Substring: Double] = ["ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600]
        var rest = Substring(text.trimmingSpaces())
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isNumber || $0 == ".") }
            rest = rest.dropFirst(unit.count)
            if number.isEmpty && unit.isEmpty { break }
            total += (Double(number) ?? 0) * (scales[unit] ?? 1)
        }
        return total
    }
}

/// `RateText` with its period (`/10s`) bounded the same way, since it is parsed as a duration.
enum BoundedRate {
    static func parse(_ text: String) throws -> Double {
        if let slash = text.firstIndex(of: "/") {
            var period = String(text[text.index(after: slash)...]).trimmingSpaces()
            if period.first?.isNumber != true { period = "1" + period }
            guard BoundedDuration.roughSeconds(period) <= BoundedDuration.maximumSeconds else {
                throw InputError("invalid rate period in \"\(text)\"", hint: "use /s, /m, /h or e.g. /10s")
            }
        }
        return try RateText.parse(text)
    }
}
