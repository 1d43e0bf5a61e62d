import VolleyCore

/// What the server said, in the report: error body excerpts beside their status, and the
/// captures that found nothing. Every excerpt is escaped: it is text the service chose.
extension HTMLReport {
    /// The sampled error bodies of one status, for the Outcomes table's detail column.
    static func errorSampleCell(_ s: RunSummary, _ code: String) -> String {
        guard let list = s.errorSamples?[code], !list.isEmpty else { return "" }
        return list.map { sample in
            let times = (sample.count ?? 1) > 1 ? " (×\(sample.count ?? 1))" : ""
            return "<div><code>\(HTML.escape(Excerpt.sanitize(sample.excerpt)))</code>\(times)</div>"
        }.joined()
    }

    /// A table of the captures that found nothing (plans), or nothing.
    static func captureFailureSection(_ s: RunSummary) -> String {
        guard let failures = s.captureFailureSamples, !failures.isEmpty else { return "" }
        var out =
            "<section><h2>Captures that found nothing</h2><table><thead><tr><th>request</th><th>capture</th>"
            + "<th>looked for</th><th>status</th><th>body</th></tr></thead><tbody>"
        for f in failures {
            out +=
                "<tr><td>\(HTML.escape(f.request))</td><td>\(HTML.escape(f.capture))</td>"
                + "<td>\(HTML.escape(f.source))</td><td>\(f.status)</td>"
                + "<td><code>\(HTML.escape(Excerpt.sanitize(f.excerpt)))</code></td></tr>"
        }
        return out + "</tbody></table></section>"
    }
}
