import Foundation

/// One thing the diagnosis found: what, the figures that show it, and what to try next.
///
/// Findings are statements a person can check: every one names the series, values and times
/// it rests on, so that a wrong finding is as easy to reject as a right one to act on.
public struct Finding: Codable, Equatable, Sendable {
    /// Stable identifier, for scripts and tests: "pool-saturation", "cpu-bound", …
    public var id: String
    public var title: String
    public var statement: String
    public var evidence: [String]
    /// The next experiment to run.
    public var next: String
    /// "critical" (the results or the service are broken) or "warning".
    public var severity: String
    /// Seconds into the run when the finding's evidence begins, for ordering and charts.
    /// (One word on purpose: experiment JSON converts keys to snake case and back.)
    public var since: Double?

    public init(
        id: String,
        title: String,
        statement: String,
        evidence: [String],
        next: String,
        severity: String = "warning",
        since: Double? = nil
    ) {
        self.id = id
        self.title = title
        self.statement = statement
        self.evidence = evidence
        self.next = next
        self.severity = severity
        self.since = since
    }
}

/// Reads a run's timeline, its probes and its health watch, and names the likely bottleneck.
///
/// The rules encode the bottlenecks of our users' field reports (an exhausted connection pool,
/// synchronous logging, too few workers, CPU, autovacuum under per-row commits, readiness
/// probes failing under load) and the generator's own limit. Each rule stays quiet unless its
/// evidence is clear — a healthy run gets no finding — and thresholds are documented in
/// docs/diagnosis.md.
public enum Diagnosis {
    /// Findings for one run, most severe first, then in the order they began.
    public static func diagnose(_ run: RunSummary) -> [Finding] {
        let view = RunView(run)
        var findings: [Finding] = []
        if let f = generatorBound(view) { findings.append(f) }
        let pools = view.pools()
        var saturatedPool: PoolSaturation?
        for pool in pools {
            if let s = poolSaturation(view, pool) {
                findings.append(s.finding)
                if saturatedPool == nil { saturatedPool = s }
            }
        }
        if let f = postgresConnections(view) { findings.append(f) }
        if let f = errorsAfterSaturation(view, saturatedPool) { findings.append(f) }
        if let f = noResponseBeforeErrors(view) { findings.append(f) }
        let cpu = cpuBound(view)
        if let cpu { findings.append(cpu) }
        if let f = loggingOnRequestPath(view) { findings.append(f) }
        if let f = workersExhausted(view) { findings.append(f) }
        if cpu == nil, saturatedPool == nil,
            !findings.contains(where: { $0.id == "workers-exhausted" || $0.id == "sync-logging" }),
            let f = queueingElsewhere(view)
        {
            findings.append(f)
        }
        findings += memoryGrowth(view)
        if let f = autovacuum(view) { findings.append(f) }
        if let f = healthWouldFail(view) { findings.append(f) }
        // The generator first (it invalidates the rest), then in the order the evidence began:
        // the cause usually precedes its symptoms.
        return findings.sorted {
            ($0.id == "generator-bound" ? 0 : 1, $0.since ?? .infinity) < (
                $1.id == "generator-bound" ? 0 : 1, $1.since ?? .infinity
            )
        }
    }

    /// A sweep or any sequence of runs, read as one stepped load: timelines and probe series
    /// are laid end to end, so that "latency rose while throughput stayed flat" spans levels.
    /// `health`: a watch that spanned all the runs, its times counted from the first run's start.
    public static func diagnose(runs: [RunSummary], health: HealthWatchResult? = nil) -> [Finding] {
        guard var combined = runs.first else { return [] }
        guard runs.count > 1 else {
            if let health { combined.health = health }
            return diagnose(combined)
        }
        var offset = 0.0
        var timeline: [TimelineEntry] = []
        var probes: [String: ProbeResult] = [:]
        var order: [String] = []
        var transport: [String: Int] = [:]
        var status: [String: Int] = [:]
        for run in runs {
            for var e in run.timeline {
                e.t += offset
                timeline.append(e)
            }
            for p in run.probes ?? [] {
                let key = (p.kind ?? "") + " " + p.probe
                if probes[key] == nil {
                    order.append(key)
                    probes[key] = ProbeResult(
                        probe: p.probe,
                        series: [:],
                        failedScrapes: 0,
                        kind: p.kind,
                        notes: p.notes
                    )
                }
                for (name, points) in p.series {
                    probes[key]?.series[name, default: []] += points.map { [$0[0] + offset, $0[1]] }
                }
                probes[key]?.failedScrapes += p.failedScrapes
            }
            transport.merge(run.transportErrors, uniquingKeysWith: +)
            status.merge(run.status, uniquingKeysWith: +)
            offset += max(run.durationS, run.timeline.last?.t ?? 0)
        }
        combined.timeline = timeline
        combined.probes = order.compactMap { probes[$0] }
        combined.transportErrors = transport
        combined.status = status
        combined.durationS = offset
        combined.health = health
        return diagnose(combined)
    }

    // MARK: - Rules

    static func generatorBound(_ v: RunView) -> Finding? {
        let loaded = v.loaded
        guard loaded.count >= 2 else { return nil }
        var evidence: [String] = []
        let loopCPU = loaded.compactMap(\.loopCPUMaxPercent)
        let hot = loopCPU.filter { $0 >= 90 }
        if hot.count >= 2, Double(hot.count) >= 0.3 * Double(loopCPU.count) {
            evidence.append(
                "Volley's busiest event loop used ≥ 90 % of a core in \(hot.count) of \(loopCPU.count) seconds "
                    + "(max \(Fmt.pct(loopCPU.max() ?? 0)))"
            )
        }
        let lags = loaded.compactMap(\.loopLagMs)
        let lagging = lags.filter { $0 >= 50 }
        if lagging.count >= 2, Double(lagging.count) >= 0.2 * Double(lags.count) {
            evidence.append(
                "a task waited up to \(Fmt.ms(lags.max() ?? 0)) in an event loop's queue (≥ 50 ms in \(lagging.count) seconds)"
            )
        }
        let waitedForConnections = loaded.contains { $0.waiting > 0 }
        if v.run.model == "open", !waitedForConnections, v.run.requests > 0,
            Double(v.run.sentLate) > 0.05 * Double(v.run.requests + v.run.unsent)
        {
            evidence.append(
                "\(v.run.sentLate) of \(v.run.requests + v.run.unsent) requests were sent more than 10 ms late "
                    + "with free connections at hand (schedule lag p99 \(Fmt.ms(v.run.scheduleLag?.p99Ms ?? 0)))"
            )
        }
        guard !evidence.isEmpty else { return nil }
        let host = loaded.compactMap(\.hostCPUPercent)
        if let median = Stats.median(host), median >= 90 {
            evidence.append(
                "the machine's CPUs were \(Fmt.pct(median)) busy (median): Volley and the target shared them"
            )
        }
        let start = loaded.first { ($0.loopCPUMaxPercent ?? 0) >= 90 || ($0.loopLagMs ?? 0) >= 50 }?.t
        return Finding(
            id: "generator-bound",
            title: "Generator-bound: results not valid",
            statement: "Volley itself was at its limit, so the latencies and rates it measured include its own "
                + "queueing; do not read this run as the server's capacity.",
            evidence: evidence,
            next: "Re-run with more --threads, fewer connections, or Volley on another machine than the target; "
                + "a valid run keeps every loop below 80 % of a core.",
            severity: "critical",
            since: start
        )
    }

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
            id: "pool-saturation",
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
            let total = v.during(v.points(probe, "pg.connections.total"))
            guard let max = probe.values("pg.max_connections").last, max > 0, total.count >= 2 else { continue }
            let near = total.filter { $0.v >= 0.9 * max }
            guard near.count >= 2 else { continue }
            return Finding(
                id: "postgres-max-connections",
                title: "PostgreSQL near max_connections",
                statement: "The database's own connection limit was nearly reached: more pool capacity in the "
                    + "application would only move the wait into PostgreSQL, or fail new connections.",
                evidence: [
                    "pg.connections.total reached \(Fmt.num(total.map(\.v).max() ?? 0)) of max_connections "
                        + "\(Fmt.num(max)) (≥ 90 % in \(near.count) samples, first at \(Fmt.s(near[0].t)))"
                ],
                next: "Put a pooler (PgBouncer) in front, lower the per-instance pools so that instances × pool < "
                    + "max_connections, or raise max_connections if memory allows.",
                severity: "critical",
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
            id: "errors-after-saturation",
            title: "5xx began after the pool saturated",
            statement: "The server's errors started only once the pool had filled: requests that waited longer than "
                + "the pool timeout failed. They are a symptom of the pool, not separate bugs.",
            evidence: [
                "pool at its limit from \(Fmt.s(pool.start)); first 5xx in the second ending at \(Fmt.s(first5xx.t))",
                "\(total5xx) responses ≥ 500 in all" + (statuses.isEmpty ? "" : " (\(statuses))"),
            ],
            next: "Fix the pool saturation first; a shorter pool timeout turns long waits into fast failures, a "
                + "longer one turns them into latency.",
            severity: "critical",
            since: first5xx.t
        )
    }

    static func noResponseBeforeErrors(_ v: RunView) -> Finding? {
        let dropped = (v.run.transportErrors["no_response"] ?? 0) + (v.run.transportErrors["reset"] ?? 0)
        guard dropped > 0, let firstDrop = v.loaded.first(where: { $0.failed > 0 }) else { return nil }
        let first5xx = v.loaded.first { ($0.serverErrors ?? 0) > 0 }
        if let first5xx, first5xx.t < firstDrop.t { return nil }
        var evidence = [
            "\(v.run.transportErrors["no_response"] ?? 0) no_response and \(v.run.transportErrors["reset"] ?? 0) reset, "
                + "the first in the second ending at \(Fmt.s(firstDrop.t))",
            first5xx.map { "the first 5xx came later, at \(Fmt.s($0.t))" } ?? "no 5xx at all",
        ]
        for probe in v.probes(kind: "prometheus") {
            for (name, points) in probe.series where name.contains("backlog") && name.hasSuffix("_total") {
                if let grew = v.counterIncrease(v.pairs(points)), grew > 0 {
                    evidence.append("\(name) rose by \(Fmt.num(grew))")
                }
            }
        }
        return Finding(
            id: "no-response-before-5xx",
            title: "Connections dropped before any 5xx",
            statement: "The server closed connections without answering before it ever answered with an error: "
                + "requests were turned away at the door — a full listen backlog or every worker busy — not failed "
                + "by the application.",
            evidence: evidence,
            next: "Check the worker count (gunicorn --workers/--threads) and the listen backlog; sweep concurrency "
                + "to find where the drops begin.",
            severity: "critical",
            since: firstDrop.t
        )
    }

    static func cpuBound(_ v: RunView) -> Finding? {
        for probe in v.probes(kind: "process") + v.probes(kind: "cgroup") {
            let prefix = probe.kind == "cgroup" ? "cgroup" : "proc"
            let cpu = v.during(v.points(probe, "\(prefix).cpu_percent"))
            guard cpu.count >= 3 else { continue }
            var cores = probe.values("cgroup.cpu_limit_cores").last ?? probe.values("proc.cores").last
            if cores == nil, prefix == "cgroup" { cores = probe.values("proc.cores").last }
            let median = Stats.median(cpu.map(\.v)) ?? 0
            var evidence: [String] = []
            var saturated = false
            if let cores, cores > 0 {
                let capacity = cores * 100
                let high = cpu.filter { $0.v >= 0.85 * capacity }
                if Double(high.count) >= 0.5 * Double(cpu.count) {
                    saturated = true
                    evidence.append(
                        "\(prefix).cpu_percent at ≥ 85 % of \(Fmt.num(cores)) cores in \(high.count) of \(cpu.count) samples "
                            + "(median \(Fmt.pct(median)))"
                    )
                }
                // Sharing the machine with the generator: the target got the CPU that was left.
                let host = v.loaded.compactMap(\.hostCPUPercent)
                if !saturated, let hostMedian = Stats.median(host), hostMedian >= 90,
                    median >= 0.5 * hostMedian * cores
                {
                    saturated = true
                    evidence.append(
                        "the machine's CPUs were \(Fmt.pct(hostMedian)) busy (median) and the target used "
                            + "\(Fmt.pct(median)) of \(Fmt.num(cores * 100)) % — the largest share"
                    )
                }
            }
            guard saturated else { continue }
            guard v.throughputFlat else { continue }
            evidence.append("throughput stayed near \(Fmt.num(v.loadedRPSMedian)) rps")
            if let gen = Stats.median(v.loaded.compactMap(\.generatorCPUPercent)) {
                evidence.append("Volley's own loops used \(Fmt.pct(gen)) (median)")
            }
            let start = cpu.first { $0.v >= 0.5 * (cores ?? 1) * 100 }?.t ?? cpu[0].t
            return Finding(
                id: "cpu-bound",
                title: "CPU-bound",
                statement: "\(probe.probe) ran out of CPU while throughput stayed flat: more load only queues.",
                evidence: evidence,
                next: "Profile the request path (perf, py-spy), cache what is computed per request, or add cores or "
                    + "instances; if Volley shares the machine, run it elsewhere to see the target's real ceiling.",
                since: start
            )
        }
        return nil
    }

    static func loggingOnRequestPath(_ v: RunView) -> Finding? {
        for probe in v.probes(kind: "prometheus") {
            for (name, points) in probe.series
            where name.contains("log") && name.hasSuffix("seconds_total") && !name.contains("{") {
                let rates = v.rates(v.during(v.pairs(points)))
                guard rates.count >= 2, let median = Stats.median(rates.map(\.v)), median >= 0.5 else { continue }
                var evidence = [
                    "\(name) grew by \(Fmt.num(median)) s per second (median): the log handler's lock was held "
                        + "\(Fmt.pct(min(100, median * 100))) of the time"
                ]
                if let rise = v.latencyRise(from: v.loaded.first?.t ?? 0) { evidence.append(rise) }
                evidence.append("throughput near \(Fmt.num(v.loadedRPSMedian)) rps")
                return Finding(
                    id: "sync-logging",
                    title: "Requests queue behind synchronous logging",
                    statement: "Writing log lines on the request path, under one lock, serialised the requests: "
                        + "throughput is capped by the log writer, not by CPU or the database.",
                    evidence: evidence,
                    next: "Log asynchronously (a queue handler), log less per request, or write to a faster sink; "
                        + "then compare the two runs with `volley compare`.",
                    since: rates.first { $0.v >= 0.5 }?.t
                )
            }
        }
        return nil
    }

    static func workersExhausted(_ v: RunView) -> Finding? {
        for probe in v.probes(kind: "prometheus") {
            guard let busyName = probe.series.keys.sorted().first(where: { $0.hasSuffix("workers_busy") }),
                let limit = probe.values(String(busyName.dropLast("_busy".count))).last, limit > 0
            else { continue }
            let busy = v.during(v.pairs(probe.series[busyName] ?? []))
            let full = busy.filter { $0.v >= limit }
            guard busy.count >= 2, full.count >= 2, Double(full.count) >= 0.25 * Double(busy.count) else { continue }
            var evidence = [
                "\(busyName) = \(Fmt.num(limit)) of \(Fmt.num(limit)) in \(full.count) of \(busy.count) samples, "
                    + "first at \(Fmt.s(full[0].t))"
            ]
            if let queue = probe.series.keys.first(where: { $0.hasSuffix("queue_depth") }) {
                let depth = v.during(v.pairs(probe.series[queue] ?? []))
                if let peak = depth.max(by: { $0.v < $1.v }), peak.v > 0 {
                    evidence.append("\(queue) peaked at \(Fmt.num(peak.v)) at \(Fmt.s(peak.t))")
                }
            }
            if let rise = v.latencyRise(from: full[0].t) { evidence.append(rise) }
            return Finding(
                id: "workers-exhausted",
                title: "Every worker busy",
                statement: "All \(Fmt.num(limit)) workers were busy while more requests waited: the worker count "
                    + "capped throughput.",
                evidence: evidence,
                next: "Raise the worker count (gunicorn --workers, --threads) if CPU and the database have room; "
                    + "sweep concurrency before and after.",
                since: full[0].t
            )
        }
        return nil
    }

    static func queueingElsewhere(_ v: RunView) -> Finding? {
        let loaded = v.loaded.filter { $0.completed > 0 }
        guard loaded.count >= 6 else { return nil }
        let third = loaded.count / 3
        let early = Array(loaded.prefix(third))
        let late = Array(loaded.suffix(third))
        guard let p50Early = Stats.median(early.map(\.latencyMs.p50)),
            let p50Late = Stats.median(late.map(\.latencyMs.p50)),
            let rpsEarly = Stats.median(early.map(\.rps)), let rpsLate = Stats.median(late.map(\.rps))
        else { return nil }
        guard p50Late >= 2 * p50Early, p50Late - p50Early >= 5, rpsLate <= 1.2 * rpsEarly else { return nil }
        var evidence = [
            "latency p50 rose from \(Fmt.ms(p50Early)) to \(Fmt.ms(p50Late)) while throughput went from "
                + "\(Fmt.num(rpsEarly)) to \(Fmt.num(rpsLate)) rps"
        ]
        let cpuProbes = v.probes(kind: "process") + v.probes(kind: "cgroup")
        if cpuProbes.isEmpty {
            evidence.append("the target's CPU was not probed (add --probe pid:N or name:PROCESS to rule it out)")
        }
        for probe in cpuProbes {
            let prefix = probe.kind == "cgroup" ? "cgroup" : "proc"
            if let m = Stats.median(v.during(v.points(probe, "\(prefix).cpu_percent")).map(\.v)) {
                evidence.append("\(probe.probe) CPU stayed at \(Fmt.pct(m)) (median): not CPU-bound")
            }
        }
        if !v.probes(kind: "postgres").isEmpty || !v.pools().isEmpty {
            evidence.append("the database connections stayed below their limits")
        }
        return Finding(
            id: "queueing",
            title: "Requests queue with CPU and database to spare",
            statement: "Latency climbed while throughput stayed flat, and neither CPU nor the database was at its "
                + "limit: requests are waiting for something else — workers, a thread pool, or a lock on the "
                + "request path.",
            evidence: evidence,
            next: "Check the worker count and any lock on the request path (synchronous logging); probe the "
                + "server's own metrics (--probe http://…/metrics) to see which queue grows.",
            since: late.first?.t
        )
    }

    static func memoryGrowth(_ v: RunView) -> [Finding] {
        var out: [Finding] = []
        let names = [
            "proc.rss_bytes", "cgroup.memory_bytes", "redis.used_memory_bytes", "process_resident_memory_bytes",
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
                        id: "memory-growth",
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
            let workers = v.during(v.points(probe, "pg.autovacuum.workers"))
            let active = Set(workers.filter { $0.v > 0 }.map { Int($0.t.rounded()) })
            guard active.count >= 2 else { continue }
            let writes = ["pg.rows.inserted_per_s", "pg.rows.updated_per_s", "pg.rows.deleted_per_s"]
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
            let dead = probe.series.keys.filter { $0.hasPrefix("pg.table.") && $0.hasSuffix(".dead_tuples") }.sorted()
            for name in dead.prefix(3) {
                if let peak = probe.values(name).max(), peak > 0 {
                    evidence.append("\(name) peaked at \(Fmt.num(peak))")
                }
            }
            return Finding(
                id: "autovacuum",
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

    static func healthWouldFail(_ v: RunView) -> Finding? {
        guard let health = v.run.health, health.wouldHaveBeenRemoved,
            let down = health.transitions.first(where: { !$0.ready })
        else { return nil }
        let unready = health.unreadySeconds(until: v.run.durationS)
        let failures = health.polls.filter { !$0.ok }
        var reasons: [String: Int] = [:]
        for f in failures { reasons[f.error ?? "failed", default: 0] += 1 }
        let reasonText = reasons.sorted { $0.value > $1.value }.map { "\($0.value) × \($0.key)" }.joined(
            separator: ", "
        )
        return Finding(
            id: "health-would-fail",
            title: "The readiness probe would have failed",
            statement:
                "With Kubernetes' rules (period \(Fmt.num(health.periodS)) s, timeout \(Fmt.num(health.timeoutS)) s, "
                + "failureThreshold \(health.failureThreshold)), this instance would have been marked unready at "
                + "\(Fmt.s(down.t)) and taken out of the load balancer for \(Fmt.s(unready)): its load would have "
                + "moved to the others.",
            evidence: [
                "\(health.url): \(failures.count) of \(health.polls.count) probes failed (\(reasonText))",
                "transitions: "
                    + health.transitions.map { "\($0.ready ? "ready" : "unready") at \(Fmt.s($0.t))" }.joined(
                        separator: ", "
                    ),
            ],
            next: "Keep readiness off the saturated resource (no database query, or its own connection), raise "
                + "timeoutSeconds/failureThreshold, and fix the saturation that slows the probe.",
            severity: "critical",
            since: down.t
        )
    }
}

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
        let first = (loaded.first?.t ?? 0) - 1
        span = max(0, first)...max(max(0, first), loaded.last?.t ?? run.durationS)
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
