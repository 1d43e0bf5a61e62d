import Foundation
import VolleyCore

/// One pool found in a Prometheus probe: in use, capacity, waiting, timeouts.
struct PoolSeries {
    struct Named {
        var name: String
        var points: [Point]
    }
    var inUse: Named
    var capacity: Double
    var capacityText: String
    var waiting: Named?
    var timeouts: Named?
}

struct Point: Equatable {
    var t: Double
    var v: Double
}

/// The run as the rules read it: the loaded part of the timeline and the probes by kind.
struct RunView {
    let run: RunSummary
    let loaded: [TimelineEntry]
    let span: ClosedRange<Double>

    init(_ run: RunSummary) {
        self.run = run
        loaded = run.timeline.filter { $0.completed + $0.failed > 0 }
        span = run.loadedSpan
    }

    func probes(kind: String) -> [ProbeResult] { (run.probes ?? []).filter { $0.kind == kind } }

    func pairs(_ raw: [[Double]]) -> [Point] { raw.compactMap { $0.count >= 2 ? Point(t: $0[0], v: $0[1]) : nil } }

    func points(_ probe: ProbeResult, _ name: String) -> [Point] { pairs(probe.series[name] ?? []) }

    /// Samples taken while the load ran (a second of slack at the start).
    func during(_ points: [Point]) -> [Point] { points.filter { span.contains($0.t) } }

    /// Per-second rates of a counter between consecutive samples.
    func rates(_ points: [Point]) -> [Point] {
        zip(points, points.dropFirst()).compactMap { a, b in
            b.t > a.t && b.v >= a.v ? Point(t: b.t, v: (b.v - a.v) / (b.t - a.t)) : nil
        }
    }

    func counterIncrease(_ points: [Point]) -> Double? {
        let inside = during(points)
        guard let first = inside.first, let last = inside.last else { return nil }
        return last.v - first.v
    }

    var loadedRPSMedian: Double { Stats.median(loaded.filter { $0.completed > 0 }.map(\.rps)) ?? 0 }

    /// Throughput did not grow in the last third of the run compared with the middle one.
    var throughputFlat: Bool {
        let done = loaded.filter { $0.completed > 0 }
        guard done.count >= 3 else { return true }
        let third = max(1, done.count / 3)
        let middle = Stats.median(done.dropFirst(third).prefix(third).map(\.rps)) ?? 0
        let last = Stats.median(done.suffix(third).map(\.rps)) ?? 0
        return last <= 1.2 * middle
    }

    /// "latency p50 rose from A before t to B after" when it did, for evidence lines.
    func latencyRise(from t: Double) -> String? {
        let before = loaded.filter { $0.t <= t && $0.completed > 0 }.map(\.latencyMs.p50)
        let after = loaded.filter { $0.t > t && $0.completed > 0 }.map(\.latencyMs.p50)
        guard let b = Stats.median(after) else { return nil }
        if let a = Stats.median(before), a > 0, b >= 1.5 * a {
            return "latency p50 \(Fmt.ms(a)) before \(Fmt.s(t)), \(Fmt.ms(b)) after"
        }
        return "latency p50 \(Fmt.ms(b)) (median of the seconds after \(Fmt.s(t)))"
    }

    /// Connection pools exposed by Prometheus probes: SQLAlchemy-style (`*_pool_checked_out`,
    /// `*_pool_size` + `*_pool_max_overflow`), HikariCP (`hikaricp_connections_active` /
    /// `_max` / `_pending`), or any `*pool*in_use*` with a `*pool*max*` beside it.
    func pools() -> [PoolSeries] {
        var out: [PoolSeries] = []
        for probe in probes(kind: "prometheus") {
            let names = probe.series.keys.filter { !$0.contains("{") }.sorted()
            func named(_ name: String?) -> PoolSeries.Named? {
                guard let name else { return nil }
                return PoolSeries.Named(name: name, points: pairs(probe.series[name] ?? []))
            }
            if let active = names.first(where: { $0 == "hikaricp_connections_active" }),
                let max = probe.values("hikaricp_connections_max").last
            {
                out.append(
                    PoolSeries(
                        inUse: named(active)!,
                        capacity: max,
                        capacityText: "hikaricp_connections_max",
                        waiting: named(names.first { $0 == "hikaricp_connections_pending" }),
                        timeouts: named(names.first { $0 == "hikaricp_connections_timeout_total" })
                    )
                )
                continue
            }
            let inUseWords = ["checked_out", "in_use", "inuse", "busy", "active", "used"]
            guard
                let inUse = names.first(where: { n in
                    n.contains("pool") && !n.hasSuffix("_total") && inUseWords.contains { n.contains($0) }
                })
            else { continue }
            let prefix = String(inUse[..<(inUse.range(of: "pool")!.upperBound)])
            var capacity: Double?
            var capacityText = ""
            if let size = probe.values(prefix + "_size").last {
                let overflow = probe.values(prefix + "_max_overflow").last ?? 0
                capacity = size + overflow
                capacityText =
                    overflow > 0
                    ? "\(prefix)_size \(Fmt.num(size)) + \(prefix)_max_overflow \(Fmt.num(overflow))" : "\(prefix)_size"
            } else if let maxName = names.first(where: { $0.hasPrefix(prefix) && $0.contains("max") }),
                let max = probe.values(maxName).last
            {
                capacity = max
                capacityText = maxName
            }
            guard let capacity else { continue }
            out.append(
                PoolSeries(
                    inUse: named(inUse)!,
                    capacity: capacity,
                    capacityText: capacityText,
                    waiting: named(
                        names.first { $0.hasPrefix(prefix) && ($0.contains("waiting") || $0.contains("pending")) }
                    ),
                    timeouts: named(
                        names.first { $0.hasPrefix(prefix) && $0.contains("timeout") && $0.hasSuffix("_total") }
                    )
                )
            )
        }
        return out
    }
}

/// Small statistics the rules share.
enum Stats {
    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// Least squares: slope per second, intercept, and R².
    static func linearFit(_ points: [Point]) -> (slope: Double, intercept: Double, r2: Double)? {
        let n = Double(points.count)
        guard n >= 2 else { return nil }
        let mt = points.map(\.t).reduce(0, +) / n
        let mv = points.map(\.v).reduce(0, +) / n
        var stt = 0.0
        var stv = 0.0
        var svv = 0.0
        for p in points {
            stt += (p.t - mt) * (p.t - mt)
            stv += (p.t - mt) * (p.v - mv)
            svv += (p.v - mv) * (p.v - mv)
        }
        guard stt > 0 else { return nil }
        let slope = stv / stt
        let r2 = svv > 0 ? (stv * stv) / (stt * svv) : 0
        return (slope, mv - slope * mt, r2)
    }
}

/// Number formats for evidence lines.
enum Fmt {
    static func num(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e12 { return String(Int64(x)) }
        return abs(x) >= 100 ? String(format: "%.0f", x) : String(format: "%.3g", x)
    }
    static func ms(_ x: Double) -> String { x >= 100 ? String(format: "%.0f ms", x) : String(format: "%.1f ms", x) }
    static func s(_ x: Double) -> String { String(format: "%.0f s", x) }
    static func pct(_ x: Double) -> String { String(format: "%.0f %%", x) }
    static func bytes(_ x: Double) -> String {
        let mb = x / 1_048_576
        return mb >= 1 ? String(format: "%.1f MB", mb) : String(format: "%.0f KB", x / 1024)
    }
}
