import Histogram
import Testing
import VolleyCore

@testable import VolleyAnalysis

/// A run built second by second: each second's rps and p50, plus whatever a test sets.
func diagnosedRun(
    seconds: Int,
    edit: (Int, inout TimelineEntry) -> Void = { _, _ in },
    rps: (Int) -> Double = { _ in 500 },
    p50: (Int) -> Double = { _ in 10 }
) -> RunSummary {
    var timeline: [TimelineEntry] = []
    for second in 1...seconds {
        var stats = IntervalStats()
        stats.completed = Int(rps(second))
        _ = stats.latency.record(UInt64(p50(second) * 1000))
        var entry = TimelineEntry(t: Double(second), seconds: 1, stats: stats)
        edit(second, &entry)
        timeline.append(entry)
    }
    return RunSummary(
        target: "http://127.0.0.1/",
        method: "GET",
        model: .closed(connections: 32, limit: .duration(.seconds(Int64(seconds)))),
        threads: 2,
        recorder: Recorder(),
        duration: Double(seconds),
        timeline: timeline,
        interrupted: false
    )
}

/// A probe whose series are functions of the second.
func probe(_ kind: String, _ series: [String: (Int) -> Double], seconds: Int) -> ProbeResult {
    var out: [String: [[Double]]] = [:]
    for (name, f) in series { out[name] = (0...seconds).map { [Double($0), f($0)] } }
    return ProbeResult(probe: "\(kind)-probe", series: out, failedScrapes: 0, kind: kind)
}

func ids(_ run: RunSummary) -> [String] { Diagnosis.diagnose(run).map(\.id.rawValue) }

@Suite struct DiagnosisTests {
    /// The lab's /metrics as a saturated QueuePool shows it.
    func labPool(inUse: @escaping (Int) -> Double, waiting: @escaping (Int) -> Double, seconds: Int) -> ProbeResult {
        probe(
            "prometheus",
            [
                "lab_db_pool_size": { _ in 2 }, "lab_db_pool_max_overflow": { _ in 1 },
                "lab_db_pool_checked_out": inUse, "lab_db_pool_waiting": waiting,
                "lab_db_pool_timeouts_total": { $0 >= 5 ? Double($0 - 4) * 10 : 0 },
            ],
            seconds: seconds
        )
    }

    @Test func aHealthyRunGetsNoFinding() {
        var run = diagnosedRun(seconds: 10) { s, e in
            e.loopCPUMaxPercent = 35
            e.loopLagMs = 0.8
            e.hostCPUPercent = 60
        }
        run.probes = [
            labPool(inUse: { Double($0 % 3) }, waiting: { _ in 0 }, seconds: 10),
            probe(
                "process",
                ["proc.cpu_percent": { _ in 40 }, "proc.cores": { _ in 2 }, "proc.rss_bytes": { _ in 50e6 }],
                seconds: 10
            ),
        ]
        #expect(Diagnosis.diagnose(run).isEmpty)
    }

    @Test func aSaturatedPoolIsNamedWithItsEvidence() throws {
        var run = diagnosedRun(seconds: 10, p50: { $0 < 2 ? 20 : 250 })
        run.probes = [labPool(inUse: { $0 >= 1 ? 3 : 1 }, waiting: { $0 >= 2 ? 29 : 0 }, seconds: 10)]
        let finding = try #require(Diagnosis.diagnose(run).first { $0.id == .poolSaturation })
        #expect(
            finding.evidence[0].contains(
                "lab_db_pool_checked_out = 3 of 3 (lab_db_pool_size 2 + lab_db_pool_max_overflow 1)"
            )
        )
        #expect(finding.evidence.contains { $0.contains("lab_db_pool_waiting peaked at 29") })
        #expect(finding.evidence.contains { $0.contains("lab_db_pool_timeouts_total rose by") })
        #expect(finding.since == 1)
    }

    @Test func aFullPoolThatNobodyWaitsForIsNotABottleneck() {
        var run = diagnosedRun(seconds: 10)
        run.probes = [labPool(inUse: { _ in 3 }, waiting: { _ in 0 }, seconds: 10)]
        #expect(!ids(run).contains("pool-saturation"))
    }

    @Test func hikariPoolsAreReadToo() {
        var run = diagnosedRun(seconds: 8)
        run.probes = [
            probe(
                "prometheus",
                [
                    "hikaricp_connections_active": { _ in 10 }, "hikaricp_connections_max": { _ in 10 },
                    "hikaricp_connections_pending": { _ in 7 },
                ],
                seconds: 8
            )
        ]
        #expect(ids(run).contains("pool-saturation"))
    }

    @Test func fiveHundredsAfterSaturationAreTiedToThePool() throws {
        var run = diagnosedRun(seconds: 10) { s, e in e.serverErrors = s >= 5 ? 40 : 0 }
        run.status = ["200": 4000, "500": 240]
        run.probes = [labPool(inUse: { $0 >= 2 ? 3 : 1 }, waiting: { $0 >= 2 ? 20 : 0 }, seconds: 10)]
        let finding = try #require(Diagnosis.diagnose(run).first { $0.id == .errorsAfterSaturation })
        #expect(finding.severity == .critical)
        #expect(finding.evidence.contains { $0.contains("240 × 500") })
        // 5xx that began before the pool filled have another cause.
        var early = diagnosedRun(seconds: 10) { s, e in e.serverErrors = s >= 1 ? 40 : 0 }
        early.probes = [labPool(inUse: { $0 >= 6 ? 3 : 1 }, waiting: { $0 >= 6 ? 20 : 0 }, seconds: 10)]
        #expect(!ids(early).contains("errors-after-saturation"))
    }

    @Test func droppedConnectionsBeforeAny5xxPointAtTheDoor() throws {
        var run = diagnosedRun(seconds: 8) { s, e in e.failed = s >= 3 ? 12 : 0 }
        run.transportErrors = ["no_response": 72]
        let finding = try #require(Diagnosis.diagnose(run).first { $0.id == .noResponseBefore5xx })
        #expect(finding.evidence[0].contains("72 no_response"))
        #expect(finding.evidence[1] == "no 5xx at all")
        var later = diagnosedRun(seconds: 8) { s, e in
            e.failed = s >= 5 ? 12 : 0
            e.serverErrors = s >= 2 ? 3 : 0
        }
        later.transportErrors = ["no_response": 48]
        #expect(!ids(later).contains("no-response-before-5xx"))
    }

    @Test func aTargetAtItsCoresIsCPUBound() {
        var run = diagnosedRun(seconds: 10)
        run.probes = [probe("process", ["proc.cpu_percent": { _ in 192 }, "proc.cores": { _ in 2 }], seconds: 10)]
        #expect(ids(run).contains("cpu-bound"))
        // Sharing two cores with the generator, the target took the larger share of a busy machine.
        var shared = diagnosedRun(seconds: 10) { _, e in e.hostCPUPercent = 97 }
        shared.probes = [probe("process", ["proc.cpu_percent": { _ in 130 }, "proc.cores": { _ in 2 }], seconds: 10)]
        #expect(ids(shared).contains("cpu-bound"))
        // Throughput still climbing: not saturated yet.
        var climbing = diagnosedRun(seconds: 9, rps: { Double($0) * 100 })
        climbing.probes = [probe("process", ["proc.cpu_percent": { _ in 195 }, "proc.cores": { _ in 2 }], seconds: 9)]
        #expect(!ids(climbing).contains("cpu-bound"))
    }

    @Test func aGeneratorAtItsLimitInvalidatesTheRun() throws {
        let run = diagnosedRun(seconds: 6) { _, e in
            e.loopCPUMaxPercent = 99
            e.loopLagMs = 80
        }
        let finding = try #require(Diagnosis.diagnose(run).first)
        #expect(finding.id == .generatorBound)
        #expect(finding.title == "Generator-bound: results not valid")
        #expect(finding.evidence.count == 2)
    }

    @Test func latencyClimbingWithCPUAndDatabaseToSpareIsQueueing() throws {
        var run = diagnosedRun(seconds: 12, p50: { 10 + Double($0 * $0) })
        run.probes = [probe("process", ["proc.cpu_percent": { _ in 30 }, "proc.cores": { _ in 2 }], seconds: 12)]
        let finding = try #require(Diagnosis.diagnose(run).first { $0.id == .queueing })
        #expect(finding.evidence.contains { $0.contains("CPU at 30 % of 200 %") && $0.contains("not CPU-bound") })
        #expect(ids(diagnosedRun(seconds: 12)).isEmpty)
    }

    @Test func syncLoggingAndBusyWorkersAreNamedFromTheLabsMetrics() {
        var logging = diagnosedRun(seconds: 8)
        logging.probes = [probe("prometheus", ["lab_log_seconds_total": { Double($0) * 0.97 }], seconds: 8)]
        #expect(ids(logging) == ["sync-logging"])
        var workers = diagnosedRun(seconds: 8)
        workers.probes = [
            probe(
                "prometheus",
                ["lab_workers": { _ in 3 }, "lab_workers_busy": { _ in 3 }, "lab_worker_queue_depth": { Double($0) }],
                seconds: 8
            )
        ]
        #expect(ids(workers) == ["workers-exhausted"])
    }

    @Test func steadyMemoryGrowthIsFoundAndNoiseIsNot() {
        var run = diagnosedRun(seconds: 20)
        run.probes = [probe("process", ["proc.rss_bytes": { 100e6 + Double($0) * 5e6 }], seconds: 20)]
        #expect(ids(run) == ["memory-growth"])
        // Ten seconds of warm-up allocation is not a leak.
        var short = diagnosedRun(seconds: 10)
        short.probes = [probe("process", ["proc.rss_bytes": { 100e6 + Double($0) * 5e6 }], seconds: 10)]
        #expect(ids(short).isEmpty)
        var flat = diagnosedRun(seconds: 20)
        flat.probes = [probe("process", ["proc.rss_bytes": { 100e6 + Double($0 % 3) * 4e6 }], seconds: 20)]
        #expect(ids(flat).isEmpty)
    }

    @Test func autovacuumDuringWritesIsCorrelatedWithLatency() throws {
        var run = diagnosedRun(seconds: 12, p50: { (5...8).contains($0) ? 60 : 12 })
        run.probes = [
            probe(
                "postgres",
                [
                    "pg.autovacuum.workers": { (5...8).contains($0) ? 1 : 0 },
                    "pg.rows.inserted_per_s": { _ in 800 },
                    "pg.table.todos.dead_tuples": { Double($0) * 1000 },
                ],
                seconds: 12
            )
        ]
        let finding = try #require(Diagnosis.diagnose(run).first { $0.id == .autovacuum })
        #expect(finding.evidence.contains { $0.contains("pg.table.todos.dead_tuples") })
    }

    @Test func postgresNearMaxConnectionsIsCritical() {
        var run = diagnosedRun(seconds: 8)
        run.probes = [
            probe("postgres", ["pg.connections.total": { _ in 97 }, "pg.max_connections": { _ in 100 }], seconds: 8)
        ]
        #expect(ids(run) == ["postgres-max-connections"])
    }

    @Test func aReadinessProbeThatFailsThreeTimesWouldRemoveTheInstance() throws {
        var run = diagnosedRun(seconds: 30)
        var polls: [HealthPoll] = []
        for i in 0..<6 {
            let ok = i < 2
            polls.append(
                HealthPoll(t: Double(i * 5), ok: ok, status: ok ? 200 : nil, error: ok ? nil : "timeout after 1s")
            )
        }
        run.health = HealthWatchResult(
            url: "http://127.0.0.1/ready",
            periodS: 5,
            timeoutS: 1,
            failureThreshold: 3,
            successThreshold: 1,
            polls: polls
        )
        let finding = try #require(Diagnosis.diagnose(run).first)
        #expect(finding.id == .healthWouldFail)
        #expect(finding.statement.contains("unready at 20 s"))
        #expect(finding.evidence[0].contains("4 × timeout after 1s"))
        // Two failures in a row are not enough.
        run.health?.polls[4].ok = true
        run.health = HealthWatchResult(
            url: "x",
            periodS: 5,
            timeoutS: 1,
            failureThreshold: 3,
            successThreshold: 1,
            polls: run.health!.polls
        )
        #expect(Diagnosis.diagnose(run).isEmpty)
    }

    @Test func sweepsAreReadAsOneSteppedLoad() {
        // Each level alone is flat; laid end to end, latency climbs while throughput does not.
        let levels = [10.0, 12, 40, 90].map { p50 in diagnosedRun(seconds: 3, p50: { _ in p50 }) }
        #expect(levels.allSatisfy { Diagnosis.diagnose($0).isEmpty })
        #expect(Diagnosis.diagnose(runs: levels).map(\.id.rawValue) == ["queueing"])
    }
}

@Suite struct ReadinessTrackerTests {
    @Test func followsKubernetesThresholds() {
        var tracker = ReadinessTracker(failureThreshold: 3, successThreshold: 2)
        let script: [(Bool, Bool?)] = [
            (true, nil), (false, nil), (false, nil), (false, false), (false, nil),
            (true, nil), (false, nil), (true, nil), (true, true), (false, nil),
        ]
        for (i, (ok, expected)) in script.enumerated() {
            let transition = tracker.observe(ok: ok, at: Double(i))
            #expect(transition?.ready == expected, "step \(i)")
        }
    }

    @Test func unreadyTimeCountsToTheEndOfTheRun() {
        let polls = [true, false, false, true, false, false].enumerated().map {
            HealthPoll(t: Double($0.offset * 10), ok: $0.element)
        }
        let result = HealthWatchResult(
            url: "u",
            periodS: 10,
            timeoutS: 1,
            failureThreshold: 2,
            successThreshold: 1,
            polls: polls
        )
        #expect(result.transitions.map(\.t) == [20, 30, 50])
        #expect(result.unreadySeconds(until: 70) == 10 + 20)
    }
}
