import VolleyAnalysis
import VolleyCore

/// The tables of the field report's hand-made "hammer" (RAS Party): outcome percentages per
/// offset for each request count, then "Overall" (per offset, every count together) and
/// "Per-route" (every route, then all routes combined) — with the latency columns the report
/// lacked, each with its unit.
public struct MatrixRenderer: Sendable {
    public var style: Style

    public init(style: Style) { self.style = style }

    /// The header row; `label` names the first column ("offset", "route"), `width` its width.
    public func header(_ label: String, width: Int = 8, runColumn: Bool = false) -> String {
        "  " + Fmt.pad(label, width, right: false) + Fmt.pad("success", 9) + Fmt.pad("no resp.", 10)
            + Fmt.pad("4xx", 8) + Fmt.pad("5xx", 8) + Fmt.pad("other", 8) + Fmt.pad("fastest ms", 12)
            + Fmt.pad("median ms", 11) + Fmt.pad("mean ms", 10) + Fmt.pad("slowest ms", 12)
            + (runColumn ? "  run" : "") + "\n"
    }

    /// One row: the outcome shares in percent, then the latencies in milliseconds.
    public func row(_ label: String, _ cell: MatrixCell, width: Int = 8) -> String {
        let widths = ["success": 9, "no_response": 10]
        return "  " + Fmt.pad(label, width, right: false)
            + MatrixCell.categories.map { Fmt.pad(Fmt.fixed(cell.outcomes[$0] ?? 0, 1) + "%", widths[$0] ?? 8) }
            .joined()
            + Fmt.pad(Fmt.ms(cell.fastestMs), 12) + Fmt.pad(Fmt.ms(cell.medianMs), 11)
            + Fmt.pad(Fmt.ms(cell.meanMs), 10) + Fmt.pad(Fmt.ms(cell.slowestMs), 12)
            + (cell.runID.map { "  #\($0)" } ?? "") + "\n"
    }

    /// "Overall": per offset, every count and route together, then the whole matrix.
    public func overall(_ result: MatrixResult) -> String {
        var out = style.bold("overall") + " (\(Fmt.int(result.overall.requests)) requests, every count and route)\n"
        out += header("offset")
        for cell in result.offsets ?? [] { out += row(cell.offset, cell) }
        return out + row("all", result.overall)
    }

    /// "Per-route": each route over every cell, then all routes combined.
    public func perRoute(_ result: MatrixResult) -> String {
        let combined = "all routes combined"
        let width = max(combined.count, result.routes.map { ($0.route ?? "?").count }.max() ?? 0) + 2
        var out = style.bold("per route") + " (every count and offset)\n" + header("route", width: width)
        for cell in result.routes { out += row(cell.route ?? "?", cell, width: width) }
        return out + row(combined, result.overall, width: width)
    }
}
