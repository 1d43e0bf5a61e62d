import Foundation
import Histogram
import VolleyAnalysis
import VolleyCore

/// Where a report's run came from: printed in its header.
public struct ReportContext: Sendable {
    public var runID: Int64?
    public var label: String?
    /// When the run started, already formatted (UTC).
    public var startedAt: String?
    /// Host, cores, Volley version.
    public var machine: String?
    public var command: String?
    public var gitCommit: String?

    public init(
        runID: Int64? = nil,
        label: String? = nil,
        startedAt: String? = nil,
        machine: String? = nil,
        command: String? = nil,
        gitCommit: String? = nil
    ) {
        self.runID = runID
        self.label = label
        self.startedAt = startedAt
        self.machine = machine
        self.command = command
        self.gitCommit = gitCommit
    }
}

/// The self-contained HTML report of one run: summary cards, charts with labelled axes
/// (latency, throughput and errors, connections over time; the latency distribution), and
/// the tables of the terminal summary. One file, no script, nothing fetched.
public enum HTMLReport {
    /// `samples`: individual requests (from `--out`) drawn as a scatter under the latency lines.
    public static func render(
        _ s: RunSummary,
        histograms: RunHistograms?,
        context: ReportContext,
        samples: [SamplePoint]? = nil
    ) -> String {
        var body = ""
        let title = s.plan.map { "plan \($0)" } ?? "\(s.method) \(s.target)"
        body += "<header><h1>\(HTML.escape(title))</h1><p class=\"meta\">"
        var meta: [String] = []
        if let id = context.runID { meta.append("run #\(id)") }
        if let label = context.label { meta.append("<strong>\(HTML.escape(label))</strong>") }
        if let at = context.startedAt { meta.append(HTML.escape(at)) }
        if let machine = context.machine { meta.append(HTML.escape(machine)) }
        if let commit = context.gitCommit { meta.append("git \(HTML.escape(String(commit.prefix(12))))") }
        meta.append(
            "model: \(HTML.escape(s.model))" + (s.connections.map { ", \($0) connections" } ?? "")
                + (s.rate.map { ", \(Fmt.fixed($0, 1)) req/s target" } ?? "")
        )
        body += meta.joined(separator: " · ") + "</p>"
        if let command = context.command { body += "<p class=\"command\"><code>\(HTML.escape(command))</code></p>" }
        body += "</header>"

        // Cards.
        body += "<section class=\"cards\">"
        body += card("requests", Fmt.int(s.requests), "\(Fmt.int(s.completed)) completed · \(Fmt.int(s.failed)) failed")
        body += card("throughput", Fmt.fixed(s.rps, 1) + " req/s", "over " + Fmt.seconds(s.durationS))
        body += card("p50 latency", Fmt.ms(s.latencyMs.p50) + " ms", "mean " + Fmt.ms(s.latencyMs.mean) + " ms")
        body += card("p99 latency", Fmt.ms(s.latencyMs.p99) + " ms", "max " + Fmt.ms(s.latencyMs.max) + " ms")
        body += card(
            "errors",
            Fmt.percent(s.errorRate),
            "\(Fmt.int(s.errors)) of \(Fmt.int(s.requests))",
            bad: s.errorRate > 0.01
        )
        if let thresholds = s.thresholds, !thresholds.isEmpty {
            let failed = thresholds.filter { !$0.passed }.count
            body += card(
                "thresholds",
                failed == 0 ? "all pass" : "\(failed) failed",
                "\(thresholds.count) in the plan",
                bad: failed > 0
            )
        }
        body += "</section>"
        body += diagnosisSection(s)

        // Charts over time.
        let t = s.timeline
        let span = max(s.durationS, t.last?.t ?? 0)
        body += "<section>"
        func timeChart(_ chart: SVGChart) -> String {
            var chart = chart
            chart.xMin = 0
            chart.xMax = span
            return chart.render()
        }
        var scatter: [SVGChart.Series] = []
        if let samples, !samples.isEmpty {
            scatter = [
                .init(
                    "requests",
                    color: "#868e96",
                    kind: .dots,
                    points: samples.filter { !$0.failed }.map { ($0.t, $0.latencyMs) }
                ),
                .init(
                    "failed",
                    color: "#e03131",
                    kind: .dots,
                    points: samples.filter(\.failed).map { ($0.t, $0.latencyMs) }
                ),
            ].filter { !$0.points.isEmpty }
        }
        body += timeChart(
            SVGChart(
                title: scatter.isEmpty ? "Latency over time" : "Latency over time, with individual requests",
                xLabel: "time into test (s)",
                yLabel: "latency (ms)",
                series: scatter + [
                    .init("p50", color: "#2b8a3e", points: t.map { ($0.t, $0.latencyMs.p50) }),
                    .init("p90", color: "#e67700", points: t.map { ($0.t, $0.latencyMs.p90) }),
                    .init("p99", color: "#c92a2a", points: t.map { ($0.t, $0.latencyMs.p99) }),
                ]
            )
        )
        body += timeChart(
            SVGChart(
                title: "Throughput and errors over time",
                xLabel: "time into test (s)",
                yLabel: "per second",
                series: [
                    .init("errors/s", color: "#c92a2a", kind: .bars, points: t.map { ($0.t, Double($0.errors)) }),
                    .init("requests/s", color: "#1c7ed6", points: t.map { ($0.t, $0.rps) }),
                ]
            )
        )
        var concurrency: [SVGChart.Series] = [
            .init("connections", color: "#5f3dc4", points: t.map { ($0.t, Double($0.connections)) }),
            .init("in flight", color: "#0b7285", points: t.map { ($0.t, Double($0.inFlight)) }),
        ]
        if t.contains(where: { $0.vus != nil }) {
            concurrency.insert(.init("VUs", color: "#2b8a3e", points: t.map { ($0.t, Double($0.vus ?? 0)) }), at: 0)
        }
        if t.contains(where: { $0.waiting > 0 }) {
            concurrency.append(.init("waiting", color: "#e67700", points: t.map { ($0.t, Double($0.waiting)) }))
        }
        body += timeChart(
            SVGChart(
                title: (t.contains { $0.vus != nil } ? "VUs, connections" : "Connections") + " and requests in flight",
                xLabel: "time into test (s)",
                yLabel: "count",
                series: concurrency
            )
        )
        body += serverSideCharts(s, chart: timeChart)
        body += percentileChart(s, histograms: histograms)
        body += "</section>"

        // Tables.
        if let named = s.requestsByName, !named.isEmpty {
            body +=
                "<section><h2>Requests by name</h2><table><thead><tr><th>name</th><th>requests</th>"
                + "<th>req/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th>"
                + "<th>skipped</th></tr></thead><tbody>"
            for r in named {
                body +=
                    "<tr><td>\(HTML.escape(r.name))</td><td>\(Fmt.int(r.requests))</td><td>\(Fmt.fixed(r.rps, 1))</td>"
                    + "<td>\(Fmt.ms(r.latencyMs.p50))</td><td>\(Fmt.ms(r.latencyMs.p90))</td><td>\(Fmt.ms(r.latencyMs.p99))</td>"
                    + "<td>\(Fmt.ms(r.latencyMs.max))</td><td class=\"\(r.errorRate > 0 ? "bad" : "")\">\(Fmt.percent(r.errorRate))</td>"
                    + "<td>\(r.skipped > 0 ? "\(Fmt.int(r.skipped)) (\(HTML.escape(r.skipReason ?? "")))" : "0")</td></tr>"
            }
            body += "</tbody></table></section>"
        }
        body += distributedSection(s)
        body += phasesSection(s)
        body +=
            "<section><h2>Outcomes</h2><table><thead><tr><th>status or error</th><th>count</th><th>share</th>"
            + "<th>detail</th></tr></thead><tbody>"
        let total = max(1, s.requests)
        for (code, count) in s.status.sorted(by: { $0.key < $1.key }) {
            let bad = (Int(code) ?? 0) >= 400
            body +=
                "<tr><td class=\"\(bad ? "bad" : "")\">HTTP \(HTML.escape(code))</td><td>\(Fmt.int(count))</td>"
                + "<td>\(Fmt.percent(Double(count) / Double(total)))</td><td>\(errorSampleCell(s, code))</td></tr>"
        }
        for (kind, count) in s.transportErrors.sorted(by: { $0.key < $1.key }) {
            body +=
                "<tr><td class=\"bad\">\(HTML.escape(kind))</td><td>\(Fmt.int(count))</td>"
                + "<td>\(Fmt.percent(Double(count) / Double(total)))</td>"
                + "<td>\(HTML.escape(s.transportErrorSamples[kind] ?? ""))</td></tr>"
        }
        if let retries = s.retries, retries > 0 {
            // Not outcomes of their own: each retried request is counted above with the
            // outcome of its second attempt. Shown so that nothing is hidden.
            body +=
                "<tr><td>retried once</td><td>\(Fmt.int(retries))</td><td></td><td>sent again on a new connection: "
                + "\(Fmt.int(s.reconnects ?? 0)) keep-alive connections were closed by the server without "
                + "Connection: close (counted above by their second attempt)</td></tr>"
        }
        body += "</tbody></table></section>"
        body += captureFailureSection(s)
        body += decodingSection(s)

        if let checks = s.checks, !checks.isEmpty {
            body +=
                "<section><h2>Checks</h2><table><thead><tr><th></th><th>check</th><th>passed</th><th>failed</th>"
                + "</tr></thead><tbody>"
            for c in checks {
                body +=
                    "<tr><td class=\"\(c.fails == 0 ? "good" : "bad")\">\(c.fails == 0 ? "✓" : "✗")</td>"
                    + "<td>\(HTML.escape(c.name))</td><td>\(Fmt.int(c.passes))</td><td>\(Fmt.int(c.fails))</td></tr>"
            }
            body += "</tbody></table></section>"
        }
        if let thresholds = s.thresholds, !thresholds.isEmpty {
            body += "<section><h2>Thresholds</h2>"
            if let abortedBy = s.abortedBy {
                body +=
                    "<p class=\"bad\">Stopped early: threshold \"\(HTML.escape(abortedBy))\" failed "
                    + "(abort_on_fail).</p>"
            }
            body +=
                "<table><thead><tr><th></th><th>threshold</th><th>request</th>"
                + "<th>actual</th></tr></thead><tbody>"
            for th in thresholds {
                body +=
                    "<tr><td class=\"\(th.passed ? "good" : "bad")\">\(th.passed ? "✓" : "✗")</td>"
                    + "<td>\(HTML.escape(th.expression))</td><td>\(HTML.escape(th.request ?? "all"))</td>"
                    + "<td>\(th.actual.map { Fmt.fixed($0, $0 < 1 ? 4 : 2) } ?? "nothing measured")</td></tr>"
            }
            body += "</tbody></table></section>"
        }
        if !s.slowest.isEmpty {
            body +=
                "<section><h2>Slowest requests</h2><p class=\"muted\">Find them in the server's logs by their "
                + "request id.</p><table><thead><tr><th>latency ms</th><th>outcome</th><th>request id</th>"
                + "<th>at (s)</th></tr></thead><tbody>"
            for r in s.slowest {
                body +=
                    "<tr><td>\(Fmt.ms(r.latencyMs))</td><td>\(r.status.map { "HTTP \($0)" } ?? HTML.escape(r.error ?? ""))</td>"
                    + "<td><code>\(HTML.escape(r.requestID))</code></td><td>\(Fmt.fixed(r.atS, 2))</td></tr>"
            }
            body += "</tbody></table></section>"
        }
        body +=
            "<footer>Volley \(HTML.escape(s.volleyVersion)) · latency "
            + (s.model == "open" ? "from each request's intended send time" : "from each request's send")
            + " · percentiles from HDR histograms</footer>"
        return page(title: title, body: body)
    }

    /// The findings, first thing after the cards: the report's answer to "where is the
    /// bottleneck", with the evidence to check it against the charts below.
    static func diagnosisSection(_ s: RunSummary) -> String {
        diagnosisSection(s.findings ?? [], probed: s.readServerSide)
    }

    /// The findings as a section (a run's, a sweep's levels read together): title, severity,
    /// statement, evidence lines and the next step. Empty when nothing was probed and nothing
    /// found; `note` says where the findings came from when that is not obvious.
    package static func diagnosisSection(_ findings: [Finding], probed: Bool, note: String? = nil) -> String {
        guard !findings.isEmpty || probed else { return "" }
        var out = "<section class=\"diagnosis\"><h2>Diagnosis</h2>"
        if let note { out += "<p class=\"muted\">\(HTML.escape(note))</p>" }
        if !findings.isEmpty { out += "<p class=\"muted\">Severity: ✗ critical · ! warning · i information</p>" }
        if findings.isEmpty {
            out += "<p class=\"good\">✓ No bottleneck found: no probed series reached a limit.</p>"
        }
        for f in findings {
            let (css, mark) =
                f.severity == .critical ? ("bad", "✗") : f.severity == .warning ? ("warn", "!") : ("", "i")
            out +=
                "<div class=\"finding\" data-finding=\"\(HTML.escape(f.id.rawValue))\"><h3 class=\"\(css)\">"
                + "\(mark) \(HTML.escape(f.title))</h3><p>\(HTML.escape(f.statement))</p><ul>"
            for e in f.evidence { out += "<li>\(HTML.escape(e))</li>" }
            out += "</ul><p class=\"next\"><strong>Next:</strong> \(HTML.escape(f.next))</p></div>"
        }
        return out + "</section>"
    }

    /// Volley's own CPU and loop lag, the health watch, and every probe series that moved,
    /// each on the run's time axis.
    static func serverSideCharts(_ s: RunSummary, chart timeChart: (SVGChart) -> String) -> String {
        var out = ""
        let t = s.timeline
        if t.contains(where: { $0.generatorCPUPercent != nil }) {
            out += timeChart(
                SVGChart(
                    title: "Volley itself: CPU of its event loops and their lag",
                    xLabel: "time into test (s)",
                    yLabel: "% of a core · ms",
                    series: [
                        .init(
                            "busiest loop CPU %",
                            color: "#5f3dc4",
                            points: t.compactMap { e in e.loopCPUMaxPercent.map { (e.t, $0) } }
                        ),
                        .init(
                            "machine CPU %",
                            color: "#868e96",
                            points: t.compactMap { e in e.hostCPUPercent.map { (e.t, $0) } }
                        ),
                        .init(
                            "loop lag ms",
                            color: "#e67700",
                            points: t.compactMap { e in e.loopLagMs.map { (e.t, $0) } }
                        ),
                    ].filter { !$0.points.isEmpty }
                )
            )
        }
        if let h = s.health, !h.polls.isEmpty {
            var title = "Readiness \(h.url): poll latency"
            if let down = h.transitions.first(where: { !$0.ready }) {
                title += " — unready at \(Fmt.fixed(down.t, 1)) s"
            }
            var chart = SVGChart(
                title: title,
                xLabel: "time into test (s)",
                yLabel: "ms",
                series: [
                    .init(
                        "ok",
                        color: "#2b8a3e",
                        kind: .dots,
                        points: h.polls.filter(\.ok).map { ($0.t, $0.latencyMs ?? 0) }
                    ),
                    .init(
                        "failed",
                        color: "#e03131",
                        kind: .dots,
                        points: h.polls.filter { !$0.ok }.map { ($0.t, $0.latencyMs ?? 0) }
                    ),
                    .init(
                        "timeout",
                        color: "#868e96",
                        points: [(0, h.timeoutS * 1000), (max(s.durationS, h.polls.last?.t ?? 0), h.timeoutS * 1000)]
                    ),
                ].filter { !$0.points.isEmpty }
            )
            chart.height = 200
            out += timeChart(chart)
        }
        out += probeCharts(s.probes ?? [], chart: timeChart)
        return out
    }

    /// One chart per probe series that moved (the ones the diagnosis reads first), at most
    /// `perProbe` per probe and `total` in all; a note counts the rest. The run report and the
    /// sweep report (series laid end to end across levels, `xMarks` at the level boundaries)
    /// both draw probes through this.
    package static func probeCharts(
        _ probes: [ProbeResult],
        perProbe: Int = 8,
        total: Int = .max,
        xLabel: String = "time into test (s)",
        xMarks: [(Double, String)] = [],
        chart timeChart: (SVGChart) -> String
    ) -> String {
        var out = ""
        var drawn = 0
        let palette = ["#1c7ed6", "#e67700", "#2b8a3e", "#c92a2a", "#5f3dc4", "#0b7285"]
        for probe in probes {
            // Series that moved, the most relevant first: the ones the diagnosis reads, then by name.
            let moving = probe.series.filter { name, points in
                let values = points.map { $0[1] }
                guard let lo = values.min(), let hi = values.max() else { return false }
                // A series the diagnosis reads is drawn even when flat (a pool at its limit the
                // whole run), unless it stayed at zero: an empty chart says nothing.
                return (hi > lo || (rank(name) == 0 && hi != 0)) && !name.contains("_bucket")
            }.keys.sorted { (rank($0), $0) < (rank($1), $1) }
            let shown = moving.prefix(max(0, min(perProbe, total - drawn)))
            for (i, name) in shown.enumerated() {
                var chart = SVGChart(
                    title: "\(probe.probe) · \(name)",
                    xLabel: xLabel,
                    yLabel: "",
                    series: [
                        .init(
                            name,
                            color: palette[i % palette.count],
                            points: (probe.series[name] ?? []).map { ($0[0], $0[1]) }
                        )
                    ]
                )
                chart.height = 170
                chart.xMarks = xMarks
                out += "<div class=\"probe-chart\" data-series=\"\(HTML.escape(name))\">" + timeChart(chart) + "</div>"
            }
            drawn += shown.count
            if moving.count > shown.count {
                out +=
                    "<p class=\"muted\">\(HTML.escape(probe.probe)): \(moving.count - shown.count) more series moved; "
                out += "all are in the JSON summary.</p>"
            }
        }
        return out
    }

    /// Series the diagnosis reads come first in the report; labelled Prometheus series last.
    static func rank(_ name: String) -> Int {
        let key = [
            "checked_out", "waiting", "workers_busy", "queue", "cpu_percent", "rss_bytes", "memory_bytes",
            "connections.", "dead_tuples", "autovacuum", "used_memory", "timeouts_total", "log_seconds",
        ]
        if key.contains(where: { name.contains($0) }) { return 0 }
        return name.contains("{") ? 2 : 1
    }

    static func card(_ name: String, _ value: String, _ detail: String, bad: Bool = false) -> String {
        "<div class=\"card\(bad ? " bad" : "")\"><div class=\"card-name\">\(HTML.escape(name))</div>"
            + "<div class=\"card-value\">\(HTML.escape(value))</div><div class=\"card-detail\">\(HTML.escape(detail))</div></div>"
    }

    /// Latency by percentile, on an axis stretched towards the tail (x = −log10(1 − p)), so
    /// that 99 % and 99.9 % are as readable as the median.
    static func percentileChart(_ s: RunSummary, histograms: RunHistograms?) -> String {
        var points: [(x: Double, y: Double)] = []
        if let h = histograms?.latency, h.totalCount > 0 {
            var x = 0.0
            while x <= 4.0001 {
                let p = (1 - pow(10, -x)) * 100
                points.append((x, Double(h.valueAtPercentile(p)) / 1000))
                x += 0.05
            }
        } else {
            let l = s.latencyMs
            points = [(0, l.min), (log(50), l.p50), (1, l.p90), (log(95), l.p95), (2, l.p99), (3, l.p999)]
        }
        var chart = SVGChart(
            title: "Latency distribution",
            xLabel: "percentile",
            yLabel: "latency (ms)",
            series: [.init("latency", color: "#1c7ed6", points: points)]
        )
        chart.xTicks = [(0, "0%"), (log(50), "50%"), (1, "90%"), (2, "99%"), (3, "99.9%"), (4, "99.99%")]
        return chart.render()
    }

    /// x for percentile p: −log10(1 − p/100).
    static func log(_ p: Double) -> Double { -Foundation.log10(1 - p / 100) }

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Volley report · \(HTML.escape(title))</title>
        <style>
        body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
               margin: 0 auto; max-width: 980px; padding: 24px; color: #212529; background: #fff; }
        h1 { font-size: 22px; margin: 0 0 4px; word-break: break-all; }
        h2 { font-size: 16px; margin: 28px 0 8px; }
        .meta, .muted, footer { color: #666; }
        .command code { background: #f1f3f5; padding: 2px 6px; border-radius: 4px; word-break: break-all; }
        .cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 20px 0; }
        .card { border: 1px solid #dee2e6; border-radius: 8px; padding: 10px 14px; min-width: 130px; }
        .card.bad { border-color: #c92a2a; }
        .card-name { color: #666; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
        .card-value { font-size: 22px; font-weight: 600; }
        .card.bad .card-value { color: #c92a2a; }
        .card-detail { color: #666; font-size: 12px; }
        svg.chart { width: 100%; height: auto; margin: 12px 0; }
        .chart-title { font-size: 14px; font-weight: 600; fill: #212529; }
        .grid { stroke: #e9ecef; } .axis { stroke: #868e96; }
        .tick, .legend { font-size: 11px; fill: #495057; } .axis-label { font-size: 12px; fill: #495057; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e9ecef; }
        th { font-weight: 600; color: #495057; }
        td.bad { color: #c92a2a; } td.good { color: #2b8a3e; }
        p.bad { color: #c92a2a; font-weight: 600; }
        .finding h3 { margin: 0.8em 0 0.2em; font-size: 1.05em; } .finding h3.bad { color: #c92a2a; }
        .finding h3.warn { color: #e67700; } .finding ul { margin: 0.3em 0; } .finding .next { color: #1c7ed6; }
        p.good { color: #2b8a3e; }
        footer { margin-top: 32px; font-size: 12px; }
        </style></head>
        <body>
        \(body)
        </body></html>

        """
    }
}
