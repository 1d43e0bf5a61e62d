import VolleyAnalysis
import VolleyCore

/// `volley compare` as a terminal table or Markdown (for a pull-request comment).
public struct ComparisonRenderer: Sendable {
    public enum Format: Sendable { case terminal, markdown }

    public var style: Style
    public var format: Format

    public init(style: Style, format: Format = .terminal) {
        self.style = style
        self.format = format
    }

    public func render(_ c: RunComparison, a: String, b: String) -> String {
        var sections: [(String, [MetricComparison])] = [("all requests", c.overall)]
        sections += c.byName.map { ($0.name, $0.metrics) }
        var skipped: [String: ([String], String?)] = [:]
        for n in c.byName { if let sides = n.skippedIn { skipped[n.name] = (sides, n.skipReason) } }
        let method = Self.method(c)
        switch format {
        case .markdown:
            return markdown(sections, a: a, b: b, method: method, skipped: skipped, warnings: c.warnings)
        case .terminal:
            return terminal(sections, a: a, b: b, method: method, skipped: skipped, warnings: c.warnings)
        }
    }

    /// How the intervals were made and what decides: the A/A figure for a single pair when
    /// there is one, else a plain statement that one pair cannot separate change from drift.
    static func method(_ c: RunComparison) -> String {
        let effect = Fmt.fixed(c.minimumEffect * 100, 0)
        let within =
            "whole-run metrics by bootstrap over per-second values (2000 resamples); "
            + "per-name latency by order-statistic intervals from the HDR histograms, per-name errors by a "
            + "two-proportion z-test"
        let oneRunEach = c.overall.contains { $0.verdict == .cannotTell }
        if let calibration = c.calibration {
            let source = calibration.experiment.map { "E\($0)" } ?? "an A/A experiment"
            return "95% intervals from the between-run noise of the A/A experiment \(source) "
                + "(\(calibration.rounds) rounds, same target): one pair's change ± t × that spread; "
                + "a change whose interval includes 0 is noise."
        }
        if oneRunEach {
            return "One run each: drift between runs is not measured, so no verdict (use volley ab, "
                + "or an A/A ab of this target for a noise floor). The intervals describe each run's own "
                + "spread only: \(within)."
        }
        return "95% intervals: \(within). Changes under \(effect)% (\(Fmt.fixed(c.minimumEffect * 25, 1)) "
            + "points for error rates), or whose interval includes 0, are called noise."
    }

    private func warningLines(_ warnings: [String]) -> String {
        warnings.map { "  " + style.yellow("warning:") + " \($0)\n" }.joined()
    }

    private func terminal(
        _ sections: [(String, [MetricComparison])],
        a: String,
        b: String,
        method: String,
        skipped: [String: ([String], String?)],
        warnings: [String]
    ) -> String {
        var out = style.bold("Comparing \(a) → \(b)") + "\n\n"
        let oneRunEach = sections.contains { $0.1.contains { $0.verdict == .cannotTell } }
        let intervalHeader = oneRunEach ? "within-run 95% interval" : "95% interval"
        if !warnings.isEmpty {
            out += warningLines(["the load shapes differ; the change measures the load too:"] + warnings) + "\n"
        }
        out +=
            "  " + Fmt.pad("", 12, right: false) + Fmt.pad(short(a), 15) + Fmt.pad(short(b), 15)
            + Fmt.pad("change", 12) + "   " + Fmt.pad(intervalHeader, 27, right: false) + "verdict\n"
        for (name, metrics) in sections {
            out += "  " + style.bold(name) + "\n"
            if let (sides, reason) = skipped[name] {
                out += "    " + style.dim(skippedText(sides, a: a, b: b, reason: reason)) + "\n"
            }
            for m in metrics {
                let verdict: String
                switch m.verdict {
                case .better: verdict = style.green("better")
                case .worse: verdict = style.red("worse")
                case .noChange: verdict = style.dim("no significant change")
                case .insufficient: verdict = style.dim("not enough data")
                case .cannotTell: verdict = style.dim("cannot tell (one run each)")
                }
                out +=
                    "    " + Fmt.pad(m.metric, 10, right: false) + Fmt.pad(value(m, m.a), 15)
                    + Fmt.pad(value(m, m.b), 15) + Fmt.pad(change(m), 12) + "   "
                    + Fmt.pad(interval(m), 27, right: false) + verdict + "\n"
            }
        }
        return out + "\n" + style.dim(method) + "\n"
    }

    private func markdown(
        _ sections: [(String, [MetricComparison])],
        a: String,
        b: String,
        method: String,
        skipped: [String: ([String], String?)],
        warnings: [String]
    ) -> String {
        var out = "### Volley: \(a) → \(b)\n\n"
        for w in warnings { out += "> ⚠️ load shape differs: \(w)\n" }
        if !warnings.isEmpty { out += "\n" }
        let oneRunEach = sections.contains { $0.1.contains { $0.verdict == .cannotTell } }
        out +=
            "| requests | metric | \(a) | \(b) | change | \(oneRunEach ? "within-run " : "")95% interval | verdict |\n"
        out += "|---|---|---:|---:|---:|---|---|\n"
        for (name, metrics) in sections {
            if let (sides, reason) = skipped[name] {
                out += "| \(escape(name)) | — | | | | | \(escape(skippedText(sides, a: a, b: b, reason: reason))) |\n"
            }
            for m in metrics {
                let verdict: String
                switch m.verdict {
                case .better: verdict = "✅ better"
                case .worse: verdict = "❌ worse"
                case .noChange: verdict = "no significant change"
                case .insufficient: verdict = "not enough data"
                case .cannotTell: verdict = "cannot tell (one run each)"
                }
                out +=
                    "| \(escape(name)) | \(m.metric) | \(value(m, m.a)) | \(value(m, m.b)) | \(change(m)) | "
                    + "\(interval(m)) | \(verdict) |\n"
            }
        }
        return out + "\n_\(method)_\n"
    }

    private func skippedText(_ sides: [String], a: String, b: String, reason: String?) -> String {
        let names = sides.map { $0 == "a" ? a : b }.joined(separator: " and ")
        return "skipped in \(names)" + (reason.map { " (\($0))" } ?? "") + ": no latency to compare"
    }

    private func short(_ label: String) -> String { label.count <= 14 ? label : String(label.prefix(13)) + "…" }

    private func value(_ m: MetricComparison, _ x: Double) -> String {
        switch m.unit {
        case .points: return Fmt.fixed(x * 100, 2) + "%"
        case .relative: return m.metric.hasSuffix("ms") ? Fmt.ms(x) : Fmt.fixed(x, 1)
        }
    }

    private func change(_ m: MetricComparison) -> String {
        switch m.unit {
        case .points: return signed(m.change * 100, 2) + " pt"
        case .relative: return m.change.isFinite ? signed(m.change * 100, 1) + "%" : "new"
        }
    }

    private func interval(_ m: MetricComparison) -> String {
        guard let low = m.low, let high = m.high, low.isFinite, high.isFinite else { return "—" }
        switch m.unit {
        case .points: return "[" + signed(low * 100, 2) + ", " + signed(high * 100, 2) + "] pt"
        case .relative: return "[" + signed(low * 100, 1) + "%, " + signed(high * 100, 1) + "%]"
        }
    }

    private func signed(_ x: Double, _ decimals: Int) -> String {
        (x > 0 ? "+" : "") + Fmt.fixed(x, decimals)
    }

    private func escape(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
}
