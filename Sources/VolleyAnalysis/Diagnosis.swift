import Foundation
import VolleyCore

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
        var findings = rules(view)
        explainErrors(view, &findings)
        return ordered(findings)
    }

    /// The generator first (it invalidates the rest), then in the order the evidence began:
    /// the cause usually precedes its symptoms.
    static func ordered(_ findings: [Finding]) -> [Finding] {
        findings.sorted {
            ($0.id == .generatorBound ? 0 : 1, $0.since ?? .infinity) < (
                $1.id == .generatorBound ? 0 : 1, $1.since ?? .infinity
            )
        }
    }

    /// Every rule but the errors' explanation, which needs all the findings first.
    static func rules(_ view: RunView) -> [Finding] {
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
        // The database's own limits first: a lock wait or slow queries explain a narrow width
        // before anything in the service does.
        let lockWait = databaseLockWait(view)
        if let lockWait { findings.append(lockWait) }
        if saturatedPool == nil, lockWait == nil, let f = clientPool(view) { findings.append(f) }
        if lockWait == nil, let f = slowQueries(view) { findings.append(f) }
        let cpu = cpuBound(view)
        if let cpu { findings.append(cpu) }
        if cpu == nil, let f = singleCoreProcess(view) { findings.append(f) }
        if let f = loggingOnRequestPath(view) { findings.append(f) }
        if let f = workersExhausted(view) { findings.append(f) }
        let named = Set(findings.map(\.id))
        let database: Set<FindingID> = [.poolSaturation, .databaseLockWait, .slowQueries]
        let service: Set<FindingID> = [.singleCoreProcess, .syncLogging, .workersExhausted, .cpuBound]
        if named.isDisjoint(with: database.union(service)) {
            if let f = blockingCall(view) {
                findings.append(f)
            } else if let f = workersFromProcesses(view) {
                findings.append(f)
            }
        }
        let explained: Set<FindingID> = database.union(service).union([.blockingCall])
        if cpu == nil, saturatedPool == nil, !findings.contains(where: { explained.contains($0.id) }),
            let f = queueingElsewhere(view)
        {
            findings.append(f)
        }
        findings += memoryGrowth(view)
        if let f = autovacuum(view) { findings.append(f) }
        if let f = healthWouldFail(view) { findings.append(f) }
        return findings
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
        let (probes, starts) = RunSummary.probesEndToEnd(runs)
        var timeline: [TimelineEntry] = []
        var transport: [String: Int] = [:]
        var status: [String: Int] = [:]
        var samples: [String: [ErrorSample]] = [:]
        for (run, start) in zip(runs, starts) {
            for (code, list) in run.errorSamples ?? [:] { samples[code, default: []] += list }
            for var e in run.timeline {
                e.t += start
                timeline.append(e)
            }
            transport.merge(run.transportErrors, uniquingKeysWith: +)
            status.merge(run.status, uniquingKeysWith: +)
        }
        let offset = (starts.last ?? 0) + (runs.last?.span ?? 0)
        combined.probes = probes
        combined.timeline = timeline
        combined.transportErrors = transport
        combined.status = status
        combined.errorSamples = samples.isEmpty ? nil : samples
        combined.requests = runs.reduce(0) { $0 + $1.requests }
        combined.unsent = runs.reduce(0) { $0 + $1.unsent }
        // The fastest response of any level: the service time without a queue.
        combined.latencyMs.min = runs.map(\.latencyMs.min).filter { $0 > 0 }.min() ?? 0
        combined.durationS = offset
        combined.health = health
        // Trends read across the levels (latency rising, memory, autovacuum); the width rules
        // need the load that saturated the service, which the quiet first levels dilute: the
        // most loaded level is judged on its own too, and what it adds is kept.
        let view = RunView(combined)
        var findings = rules(view)
        if let last = runs.last, let start = starts.last {
            for var f in rules(RunView(last)) where !findings.contains(where: { $0.id == f.id }) {
                f.since = f.since.map { $0 + start }
                if !f.evidence.isEmpty {
                    f.evidence[0] = "at the most loaded level (\(levelName(last))): " + f.evidence[0]
                }
                findings.append(f)
            }
        }
        explainErrors(view, &findings)
        return ordered(findings)
    }

    /// "64 connections" or "400/s": how a level of a stepped load is named in evidence.
    static func levelName(_ run: RunSummary) -> String {
        if let rate = run.rate { return "\(Fmt.num(rate))/s" }
        if let c = run.connections { return "\(c) connections" }
        return "the last run"
    }

}
