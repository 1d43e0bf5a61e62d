import Foundation
import VolleyCore

// Rules about connection pools and the database: the pool, PostgreSQL's own limit, the errors they cause.
extension Diagnosis {
    struct PoolSaturation {
        var finding: Finding
        var start: Double
    }

    static func poolSaturation(_ v: RunView, _ pool: PoolSeries) -> PoolSaturation? {
        let inUse = v.during(pool.inUse.points)
        guard inUse.count >= 2, pool.capacity > 0 else { return nil }
        let limit = pool.capacity >= 20 ? pool.capacity * 0.95 : pool.capacity
        let atLimit = inUse.filter { $0.v >= limit }
        guard atLimit.count >= 2, Double(atLimit.count) >= 0.25 * Double(inUse.count) else { return nil }
        let waiting = pool.waiting.map { v.during($0.points) }
        let peakWait = waiting?.max { $0.v < $1.v }
        if waiting != nil, (peakWait?.v ?? 0) <= 0 { return nil }  // full but nobody waited: not the bottleneck
        let start = atLimit[0].t
        var evidence = [
            "\(pool.inUse.name) = \(Fmt.num(atLimit[0].v)) of \(Fmt.num(pool.capacity)) (\(pool.capacityText)) "
                + "in \(atLimit.count) of \(inUse.count) samples, first at \(Fmt.s(start))"
        ]
        if let peakWait, let name = pool.waiting?.name {
            evidence.append("\(name) peaked at \(Fmt.num(peakWait.v)) at \(Fmt.s(peakWait.t))")
        }
        if let rise = v.latencyRise(from: start) { evidence.append(rise) }
        if let timeouts = pool.timeouts, let grew = v.counterIncrease(timeouts.points), grew > 0 {
            evidence.append("\(timeouts.name) rose by \(Fmt.num(grew)): checkouts that gave up waiting")
        }
        let finding = Finding(
            id: .poolSaturation,
            title: "Database connection pool saturated",
            statement: "Every connection of the pool was in use while requests waited for one: the pool, not the "
                + "database, capped throughput and added its wait to every request.",
            evidence: evidence,
            next: "Raise the pool (size + overflow) only if the database has room — check pg.connections against "
                + "max_connections — or hold connections for less time (query latency, N+1 queries, a cache for "
                + "reads); then sweep again to see the knee move.",
            since: start
        )
        return PoolSaturation(finding: finding, start: start)
    }

    static func postgresConnections(_ v: RunView) -> Finding? {
        for probe in v.probes(kind: "postgres") {
            let total = v.during(v.points(probe, ProbeSeries.Postgres.connectionsTotal))
            guard let max = probe.values(ProbeSeries.Postgres.maxConnections).last, max > 0, total.count >= 2 else {
                continue
            }
            let near = total.filter { $0.v >= 0.9 * max }
            guard near.count >= 2 else { continue }
            return Finding(
                id: .postgresMaxConnections,
                title: "PostgreSQL near max_connections",
                statement: "The database's own connection limit was nearly reached: more pool capacity in the "
                    + "application would only move the wait into PostgreSQL, or fail new connections.",
                evidence: [
                    "pg.connections.total reached \(Fmt.num(total.map(\.v).max() ?? 0)) of max_connections "
                        + "\(Fmt.num(max)) (≥ 90 % in \(near.count) samples, first at \(Fmt.s(near[0].t)))"
                ],
                next: "Put a pooler (PgBouncer) in front, lower the per-instance pools so that instances × pool < "
                    + "max_connections, or raise max_connections if memory allows.",
                severity: .critical,
                since: near[0].t
            )
        }
        return nil
    }

    static func errorsAfterSaturation(_ v: RunView, _ pool: PoolSaturation?) -> Finding? {
        guard let pool else { return nil }
        guard let first5xx = v.loaded.first(where: { ($0.serverErrors ?? 0) > 0 }) else { return nil }
        guard first5xx.t + 1 >= pool.start else { return nil }  // the errors came first: another cause
        let total5xx = v.loaded.reduce(0) { $0 + ($1.serverErrors ?? 0) }
        let statuses = v.run.status.filter { (Int($0.key) ?? 0) >= 500 }.sorted { $0.key < $1.key }
            .map { "\($0.value) × \($0.key)" }.joined(separator: ", ")
        return Finding(
            id: .errorsAfterSaturation,
            title: "5xx began after the pool saturated",
            statement: "The server's errors started only once the pool had filled: requests that waited longer than "
                + "the pool timeout failed. They are a symptom of the pool, not separate bugs.",
            evidence: [
                "pool at its limit from \(Fmt.s(pool.start)); first 5xx in the second ending at \(Fmt.s(first5xx.t))",
                "\(total5xx) responses ≥ 500 in all" + (statuses.isEmpty ? "" : " (\(statuses))"),
            ],
            next: "Fix the pool saturation first; a shorter pool timeout turns long waits into fast failures, a "
                + "longer one turns them into latency.",
            severity: .critical,
            since: first5xx.t
        )
    }
}
