import Foundation
import VolleyCore

// Rules about resources that drift over a run: memory, autovacuum.
extension Diagnosis {
    static func memoryGrowth(_ v: RunView) -> [Finding] {
        var out: [Finding] = []
        let names = [
            ProbeSeries.Process.rssBytes, ProbeSeries.Cgroup.memoryBytes, ProbeSeries.Redis.usedMemoryBytes,
            "process_resident_memory_bytes",
        ]
        for probe in v.run.probes ?? [] {
            for name in names {
                // A process allocates as it warms up: judge only runs of 20 s or more, and
                // leave their first quarter out of the fit.
                let all = v.during(v.points(probe, name))
                guard let first = all.first, let last = all.last, last.t - first.t >= 20 else { continue }
                let points = Array(all.dropFirst(all.count / 4))
                guard points.count >= 5, let fit = Stats.linearFit(points) else { continue }
                let startValue = fit.intercept + fit.slope * points[0].t
                let endValue = fit.intercept + fit.slope * points[points.count - 1].t
                let growth = endValue - startValue
                guard fit.slope > 0, fit.r2 >= 0.8, growth >= max(16 * 1_048_576, 0.1 * max(startValue, 1)) else {
                    continue
                }
                out.append(
                    Finding(
                        id: .memoryGrowth,
                        title: "Memory grew steadily",
                        statement: "\(probe.probe): \(name) grew in a straight line through the run — a leak, or a "
                            + "cache without a bound.",
                        evidence: [
                            "\(name) from \(Fmt.bytes(points[0].v)) to \(Fmt.bytes(points[points.count - 1].v)) "
                                + "(+\(Fmt.bytes(fit.slope * 60)) per minute, R² \(String(format: "%.2f", fit.r2)))"
                        ],
                        next: "Run longer at a constant load: a leak keeps growing, a cache levels off. Check cache "
                            + "bounds and TTLs (Redis maxmemory and its eviction policy).",
                        since: points[0].t
                    )
                )
                break
            }
        }
        return out
    }

    static func autovacuum(_ v: RunView) -> Finding? {
        for probe in v.probes(kind: "postgres") {
            let workers = v.during(v.points(probe, ProbeSeries.Postgres.autovacuumWorkers))
            let active = Set(workers.filter { $0.v > 0 }.map { Int($0.t.rounded()) })
            guard active.count >= 2 else { continue }
            let writes = [
                ProbeSeries.Postgres.rowsInsertedPerSecond, ProbeSeries.Postgres.rowsUpdatedPerSecond,
                ProbeSeries.Postgres.rowsDeletedPerSecond,
            ]
            .map { Stats.median(v.during(v.points(probe, $0)).map(\.v)) ?? 0 }.reduce(0, +)
            guard writes > 0 else { continue }
            let during = v.loaded.filter { active.contains(Int($0.t.rounded())) }.map(\.latencyMs.p90)
            let outside = v.loaded.filter { !active.contains(Int($0.t.rounded())) }.map(\.latencyMs.p90)
            guard during.count >= 2, outside.count >= 2, let a = Stats.median(during), let b = Stats.median(outside),
                b > 0, a >= 1.5 * b
            else { continue }
            var evidence = [
                "autovacuum workers ran in \(active.count) seconds; latency p90 \(Fmt.ms(a)) then against "
                    + "\(Fmt.ms(b)) otherwise (\(String(format: "%.1f", a / b))×)",
                "writes ran at \(Fmt.num(writes)) rows/s (median)",
            ]
            let dead = probe.series.keys.filter {
                $0.hasPrefix(ProbeSeries.Postgres.tablePrefix) && $0.hasSuffix(ProbeSeries.Postgres.deadTuplesSuffix)
            }.sorted()
            for name in dead.prefix(3) {
                if let peak = probe.values(name).max(), peak > 0 {
                    evidence.append("\(name) peaked at \(Fmt.num(peak))")
                }
            }
            return Finding(
                id: .autovacuum,
                title: "Autovacuum ran while write latency rose",
                statement: "Latency was higher in the seconds autovacuum worked: dead rows from the writes (per-row "
                    + "commits, updates) were being cleaned up under the load.",
                evidence: evidence,
                next: "Batch the writes (one commit per batch, not per row), tune autovacuum for the hot tables "
                    + "(autovacuum_vacuum_cost_limit, scale_factor), and re-run to confirm the correlation.",
                since: workers.first { $0.v > 0 }?.t
            )
        }
        return nil
    }
}
