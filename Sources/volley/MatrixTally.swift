import Histogram
import VolleyAnalysis
import VolleyCore
import VolleyEngine

/// The matrix's running totals: statuses, transport errors and merged latency histograms for
/// the whole matrix, per offset and per route, so that every aggregate row is computed from
/// histograms (never by averaging the cells' percentiles).
struct MatrixTally {
    struct Totals {
        var status: [String: Int] = [:]
        var transport: [String: Int] = [:]
        var latency: Histogram<UInt64> = LatencyHistogram.make()

        mutating func add(status: [String: Int], transport: [String: Int], latency h: Histogram<UInt64>?) {
            self.status.merge(status, uniquingKeysWith: +)
            self.transport.merge(transport, uniquingKeysWith: +)
            if let h { latency.add(h) }
        }

        /// The aggregate as a matrix row.
        func cell(offset: String, route: String?) -> MatrixCell {
            let (requests, outcomes) = MatrixCommand.outcomes(status: status, transport: transport)
            let l = LatencyStats(latency)
            return MatrixCell(
                count: 0,
                offset: offset,
                route: route,
                requests: requests,
                outcomes: outcomes,
                fastestMs: l.min,
                slowestMs: l.max,
                meanMs: l.mean,
                medianMs: l.p50
            )
        }
    }

    /// The routes as given, in order: `route N` in a cell's plan is routes[N - 1].
    let routes: [String]
    /// The offsets as given, in order.
    let offsets: [String]
    var overall = Totals()
    var byOffset: [String: Totals] = [:]
    var byRoute: [String: Totals] = [:]

    /// Adds one cell's run.
    mutating func add(offset: String, summary: RunSummary, histograms: RunHistograms?) {
        overall.add(status: summary.status, transport: summary.transportErrors, latency: histograms?.latency)
        byOffset[offset, default: Totals()].add(
            status: summary.status,
            transport: summary.transportErrors,
            latency: histograms?.latency
        )
        for named in summary.requestsByName ?? [] {
            let index = Int(named.name.dropFirst("route ".count)) ?? 0
            let key = index >= 1 && index <= routes.count ? routes[index - 1] : named.name
            byRoute[key, default: Totals()].add(
                status: named.status,
                transport: named.transportErrors,
                latency: histograms?.byName[named.name]
            )
        }
    }

    /// The matrix's result: the cells, then overall (whole and per offset) and per route.
    func result(cells: [MatrixCell], findings: [Finding]?) -> MatrixResult {
        MatrixResult(
            cells: cells,
            overall: overall.cell(offset: "all", route: nil),
            routes: routes.compactMap { r in byRoute[r].map { $0.cell(offset: "all", route: r) } },
            offsets: offsets.compactMap { o in byOffset[o].map { $0.cell(offset: o, route: nil) } },
            findings: findings
        )
    }
}
