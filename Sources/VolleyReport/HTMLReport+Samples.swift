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

    /// Compressed bodies that checks and captures read: how many bytes they decoded to against
    /// the wire's, and the bodies that claimed an encoding they did not have (a check that
    /// read one failed because of it, not because the service answered wrong).
    static func decodingSection(_ s: RunSummary) -> String {
        guard s.bytesDecoded != nil || s.decodeFailures != nil else { return "" }
        var out = "<section><h2>Compressed bodies</h2>"
        if let decoded = s.bytesDecoded {
            out +=
                "<p>Decoded \(Fmt.int(Int(clamping: decoded))) bytes of compressed bodies read by checks and "
                + "captures; the wire carried \(Fmt.int(Int(clamping: s.bytesIn))) bytes in all.</p>"
        }
        if let failures = s.decodeFailures {
            out += "<p class=\"bad\">\(Fmt.int(failures)) bodies could not be decoded.</p>"
            if let samples = s.decodeFailureSamples, !samples.isEmpty {
                out += "<table><thead><tr><th>request</th><th>status</th><th>why</th></tr></thead><tbody>"
                for f in samples {
                    out +=
                        "<tr><td>\(HTML.escape(f.request))</td><td>\(f.status)</td>"
                        + "<td>\(HTML.escape(f.message))</td></tr>"
                }
                out += "</tbody></table>"
            }
        }
        return out + "</section>"
    }
}
