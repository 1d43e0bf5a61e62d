import VolleyCore

/// The report's phases section: the run's time per phase, the connection reuse rate, and for
/// plans each request name's phases, so a slow request shows whether its connection, its
/// handshake or the server's answer was slow.
extension HTMLReport {
    static func phasesSection(_ s: RunSummary) -> String {
        guard let phases = s.phases else { return "" }
        var out =
            "<section><h2>Phases</h2><p class=\"muted\">"
            + HTML.escape(SummaryRenderer.reuseText(phases))
            + ". A new connection's dns, connect and tls count against the request that opened it; "
            + "latency also holds the time a request waited for a connection, so it is not the sum of "
            + "the phases.</p><table><thead><tr><th>phase</th><th>count</th><th>mean ms</th><th>p50 ms</th>"
            + "<th>p90 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr></thead><tbody>"
        for phase in Phase.allCases {
            guard let p = phases[phase] else { continue }
            let values = [p.meanMs, p.p50Ms, p.p90Ms, p.p95Ms, p.p99Ms, p.maxMs]
            out +=
                "<tr><td>\(HTML.escape(SummaryRenderer.label(phase)))</td><td>\(Fmt.int(p.count))</td>"
                + values.map { "<td>\(Fmt.ms($0))</td>" }.joined() + "</tr>"
        }
        out += "</tbody></table>"
        let named = (s.requestsByName ?? []).filter { $0.phases != nil }
        if !named.isEmpty {
            out +=
                "<h3>p95 ms per phase, by request name</h3><table><thead><tr><th>name</th><th>reused</th>"
                + Phase.allCases.map { "<th>\(HTML.escape(SummaryRenderer.label($0)))</th>" }.joined()
                + "</tr></thead><tbody>"
            for n in named {
                guard let p = n.phases else { continue }
                out +=
                    "<tr><td>\(HTML.escape(n.name))</td><td>\(Fmt.percent(p.reuseRate))</td>"
                    + Phase.allCases.map { "<td>\(p[$0].map { Fmt.ms($0.p95Ms) } ?? "—")</td>" }.joined() + "</tr>"
            }
            out += "</tbody></table>"
        }
        return out + "</section>"
    }
}
