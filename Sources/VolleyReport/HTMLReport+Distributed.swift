import VolleyCore

/// The report's section for a run merged from segments (`volley merge`): which segments it
/// holds, how far apart they started, their clocks, and — first — any segment missing.
extension HTMLReport {
    static func distributedSection(_ s: RunSummary) -> String {
        guard let d = s.distributed else { return "" }
        var out =
            "<section><h2>Segments</h2><p>Merged from \(d.merged.count) of \(d.segmentCount) segments; "
            + "start skew \(Fmt.fixed(d.startSkewMs, 2)) ms (the latest segment's time zero after the "
            + "earliest's, on segment 0's clock).</p>"
        if !d.missing.isEmpty {
            let reasons = d.missing.map { i in
                "\(i)" + (d.missingReasons?[String(i)].map { " (\(HTML.escape($0)))" } ?? "")
            }
            out +=
                "<p class=\"bad\"><strong>Incomplete:</strong> segment\(d.missing.count > 1 ? "s" : "") "
                + reasons.joined(separator: ", ") + " missing; the counts are the finished segments' only.</p>"
        }
        out +=
            "<table><thead><tr><th>segment</th><th>requests</th><th>duration s</th><th>start after earliest ms</th>"
            + "<th>clock offset ms</th><th>clock RTT ms</th></tr></thead><tbody>"
        for seg in d.segments {
            out +=
                "<tr><td>\(seg.index)</td><td>\(Fmt.int(seg.requests))</td><td>\(Fmt.fixed(seg.durationS, 2))</td>"
                + "<td>\(Fmt.fixed(seg.startOffsetMs, 2))</td><td>\(Fmt.fixed(seg.clockOffsetMs, 3))</td>"
                + "<td>\(seg.clockRTTMs.map { Fmt.fixed($0, 3) } ?? "—")</td></tr>"
        }
        return out + "</tbody></table></section>"
    }
}
