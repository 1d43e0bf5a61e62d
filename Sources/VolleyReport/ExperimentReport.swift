import VolleyAnalysis
import VolleyCore

/// HTML reports of experiments: a sweep's throughput and latency against load with the knee
/// marked, and a matrix's outcome percentages as heat tables. Self-contained like run reports.
public enum ExperimentReport {
    /// `runs`: the saved run of each level in the order they ran, labelled ("c8 r1"), for the
    /// probe series across levels; `findingsNote` says where the findings came from when they
    /// were not saved with the sweep.
    public static func sweep(
        _ r: SweepResult,
        id: Int64?,
        context: ReportContext,
        runs: [(label: String, summary: RunSummary)] = [],
        findingsNote: String? = nil
    ) -> String {
        let unit = r.closedModel ? "connections" : "offered rate (req/s)"
        let levels = r.analysis.levels
        var body = header("Sweep of \(r.target)", id: id, context: context)
        body += "<section class=\"cards\">"
        if let knee = r.analysis.knee {
            body += HTMLReport.card(
                "knee",
                "\(SweepAnalysis.format(knee.level)) \(r.closedModel ? "conns" : "req/s")",
                "≈ \(Fmt.fixed(knee.goodput, 0)) ok/s"
            )
        } else {
            body += HTMLReport.card("knee", "not reached", "throughput still growing")
        }
        if let peak = levels.max(by: { $0.goodput < $1.goodput }) {
            body += HTMLReport.card(
                "best throughput",
                Fmt.fixed(peak.goodput, 1) + " ok/s",
                "at \(SweepAnalysis.format(peak.level))"
            )
        }
        if let usl = r.analysis.usl {
            body += HTMLReport.card("contention σ", Fmt.fixed(usl.sigma, 3), "coherency κ " + Fmt.fixed(usl.kappa, 5))
        }
        body += "</section>"

        var throughput: [SVGChart.Series] = [
            .init("ok/s", color: "#1c7ed6", points: levels.map { ($0.level, $0.goodput) }),
            .init("runs", color: "#1c7ed6", kind: .dots, points: r.runs.map { ($0.level, $0.goodput) }),
        ]
        if let usl = r.analysis.usl, let last = levels.last {
            var curve: [(x: Double, y: Double)] = []
            var n = 1.0
            while n <= last.level * 1.05 {
                curve.append((n, usl.throughput(at: n)))
                n += max(0.25, last.level / 120)
            }
            throughput.append(.init("USL fit", color: "#868e96", points: curve))
        }
        if let knee = r.analysis.knee {
            throughput.append(.init("knee", color: "#e03131", kind: .marker, points: [(knee.level, knee.goodput)]))
        }
        body += "<section>"
        body += SVGChart(
            title: "Throughput against load",
            xLabel: unit,
            yLabel: "successful requests/s",
            series: throughput
        ).render()
        var latency: [SVGChart.Series] = [
            .init("p50", color: "#2b8a3e", points: levels.map { ($0.level, $0.p50Ms) }),
            .init("p95", color: "#e67700", points: levels.map { ($0.level, $0.p95Ms) }),
            .init("p99", color: "#c92a2a", points: levels.map { ($0.level, $0.p99Ms) }),
        ]
        if let knee = r.analysis.knee {
            latency.append(.init("knee", color: "#e03131", kind: .marker, points: [(knee.level, knee.p50AtKnee)]))
        }
        body += SVGChart(title: "Latency against load", xLabel: unit, yLabel: "latency (ms)", series: latency).render()
        body += "</section>"
        // The findings printed at the end of the sweep (saved with it), then the series they read.
        body += HTMLReport.diagnosisSection(
            r.findings ?? [],
            probed: runs.contains { $0.summary.readServerSide },
            note: findingsNote ?? "The levels read as one stepped load, as the sweep printed them."
        )
        body += serverSideAcross(runs, what: "levels")

        body += "<section><h2>What the sweep shows</h2><ul>"
        for line in r.analysis.verdict { body += "<li>\(HTML.escape(line))</li>" }
        body += "</ul></section>"
        body +=
            "<section><h2>Levels</h2><table><thead><tr><th>level</th><th>run</th><th>avg ms</th><th>median</th>"
            + "<th>p95 ms</th><th>p99 ms</th><th>req/s</th><th>req/min</th><th>errors</th></tr></thead><tbody>"
        for run in r.runs {
            let errors =
                run.errors.isEmpty
                ? "—" : run.errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            body +=
                "<tr><td>\(SweepAnalysis.format(run.level))</td><td>\(run.runID.map { "#\($0)" } ?? "r\(run.repeatIndex + 1)")</td>"
                + "<td>\(Fmt.ms(run.meanMs))</td><td>\(Fmt.ms(run.p50Ms))</td><td>\(Fmt.ms(run.p95Ms))</td>"
                + "<td>\(Fmt.ms(run.p99Ms))</td><td>\(Fmt.fixed(run.rps, 1))</td><td>\(Fmt.int(Int((run.rps * 60).rounded())))</td>"
                + "<td class=\"\(run.errors.isEmpty ? "" : "bad")\">\(HTML.escape(errors))</td></tr>"
        }
        body += "</tbody></table></section>"
        return HTMLReport.page(title: "sweep \(r.target)", body: body + footer())
    }

    /// `runs`: the saved run of each cell in the order they ran, for the probe series.
    public static func matrix(
        _ r: MatrixResult,
        id: Int64?,
        target: String,
        context: ReportContext,
        runs: [(label: String, summary: RunSummary)] = []
    ) -> String {
        var body = header("Matrix against \(target)", id: id, context: context)
        if let findings = r.findings {
            body += HTMLReport.diagnosisSection(
                findings,
                probed: runs.contains { $0.summary.readServerSide },
                note: "The cells read as one stepped load, in the order they ran."
            )
        }
        let counts = Array(Set(r.cells.map(\.count))).sorted()
        for count in counts {
            body +=
                "<section><h2>\(count) requests per route</h2>"
                + heatTable(r.cells.filter { $0.count == count }.map { ($0.offset, $0) }) + "</section>"
        }
        body +=
            "<section><h2>Overall</h2>"
            + heatTable((r.offsets ?? []).map { ($0.offset, $0) } + [("all", r.overall)]) + "</section>"
        body +=
            "<section><h2>Per route</h2>"
            + heatTable(r.routes.map { ($0.route ?? "?", $0) } + [("all routes combined", r.overall)]) + "</section>"
        body += serverSideAcross(runs, what: "cells")
        return HTMLReport.page(title: "matrix \(target)", body: body + footer())
    }

    public static func findMax(_ r: MaxRateResult, id: Int64?, context: ReportContext) -> String {
        var body = header("Highest rate of \(r.target) meeting \(r.slo)", id: id, context: context)
        body += "<section class=\"cards\">"
        body += HTMLReport.card(
            "answer",
            r.passed.map { "≈ \(Fmt.fixed($0, 0)) req/s" } ?? "none",
            r.failed.map { "failed at \(Fmt.fixed($0, 0)) req/s" } ?? "no failing step",
            bad: r.passed == nil
        )
        body += HTMLReport.card("steps", String(r.steps.count), r.slo.description)
        body += "</section><section>"
        let ordered = r.steps.sorted { $0.rate < $1.rate }
        var rates: [SVGChart.Series] = [
            .init("achieved", color: "#1c7ed6", points: ordered.map { ($0.rate, $0.achieved) }),
            .init("target", color: "#adb5bd", points: ordered.map { ($0.rate, $0.rate) }),
        ]
        if let p = r.passed, let step = ordered.first(where: { $0.rate == p }) {
            rates.append(.init("answer", color: "#2b8a3e", kind: .marker, points: [(p, step.achieved)]))
        }
        body += SVGChart(
            title: "Achieved against target rate",
            xLabel: "target rate (req/s)",
            yLabel: "achieved (req/s)",
            series: rates
        ).render()
        var latency: [SVGChart.Series] = [
            .init("p50", color: "#2b8a3e", points: ordered.map { ($0.rate, $0.p50Ms) }),
            .init("p99", color: "#c92a2a", points: ordered.map { ($0.rate, $0.p99Ms) }),
        ]
        if let limit = r.slo.conditions.first(where: { $0.metric == "p99" })?.limit, let first = ordered.first,
            let last = ordered.last
        {
            latency.append(.init("p99 limit", color: "#e03131", points: [(first.rate, limit), (last.rate, limit)]))
        }
        body += SVGChart(
            title: "Latency against rate",
            xLabel: "target rate (req/s)",
            yLabel: "latency (ms)",
            series: latency
        ).render()
        body +=
            "</section><section><h2>Steps, in the order they ran</h2><table><thead><tr><th>step</th><th>target/s</th>"
            + "<th>achieved/s</th><th>p50 ms</th><th>p99 ms</th><th>errors</th><th>SLO</th><th>run</th></tr></thead><tbody>"
        for (i, step) in r.steps.enumerated() {
            body +=
                "<tr><td>\(i + 1)</td><td>\(Fmt.fixed(step.rate, 0))</td><td>\(Fmt.fixed(step.achieved, 1))</td>"
                + "<td>\(Fmt.ms(step.p50Ms))</td><td>\(Fmt.ms(step.p99Ms))</td><td>\(Fmt.percent(step.errorRate))</td>"
                + "<td class=\"\(step.met ? "good" : "bad")\">\(step.met ? "✓" : "✗ " + HTML.escape(step.why))</td>"
                + "<td>\(step.runID.map { "#\($0)" } ?? "")</td></tr>"
        }
        body += "</tbody></table></section>"
        return HTMLReport.page(title: "find-max \(r.target)", body: body + footer())
    }

    public static func timing(_ r: TimingResult, id: Int64?, context: ReportContext) -> String {
        var body = header("Serial timing of \(r.url)", id: id, context: context)
        body += "<section class=\"cards\">"
        body += HTMLReport.card(
            "best of \(r.repeats.count)",
            Fmt.fixed(r.bestMs, 3) + " ms",
            "per request, \(r.number) per repeat"
        )
        body += HTMLReport.card("mean", Fmt.fixed(r.meanMs, 3) + " ms", "worst " + Fmt.fixed(r.worstMs, 3) + " ms")
        body += "</section><section>"
        body += SVGChart(
            title: "Time per request, by repeat",
            xLabel: "repeat",
            yLabel: "ms per request",
            series: [
                .init(
                    "per request",
                    color: "#1c7ed6",
                    kind: .bars,
                    points: r.repeats.enumerated().map { (Double($0.offset + 1), $0.element.perRequestMs) }
                )
            ]
        ).render()
        body +=
            "<table><thead><tr><th>repeat</th><th>total ms</th><th>ms per request</th><th>p99 ms</th><th>run</th></tr>"
            + "</thead><tbody>"
        for (i, rep) in r.repeats.enumerated() {
            body +=
                "<tr><td>\(i + 1)</td><td>\(Fmt.fixed(rep.totalMs, 2))</td><td>\(Fmt.fixed(rep.perRequestMs, 3))</td>"
                + "<td>\(Fmt.ms(rep.p99Ms))</td><td>\(rep.runID.map { "#\($0)" } ?? "")</td></tr>"
        }
        body += "</tbody></table></section>"
        return HTMLReport.page(title: "time \(r.url)", body: body + footer())
    }

    /// Outcome percentages with the cell's background as strong as the share: green for
    /// success, red for everything else.
    static func heatTable(_ rows: [(String, MatrixCell)]) -> String {
        var out =
            "<table class=\"heat\"><thead><tr><th></th><th>requests</th><th>success</th><th>no response</th>"
            + "<th>4xx</th><th>5xx</th><th>other</th><th>fastest ms</th><th>median ms</th><th>mean ms</th>"
            + "<th>slowest ms</th>"
            + "</tr></thead><tbody>"
        for (label, cell) in rows {
            out += "<tr><th>\(HTML.escape(label))</th><td>\(Fmt.int(cell.requests))</td>"
            for category in MatrixCell.categories {
                let share = cell.outcomes[category] ?? 0
                let alpha = Fmt.fixed(min(1, share / 100) * 0.85, 2)
                let color = category == "success" ? "43,138,62" : "201,42,42"
                out += "<td style=\"background: rgba(\(color),\(alpha))\">\(Fmt.fixed(share, 1))%</td>"
            }
            out +=
                "<td>\(Fmt.ms(cell.fastestMs))</td><td>\(Fmt.ms(cell.medianMs))</td><td>\(Fmt.ms(cell.meanMs))</td>"
                + "<td>\(Fmt.ms(cell.slowestMs))</td></tr>"
        }
        return out + "</tbody></table>"
    }

    /// The probe series of an experiment's runs laid end to end, one chart per series (at most
    /// 12, the ones that moved), with a dashed line where each run starts.
    static func serverSideAcross(_ runs: [(label: String, summary: RunSummary)], what: String) -> String {
        let (probes, starts) = RunSummary.probesEndToEnd(runs.map(\.summary))
        guard !probes.isEmpty else { return "" }
        let end = (starts.last ?? 0) + (runs.last?.summary.span ?? 0)
        let marks = zip(starts, runs).map { ($0, $1.label) }
        let charts = HTMLReport.probeCharts(
            probes,
            perProbe: 12,
            total: 12,
            xLabel: "time into the experiment (s), \(what) end to end",
            xMarks: marks
        ) { chart in
            var chart = chart
            chart.xMin = 0
            chart.xMax = end
            return chart.render()
        }
        return "<section class=\"probes\"><h2>Server side across the \(what)</h2>" + charts + "</section>"
    }

    static func header(_ title: String, id: Int64?, context: ReportContext) -> String {
        var meta: [String] = []
        if let id { meta.append("experiment E\(id)") }
        if let label = context.label { meta.append("<strong>\(HTML.escape(label))</strong>") }
        if let at = context.startedAt { meta.append(HTML.escape(at)) }
        var out = "<header><h1>\(HTML.escape(title))</h1><p class=\"meta\">\(meta.joined(separator: " · "))</p>"
        if let command = context.command { out += "<p class=\"command\"><code>\(HTML.escape(command))</code></p>" }
        return out + "</header>"
    }

    static func footer() -> String { "<footer>Volley · every level is a saved run (see volley history)</footer>" }
}
