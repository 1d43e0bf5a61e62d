import Foundation
import VolleyCore

// Rules about how the server took requests in: connections dropped at the door, workers, CPU, locks.
extension Diagnosis {
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
            id: .noResponseBefore5xx,
            title: "Connections dropped before any 5xx",
            statement: "The server closed connections without answering before it ever answered with an error: "
                + "requests were turned away at the door — a full listen backlog or every worker busy — not failed "
                + "by the application.",
            evidence: evidence,
            next: "Check the worker count (gunicorn --workers/--threads) and the listen backlog; sweep concurrency "
                + "to find where the drops begin.",
            severity: .critical,
            since: firstDrop.t
        )
    }

    static func cpuBound(_ v: RunView) -> Finding? {
        for probe in v.probes(kind: "process") + v.probes(kind: "cgroup") {
            let prefix = probe.kind == "cgroup" ? "cgroup" : "proc"
            let cpu = v.during(
                v.points(probe, probe.kind == "cgroup" ? ProbeSeries.Cgroup.cpuPercent : ProbeSeries.Process.cpuPercent)
            )
            guard cpu.count >= 3 else { continue }
            var cores =
                probe.values(ProbeSeries.Cgroup.cpuLimitCores).last ?? probe.values(ProbeSeries.Process.cores).last
            if cores == nil, prefix == "cgroup" { cores = probe.values(ProbeSeries.Process.cores).last }
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
                id: .cpuBound,
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
                    id: .syncLogging,
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
                id: .workersExhausted,
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
        if let width = v.servedWidth { evidence.append(width.evidence) }
        let cpuProbes = v.probes(kind: "process") + v.probes(kind: "cgroup")
        if cpuProbes.isEmpty {
            evidence.append("the target's CPU was not probed (add --probe pid:N or name:PROCESS to rule it out)")
        }
        for probe in v.probes(kind: "cgroup") {
            if let m = Stats.median(v.during(v.points(probe, ProbeSeries.Cgroup.cpuPercent)).map(\.v)) {
                evidence.append("\(probe.probe) CPU at \(Fmt.pct(m)) (median)")
            }
        }
        for p in v.processes {
            let total = p.cpu ?? 0
            // One process cannot use more than a core (a GIL, one event loop): judge the busiest
            // against one core, the whole against the machine.
            if let busiest = p.busiestCPU, busiest >= 70 {
                evidence.append(
                    "\(p.name): its busiest process used \(Fmt.pct(busiest)) of one core (median) — near the "
                        + "ceiling of a single process, so CPU in that process is not ruled out"
                )
            } else {
                evidence.append(
                    "\(p.name) CPU at \(Fmt.pct(total)) of \(Fmt.num(p.cores * 100)) % (median)"
                        + (p.busiestCPU.map { ", its busiest process \(Fmt.pct($0)) of one core" } ?? "")
                        + ": not CPU-bound"
                )
            }
        }
        for probe in v.probes(kind: "postgres") {
            let total = v.during(v.points(probe, ProbeSeries.Postgres.connectionsTotal)).map(\.v).max()
            let limit = probe.values(ProbeSeries.Postgres.maxConnections).last
            let locks = v.during(v.points(probe, ProbeSeries.Postgres.connectionsWaitingLock)).map(\.v).max()
            if let total {
                evidence.append(
                    "PostgreSQL: at most \(Fmt.num(total)) client connections"
                        + (limit.map { " of max_connections \(Fmt.num($0))" } ?? "")
                        + (locks.map { ", at most \(Fmt.num($0)) waiting on a lock" } ?? "")
                )
            }
        }
        for pool in v.pools() {
            if let peak = v.during(pool.inUse.points).map(\.v).max() {
                evidence.append("\(pool.inUse.name) peaked at \(Fmt.num(peak)) of \(Fmt.num(pool.capacity))")
            }
        }
        return Finding(
            id: .queueing,
            title: "Requests queue",
            statement: "Latency climbed while throughput stayed flat: requests waited for something the probes did not "
                + "show at its limit. The width above says how many the service worked on at once — compare it with "
                + "its workers, threads, pool size and cores.",
            evidence: evidence,
            next: "Probe what is not probed yet (--probe pid:SERVER_PID for threads and CPU, postgres://… for the "
                + "database, http://…/metrics for the service's own queues) and re-run; a sweep shows where the "
                + "knee is.",
            since: late.first?.t
        )
    }
}
