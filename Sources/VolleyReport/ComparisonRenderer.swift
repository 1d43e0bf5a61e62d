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
        let effect = Fmt.fixed(c.minimumEffect * 100, 0)
        let method =
            "95% intervals: whole-run metrics by bootstrap over per-second values (2000 resamples); "
            + "per-name latency by order-statistic intervals from the HDR histograms, per-name errors by a "
            + "two-proportion z-test. Changes under \(effect)% (\(Fmt.fixed(c.minimumEffect * 25, 1)) points for "
            + "error rates), or whose interval includes 0, are called noise."
        switch format {
        case .markdown: return markdown(sections, a: a, b: b, method: method)
        case .terminal: return terminal(sections, a: a, b: b, method: method)
        }
    }

    private func terminal(_ sections: [(String, [MetricComparison])], a: String, b: String, method: String) -> String {
        var out = style.bold("Comparing \(a) → \(b)") + "\n\n"
        out +=
            "  " + Fmt.pad("", 12, right: false) + Fmt.pad(short(a), 15) + Fmt.pad(short(b), 15)
            + Fmt.pad("change", 12) + "   " + Fmt.pad("95% interval", 27, right: false) + "verdict\n"
        for (name, metrics) in sections {
            out += "  " + style.bold(name) + "\n"
            for m in metrics {
                let verdict: String
                switch m.verdict {
                case .better: verdict = style.green("better")
                case .worse: verdict = style.red("worse")
                case .noChange: verdict = style.dim("no significant change")
                case .insufficient: verdict = style.dim("not enough data")
                }
                out +=
                    "    " + Fmt.pad(m.metric, 10, right: false) + Fmt.pad(value(m, m.a), 15)
                    + Fmt.pad(value(m, m.b), 15) + Fmt.pad(change(m), 12) + "   "
                    + Fmt.pad(interval(m), 27, right: false) + verdict + "\n"
            }
        }
        return out + "\n" + style.dim(method) + "\n"
    }

    private func markdown(_ sections: [(String, [MetricComparison])], a: String, b: String, method: String) -> String {
        var out = "### Volley: \(a) → \(b)\n\n"
        out += "| requests | metric | \(a) | \(b) | change | 95% interval | verdict |\n"
        out += "|---|---|---:|---:|---:|---|---|\n"
        for (name, metrics) in sections {
            for m in metrics {
                let verdict: String
                switch m.verdict {
                case .better: verdict = "✅ better"
                case .worse: verdict = "❌ worse"
                case .noChange: verdict = "no significant change"
                case .insufficient: verdict = "not enough data"
                }
                out +=
                    "| \(escape(name)) | \(m.metric) | \(value(m, m.a)) | \(value(m, m.b)) | \(change(m)) | "
                    + "\(interval(m)) | \(verdict) |\n"
            }
        }
        return out + "\n_\(method)_\n"
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
