import VolleyAnalysis
import VolleyCore

/// `volley ab`'s decision as a table: per metric the per-round geometric means, the change
/// with its interval from the rounds, the verdict, and the rounds a ±5 % / ±10 % change needs.
public struct RoundComparisonRenderer: Sendable {
    public var style: Style

    public init(style: Style) { self.style = style }

    public func render(_ c: RoundComparison, a: String, b: String) -> String {
        var out = style.bold("\(b) against \(a), from \(c.rounds) round\(c.rounds == 1 ? "" : "s")") + "\n\n"
        out +=
            "  " + Fmt.pad("", 10, right: false) + Fmt.pad("change", 10) + "   "
            + Fmt.pad("95% interval", 24, right: false) + Fmt.pad("verdict", 24, right: false)
            + "rounds for ±5% / ±10%\n"
        var notes: [String] = []
        for m in c.metrics {
            let verdict: String
            switch m.verdict {
            case .better: verdict = style.green(Fmt.pad("better", 24, right: false))
            case .worse: verdict = style.red(Fmt.pad("worse", 24, right: false))
            case .noChange: verdict = style.dim(Fmt.pad("no significant change", 24, right: false))
            case .insufficient, .cannotTell: verdict = style.dim(Fmt.pad("no verdict", 24, right: false))
            }
            let rounds =
                m.roundsForFivePercent.map { "\(bound($0)) / \(bound(m.roundsForTenPercent ?? $0))" } ?? "—"
            out +=
                "    " + Fmt.pad(m.metric, 8, right: false) + Fmt.pad(change(m), 10) + "   "
                + Fmt.pad(interval(m), 24, right: false) + verdict + rounds + "\n"
            if let note = m.note { notes.append("\(m.metric): \(note)") }
        }
        for note in notes { out += "  " + style.yellow(note) + "\n" }
        out +=
            "\n"
            + style.dim(
                "Each round is one value per side; the interval is a paired t-interval on the per-round "
                    + "log ratios (error rates: differences in points), so drift between rounds is in it. "
                    + "Changes under \(Fmt.fixed(c.minimumEffect * 100, 0))%, or whose interval includes 0, "
                    + "are called noise. Rounds needed: 80% power at the spread seen (docs/history.md)."
            ) + "\n"
        return out
    }

    private func bound(_ n: Int) -> String { n >= 1_000 ? ">999" : String(n) }

    private func change(_ m: RoundMetric) -> String {
        guard let c = m.change, c.isFinite else { return "—" }
        return m.unit == .points ? signed(c * 100, 2) + " pt" : signed(c * 100, 1) + "%"
    }

    private func interval(_ m: RoundMetric) -> String {
        guard let low = m.low, let high = m.high, low.isFinite, high.isFinite else { return "—" }
        switch m.unit {
        case .points: return "[" + signed(low * 100, 2) + ", " + signed(high * 100, 2) + "] pt"
        case .relative: return "[" + signed(low * 100, 1) + "%, " + signed(high * 100, 1) + "%]"
        }
    }

    private func signed(_ x: Double, _ decimals: Int) -> String { (x > 0 ? "+" : "") + Fmt.fixed(x, decimals) }
}
