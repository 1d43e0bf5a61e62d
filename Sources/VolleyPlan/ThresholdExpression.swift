import VolleyCore

/// A threshold written as `METRIC OP VALUE`: `p(95) < 500ms`, `avg < 200ms`, `max < 2s`,
/// `error_rate < 1%`, `checks > 99%`, `rps > 100`, and a phase of the requests' time:
/// `p(95) of ttfb < 200ms`, `avg of tls < 20ms`. Public so that what shows a threshold's
/// result (the demo) can tell its metric, and so its unit, from the expression alone.
public enum ThresholdExpression {
    static let metrics = ["p(N)", "med", "avg", "max", "error_rate", "checks", "rps", "p(N) of PHASE"]
    /// Every phase as a threshold may name it, for hints.
    static let phaseNames =
        "dns, connect, tls (tls_handshaking), send (sending), wait (ttfb, waiting), "
        + "receive (receiving); or k6's http_req_connecting, http_req_waiting…"
    private static let example = "write METRIC OP VALUE, e.g. \"p(95) < 500ms\" or \"error_rate < 1%\""

    public static func parse(_ text: String) throws(InputError) -> (Threshold.Metric, Threshold.Comparison, Double) {
        let chars = Array(text)
        guard let opStart = chars.firstIndex(where: { $0 == "<" || $0 == ">" }) else {
            let hasEquals = chars.contains("=")
            throw InputError(
                "invalid threshold \"\(text)\"",
                hint: hasEquals ? "compare with <, <=, > or >=" : example
            )
        }
        let orEqual = opStart + 1 < chars.count && chars[opStart + 1] == "="
        let symbol = String(chars[opStart]) + (orEqual ? "=" : "")
        guard let comparison = Threshold.Comparison(rawValue: symbol) else {
            throw InputError("invalid threshold \"\(text)\"", hint: example)
        }
        let metricText = String(chars[..<opStart]).trimmingSpaces()
        let valueText = String(chars[(opStart + symbol.count)...]).trimmingSpaces()
        guard !metricText.isEmpty, !valueText.isEmpty else {
            throw InputError("invalid threshold \"\(text)\"", hint: example)
        }
        let metric = try self.metric(metricText.lowercased(), original: metricText)
        return (metric, comparison, try value(valueText, for: metric, metricName: metricText))
    }

    private static func metric(_ name: String, original: String) throws(InputError) -> Threshold.Metric {
        // Probe series: `max(lab_db_pool_waiting)`, `avg(proc.cpu_percent)`, or a bare dotted
        // name (`pg.connections.active`, judged at its maximum).
        for reduce in [Threshold.ProbeReduction.max, .min, .avg, .last] {
            let open = reduce.rawValue + "("
            if name.hasPrefix(open) && name.hasSuffix(")") {
                let series = String(original.dropFirst(open.count).dropLast()).trimmingSpaces()
                guard isSeriesName(series) else {
                    throw InputError(
                        "invalid probe series \"\(series)\" in \(reduce.rawValue)(…)",
                        hint: "write a series as the probe names it, e.g. max(pg.connections.active)"
                    )
                }
                return .probe(series: series, reduce: reduce)
            }
        }
        if let phase = try phaseMetric(name) { return phase }
        if name.contains("."), !name.hasPrefix("p("), isSeriesName(name) {
            return .probe(series: original, reduce: .max)
        }
        switch name {
        case "avg", "mean": return .latencyMean
        case "max": return .latencyMax
        case "med": return .latencyPercentile(50)
        case "error_rate": return .errorRate
        case "checks": return .checkPassRate
        case "rps": return .rps
        default: break
        }
        if name.hasPrefix("p(") && name.hasSuffix(")") {
            let inner = String(name.dropFirst(2).dropLast()).trimmingSpaces()
            guard let p = Double(inner), p > 0, p <= 100 else {
                throw InputError(
                    "invalid percentile \"\(name)\"",
                    hint: "write p(N) with N above 0 and up to 100, e.g. p(99.9)"
                )
            }
            return .latencyPercentile(p)
        }
        if name.hasPrefix("p"), let p = Double(name.dropFirst()) {
            throw InputError(
                "unknown threshold metric \"\(name)\"",
                hint: "write p(\(p == p.rounded() ? String(Int(p)) : String(p))) for a percentile"
            )
        }
        let names = ["med", "avg", "max", "error_rate", "checks", "rps", "max(", "avg(", "last("]
        throw InputError(
            "unknown threshold metric \"\(name)\"",
            hint: Suggestion.didYouMean(name, among: names).map { "did you mean \"\($0)\"?" }
                ?? "metrics are \(metrics.joined(separator: ", "))"
        )
    }

    /// `STAT of PHASE`: `p(95) of ttfb`, `avg of tls`, `max of http_req_receiving`; nil when
    /// the name has no `of`. The statistic is any latency one (p(N), med, avg, max).
    private static func phaseMetric(_ name: String) throws(InputError) -> Threshold.Metric? {
        let words = name.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let of = words.lastIndex(of: "of") else { return nil }
        let statText = words[..<of].joined(separator: " ")
        let phaseText = words[(of + 1)...].joined(separator: " ")
        guard !phaseText.isEmpty else {
            throw InputError("no phase after \"of\" in \"\(name)\"", hint: "phases are \(phaseNames)")
        }
        guard let phase = Phase(named: phaseText) else {
            let all = Phase.allCases.flatMap(\.aliases)
            throw InputError(
                "unknown phase \"\(phaseText)\"",
                hint: Suggestion.didYouMean(phaseText, among: all).map {
                    "did you mean \"\($0)\"? phases are \(phaseNames)"
                }
                    ?? "phases are \(phaseNames)"
            )
        }
        let hint =
            "a phase is a time: write p(N), med, avg or max of \(phaseText), e.g. \"p(95) of \(phaseText) < 200ms\""
        guard !statText.isEmpty else { throw InputError("no statistic before \"of \(phaseText)\"", hint: hint) }
        switch try metric(statText, original: statText) {
        case .latencyPercentile(let p): return .phase(phase, .percentile(p))
        case .latencyMean: return .phase(phase, .mean)
        case .latencyMax: return .phase(phase, .max)
        default: throw InputError("\"\(statText)\" cannot be taken of a phase", hint: hint)
        }
    }

    static func isSeriesName(_ text: String) -> Bool {
        guard let first = text.first, first.isLetter else { return false }
        return !text.contains(" ") || text.contains("{")
    }

    /// Milliseconds for latency, a fraction for rates, requests per second for rps.
    private static func value(
        _ text: String,
        for metric: Threshold.Metric,
        metricName: String
    ) throws(InputError) -> Double {
        switch metric {
        case .latencyPercentile, .latencyMean, .latencyMax, .phase:
            do {
                let (seconds, attoseconds) = try BoundedDuration.parse(text).components
                return Double(seconds) * 1000 + Double(attoseconds) / 1e15
            } catch {
                throw (error as? InputError) ?? InputError("invalid duration \"\(text)\"")
            }
        case .errorRate, .checkPassRate:
            let isPercent = text.hasSuffix("%")
            let number = Double(isPercent ? String(text.dropLast()).trimmingSpaces() : text)
            guard let number, number >= 0, number <= (isPercent ? 100 : 1) else {
                throw InputError(
                    "invalid rate \"\(text)\" for \(metricName)",
                    hint: "write a percentage such as 1% or a fraction such as 0.01"
                )
            }
            return isPercent ? number / 100 : number
        case .rps:
            do {
                return try BoundedRate.parse(text)
            } catch {
                throw (error as? InputError) ?? InputError("invalid rate \"\(text)\"")
            }
        case .probe:
            // In the series' own unit: a count, a percentage (90 or 90%), bytes (512MB).
            let units: [(String, Double)] = [("GB", 1_073_741_824), ("MB", 1_048_576), ("KB", 1024), ("%", 1)]
            var number = text
            var scale = 1.0
            for (suffix, factor) in units where text.uppercased().hasSuffix(suffix) {
                number = String(text.dropLast(suffix.count)).trimmingSpaces()
                scale = factor
                break
            }
            guard let value = Double(number), value.isFinite else {
                throw InputError(
                    "invalid value \"\(text)\" for \(metricName)",
                    hint: "write a number in the series' unit, e.g. 90, 80% or 512MB"
                )
            }
            return value * scale
        }
    }
}
