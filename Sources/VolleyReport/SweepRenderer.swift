import VolleyAnalysis
import VolleyCore

/// The table our users built by hand from JMeter runs — level, average, median, p95, p99,
/// throughput per second and per minute, errors by class — then the analysis in words.
public struct SweepRenderer: Sendable {
    public var style: Style
    public var levelName: String

    public init(style: Style, levelName: String = "conns") {
        self.style = style
        self.levelName = levelName
    }

    public var header: String {
        "  " + Fmt.pad(levelName, 7) + Fmt.pad("rep", 5) + Fmt.pad("avg ms", 10) + Fmt.pad("median", 10)
            + Fmt.pad("p95 ms", 10) + Fmt.pad("p99 ms", 10) + Fmt.pad("req/s", 11) + Fmt.pad("req/min", 11)
            + "   errors\n"
    }

    public func row(_ r: SweepRun, summary: Bool = false) -> String {
        let errors =
            r.errors.isEmpty
            ? "—"
            : r.errors.sorted { $0.value > $1.value }.map { "\($0.key): \(Fmt.int($0.value))" }.joined(separator: ", ")
        let level = r.level == r.level.rounded() ? Fmt.int(Int(r.level)) : Fmt.fixed(r.level, 1)
        let line =
            "  " + Fmt.pad(level, 7) + Fmt.pad(summary ? "mean" : String(r.repeatIndex + 1), 5)
            + Fmt.pad(Fmt.ms(r.meanMs), 10) + Fmt.pad(Fmt.ms(r.p50Ms), 10) + Fmt.pad(Fmt.ms(r.p95Ms), 10)
            + Fmt.pad(Fmt.ms(r.p99Ms), 10) + Fmt.pad(Fmt.fixed(r.rps, 1), 11)
            + Fmt.pad(Fmt.int(Int((r.rps * 60).rounded())), 11)
            + "   " + (r.errors.isEmpty ? errors : style.red(errors))
        return (summary ? style.bold(line) : line) + "\n"
    }

    public func analysis(_ a: SweepAnalysis) -> String {
        var out = "\n" + style.bold("What the sweep shows") + "\n"
        for line in a.verdict { out += "  • " + line + "\n" }
        if !a.littlesLaw.isEmpty {
            out +=
                style.dim(
                    "  Little's law X·R/N by level: "
                        + zip(a.levels, a.littlesLaw).map { "\(Fmt.int(Int($0.0.level)))→\(Fmt.fixed($0.1, 2))" }
                        .joined(separator: "  ")
                ) + "\n"
        }
        return out
    }
}
