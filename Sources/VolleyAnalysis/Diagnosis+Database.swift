import Foundation
import VolleyCore

// Rules read from PostgreSQL's side (the `postgres://` probe), without the service's help:
// how many connections each client held and what they did, and where active queries waited.
extension Diagnosis {
    /// A client whose connections sit at a constant N, all working, below max_connections,
    /// while more requests were in flight than N and each waited longer than its query: a
    /// client-side pool of N (SQLAlchemy's QueuePool, HikariCP …) is the cap. Unless the
    /// process probe shows only about N threads: then the workers are, and the pool is not.
    static func clientPool(_ v: RunView) -> Finding? {
        guard let width = v.servedWidth, width.queued else { return nil }
        for probe in v.probes(kind: "postgres") {
            let maxConnections = probe.values(ProbeSeries.Postgres.maxConnections).last
            for client in probe.postgresClients {
                let conns = v.steadyPoints(probe, ProbeSeries.Postgres.client(client, .connections))
                guard conns.count >= 3, let n = conns.map(\.v).max(), n >= 2 else { continue }
                let atN = conns.filter { $0.v >= n - 0.5 }
                guard Double(atN.count) >= 0.6 * Double(conns.count) else { continue }
                if let maxConnections, n >= 0.9 * maxConnections { continue }  // the server's limit instead
                let PG = ProbeSeries.Postgres.self
                let active = Stats.median(v.steadyPoints(probe, PG.client(client, .active)).map(\.v)) ?? 0
                // A connection idle in a transaction is held by the service between its queries
                // (work done inside the transaction): checked out of the pool all the same.
                let idleInTransaction =
                    Stats.median(v.steadyPoints(probe, PG.client(client, .idleInTransaction)).map(\.v)) ?? 0
                let held = active + idleInTransaction
                guard held >= 0.8 * n, width.demand >= 1.5 * n else { continue }
                let dbMs = held / width.throughput * 1000
                guard width.p50Ms >= 1.5 * dbMs else { continue }
                // Only about N threads in the service: the workers hold the cap, not a pool.
                let process = v.processes.first
                if let capacity = process?.capacity, capacity <= 1.25 * n + 1 { continue }
                var evidence = [
                    "PostgreSQL saw \(Fmt.num(n)) connections from \(client) in \(atN.count) of \(conns.count) loaded "
                        + "seconds, \(Fmt.num(active)) of them active"
                        + (idleInTransaction >= 0.5 ? " and \(Fmt.num(idleInTransaction)) idle in a transaction" : "")
                        + " (median)"
                        + (maxConnections.map { " — max_connections is \(Fmt.num($0)): the cap is the client's" } ?? ""),
                    width.evidence,
                    "each request held a connection about \(Fmt.ms(dbMs)) (\(Fmt.num(held)) held ÷ "
                        + "\(Fmt.num(width.throughput)) req/s) but took \(Fmt.ms(width.p50Ms)) (p50): about "
                        + "\(Fmt.ms(width.p50Ms - dbMs)) waiting before the database",
                ]
                if let mean = v.steadyMedian(probe, ProbeSeries.Postgres.statementsMeanMilliseconds), mean > 0 {
                    evidence.append("pg_stat_statements: the statements took \(Fmt.ms(mean)) on average")
                }
                if let process, let capacity = process.capacity {
                    evidence.append(
                        "\(process.name) had about \(Fmt.num(capacity)) threads to serve requests, more than "
                            + "\(Fmt.num(n)): they waited for connections"
                            + ((process.states["lock_wait"] ?? 0) >= 1
                                ? " (\(String(format: "%.1f", process.states["lock_wait"]!)) threads on a lock, mean)"
                                : "")
                    )
                } else {
                    evidence.append(
                        "no process probe: \(Fmt.num(n)) workers holding a connection each would look the same "
                            + "(add --probe pid:SERVER_PID to tell)"
                    )
                }
                return Finding(
                    id: .poolSaturation,
                    title: "Database connection pool saturated: \(Fmt.num(n)) connections",
                    statement: "The service never used more than \(Fmt.num(n)) database connections, all of them busy, "
                        + "while \(Fmt.num(width.demand.rounded())) requests were in flight: requests queued for the "
                        + "client's connection pool, not in PostgreSQL, which had room.",
                    evidence: evidence,
                    next: "Raise the pool (SQLAlchemy pool_size + max_overflow, HikariCP maximumPoolSize …) towards "
                        + "the concurrency the service must serve while max_connections has room, or hold connections "
                        + "for less time (shorter queries, no work inside the transaction); then sweep again to see "
                        + "the knee move.",
                    since: atN.first?.t
                )
            }
        }
        return nil
    }

    /// Active queries waiting on other transactions' locks: the database serializes them.
    static func databaseLockWait(_ v: RunView) -> Finding? {
        for probe in v.probes(kind: "postgres") {
            let lockSeries =
                probe.series[ProbeSeries.Postgres.wait("Lock")] != nil
                ? ProbeSeries.Postgres.wait("Lock") : ProbeSeries.Postgres.connectionsWaitingLock
            let waiting = v.steadyPoints(probe, lockSeries)
            guard waiting.count >= 3, let median = Stats.median(waiting.map(\.v)), median >= 2 else { continue }
            let active = v.steadyMedian(probe, ProbeSeries.Postgres.connectionsActive) ?? median
            guard median >= 0.3 * active else { continue }
            var evidence = [
                "\(Fmt.num(median)) of \(Fmt.num(active)) active queries waited on a lock (median of the loaded seconds, "
                    + "\(lockSeries))"
            ]
            if let peak = v.steadyPoints(probe, ProbeSeries.Postgres.lockWaits).map(\.v).max(), peak > 0 {
                evidence.append("pg.lock_waits (locks not granted) peaked at \(Fmt.num(peak))")
            }
            if let oldest = v.steadyPoints(probe, ProbeSeries.Postgres.oldestTransactionSeconds).map(\.v).max(),
                oldest > 0
            {
                evidence.append("the oldest transaction was \(String(format: "%.1f", oldest)) s old")
            }
            if let width = v.servedWidth { evidence.append(width.evidence) }
            return Finding(
                id: .databaseLockWait,
                title: "Queries wait on each other's locks in PostgreSQL",
                statement: "Most active queries were waiting for a lock another transaction held: requests that "
                    + "touch the same rows are serialized by the database, whatever the pool or worker count.",
                evidence: evidence,
                next: "Find the contended rows (pg_locks joined with pg_stat_activity during the load); keep "
                    + "transactions short (no work between the UPDATE and the COMMIT), avoid one hot row per request "
                    + "(shard or batch counters), use SELECT … FOR UPDATE SKIP LOCKED for queues.",
                since: waiting.first { $0.v >= 2 }?.t
            )
        }
        return nil
    }

    /// The database's time per request (Little's law on PostgreSQL's active connections)
    /// makes most of the latency and grew as the load went on: queries slow down under load.
    static func slowQueries(_ v: RunView) -> Finding? {
        let seconds = v.steady
        guard seconds.count >= 6 else { return nil }
        for probe in v.probes(kind: "postgres") {
            let active = v.steadyPoints(probe, ProbeSeries.Postgres.connectionsActive)
            var perRequest: [(t: Double, db: Double, p50: Double)] = []
            for s in seconds where s.rps > 0 {
                guard let a = active.min(by: { abs($0.t - s.t) < abs($1.t - s.t) }), abs(a.t - s.t) <= 1 else {
                    continue
                }
                perRequest.append((s.t, a.v / s.rps * 1000, s.latencyMs.p50))
            }
            guard perRequest.count >= 6 else { continue }
            let third = perRequest.count / 3
            guard let dbEarly = Stats.median(perRequest.prefix(third).map(\.db)),
                let dbLate = Stats.median(perRequest.suffix(third).map(\.db)),
                let p50Late = Stats.median(perRequest.suffix(third).map(\.p50)), dbEarly > 0
            else { continue }
            guard dbLate >= 2 * dbEarly, dbLate - dbEarly >= 5, dbLate >= 0.7 * p50Late else { continue }
            var evidence = [
                "time in PostgreSQL per request (active connections ÷ req/s) rose from \(Fmt.ms(dbEarly)) to "
                    + "\(Fmt.ms(dbLate)), against a p50 of \(Fmt.ms(p50Late)): the database makes the latency"
            ]
            if let mean = v.steadyMedian(probe, ProbeSeries.Postgres.statementsMeanMilliseconds) {
                evidence.append("pg_stat_statements: \(Fmt.ms(mean)) per statement (median of the seconds)")
            }
            return Finding(
                id: .slowQueries,
                title: "Queries slow down under load",
                statement: "Each request spent most of its time inside PostgreSQL, and that time grew with the load: "
                    + "the database itself (CPU, I/O or internal locks) is the bottleneck.",
                evidence: evidence,
                next: "Look at the slowest statements (pg_stat_statements, EXPLAIN ANALYZE), their indexes and the "
                    + "database's CPU and I/O (--probe pid:POSTMASTER); cache repeated reads.",
                since: perRequest[third].t
            )
        }
        return nil
    }
}

extension ProbeResult {
    /// Client labels of a PostgreSQL probe's per-client series, the most connections first.
    var postgresClients: [String] {
        let PG = ProbeSeries.Postgres.self
        let labels = Set(series.keys.compactMap { PG.parseClient($0) }.filter { $0.field == .connections }.map(\.label))
        return labels.sorted {
            (values(PG.client($0, .connections)).max() ?? 0, $1) > (values(PG.client($1, .connections)).max() ?? 0, $0)
        }
    }
}
