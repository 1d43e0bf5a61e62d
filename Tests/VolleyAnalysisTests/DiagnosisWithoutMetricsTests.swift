import Foundation
import Testing
import VolleyCore

@testable import VolleyAnalysis

/// The rules that read a service from the outside — PostgreSQL's per-client connections and
/// wait events, the process's threads and CPU, Little's law on Volley's own counts — on runs
/// shaped like the field targets (docs/field-targets.md), with the figures measured there.
@Suite struct DiagnosisWithoutMetricsTests {
    /// A closed-model run at `inFlight` requests outstanding, `rps` a second, per-second p50
    /// `p50`, fastest response `fastestMs`.
    func queued(rps: Double, p50: Double, fastestMs: Double, inFlight: Int, seconds: Int = 8) -> RunSummary {
        var run = diagnosedRun(
            seconds: seconds,
            edit: { _, e in e.inFlight = inFlight },
            rps: { _ in rps },
            p50: { _ in p50 }
        )
        run.latencyMs.min = fastestMs
        return run
    }

    func postgres(
        client: String,
        connections: Double,
        active: Double,
        seconds: Int = 8,
        extra: [String: (Int) -> Double] = [:]
    )
        -> ProbeResult
    {
        var series: [String: (Int) -> Double] = [
            "pg.client.\(client).connections": { _ in connections },
            "pg.client.\(client).active": { _ in active },
            "pg.connections.total": { _ in connections + 5 },
            "pg.connections.active": { _ in active },
            "pg.max_connections": { _ in 100 },
        ]
        series.merge(extra) { a, _ in a }
        return probe("postgres", series, seconds: seconds)
    }

    func process(
        cpu: Double,
        busiest: Double? = nil,
        processes: Double,
        threads: Double,
        states: [String: Double] = [:],
        python: Bool = true,
        seconds: Int = 8
    ) -> ProbeResult {
        var series: [String: (Int) -> Double] = [
            "proc.cpu_percent": { _ in cpu }, "proc.cores": { _ in 2 }, "proc.count": { _ in processes },
            "proc.threads": { _ in threads }, "proc.busiest.cpu_percent": { _ in busiest ?? cpu },
            "proc.busiest.threads": { _ in threads - processes + 1 }, "proc.busiest.python": { _ in python ? 1 : 0 },
        ]
        for (name, value) in states { series["proc.threads.\(name)"] = { _ in value } }
        return probe("process", series, seconds: seconds)
    }

    // Measured on `pool`: 53 req/s, p50 1.2 s, 15 connections in PostgreSQL, 64 in flight, 66 threads.
    @Test func aClientPinnedBelowMaxConnectionsIsItsPool() throws {
        var run = queued(rps: 53, p50: 1211, fastestMs: 302, inFlight: 64)
        run.status = ["200": 299, "500": 31]
        run.errorSamples = [
            "500": [
                ErrorSample(
                    excerpt:
                        "database error: QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 1.00",
                    count: 12
                )
            ]
        ]
        run.probes = [
            postgres(client: "field-pool", connections: 15, active: 15),
            process(cpu: 20, processes: 2, threads: 66, states: ["lock_wait": 51, "net_wait": 13]),
        ]
        let findings = Diagnosis.diagnose(run)
        #expect(findings.map(\.id) == [.poolSaturation], "\(findings.map(\.title))")
        let pool = try #require(findings.first)
        #expect(pool.title == "Database connection pool saturated: 15 connections")
        #expect(pool.severity == .critical)
        #expect(pool.evidence.contains { $0.contains("PostgreSQL saw 15 connections from field-pool") })
        #expect(pool.evidence.contains { $0.contains("≈ 16 served at a time") })
        #expect(
            pool.evidence.contains {
                $0.contains("31 × 500") && $0.contains("QueuePool limit") && $0.contains("checkout timeouts")
            }
        )
        #expect(pool.evidence.contains { $0.contains("about 64 threads") })
    }

    // The twin: 64 connections for 64 in flight, latency ≈ the query — nothing waited before the database.
    @Test func aClientWithAConnectionPerRequestIsNotCapped() {
        var run = queued(rps: 187, p50: 306, fastestMs: 301, inFlight: 64)
        run.probes = [postgres(client: "field-pool-healthy", connections: 64, active: 62)]
        #expect(Diagnosis.diagnose(run).isEmpty)
    }

    // Measured on `workers`: two sync workers, each holding one connection: the pool is not the cap.
    @Test func twoWorkersWithAConnectionEachAreTheWorkersNotAPool() throws {
        var run = queued(rps: 37, p50: 1727, fastestMs: 52, inFlight: 64)
        run.probes = [
            postgres(client: "field-workers", connections: 2, active: 2),
            process(cpu: 7, busiest: 4, processes: 3, threads: 3, states: ["net_wait": 2]),
        ]
        let findings = Diagnosis.diagnose(run)
        #expect(findings.map(\.id) == [.workersExhausted], "\(findings.map(\.title))")
        #expect(findings.first?.title == "Every worker busy: 2 at a time")
        // Without the process probe, the same PostgreSQL picture stays ambiguous and says so.
        var blind = run
        blind.probes = [postgres(client: "field-workers", connections: 2, active: 2)]
        let pool = try #require(Diagnosis.diagnose(blind).first { $0.id == .poolSaturation })
        #expect(pool.evidence.contains { $0.contains("no process probe") })
    }

    // Measured on `gil`: 209 req/s, the one worker at 95 % of a core with 9 threads.
    @Test func onePythonProcessAtOneCoreIsTheGIL() throws {
        var run = queued(rps: 209, p50: 74, fastestMs: 5, inFlight: 16)
        run.probes = [
            process(cpu: 96, busiest: 95, processes: 2, threads: 10, states: ["lock_wait": 4.5, "running": 3])
        ]
        let findings = Diagnosis.diagnose(run)
        #expect(findings.map(\.id) == [.singleCoreProcess], "\(findings.map(\.title))")
        #expect(findings.first?.title == "One Python process capped at one core (the GIL)")
        // 88 % of one core is the ceiling of one process, whatever the machine has.
        #expect(findings.first?.evidence.first?.contains("95 % of one core") == true)
        // The machine itself full: not one process's ceiling.
        var full = run
        full.timeline = full.timeline.map {
            var e = $0
            e.hostCPUPercent = 99
            return e
        }
        #expect(!ids(full).contains("single-core-process"))
        // Two processes sharing the work: no single-core ceiling.
        var twin = queued(rps: 360, p50: 42, fastestMs: 5, inFlight: 16)
        twin.probes = [process(cpu: 160, busiest: 85 - 10, processes: 3, threads: 11)]
        #expect(!ids(twin).contains("single-core-process"))
        // Two workers, one of them at one core and the other idle (16 keep-alive connections
        // mostly accepted by one worker, seen on the twin): pinned, not the GIL's ceiling.
        var pinned = run
        pinned.probes = [process(cpu: 104, busiest: 97, processes: 3, threads: 11, states: ["lock_wait": 8])]
        #expect(!ids(pinned).contains("single-core-process"))
    }

    // Measured on `blocking-log`: 174 req/s, p50 90 ms, the worker at 18 % of a core, 7 threads
    // on one futex and one in nanosleep.
    @Test func oneRequestAtATimeWithIdleCPUIsABlockingCall() throws {
        var run = queued(rps: 174, p50: 90, fastestMs: 5.4, inFlight: 16)
        run.probes = [process(cpu: 18, processes: 2, threads: 10, states: ["lock_wait": 7, "sleep": 1, "net_wait": 1])]
        let findings = Diagnosis.diagnose(run)
        #expect(findings.map(\.id) == [.blockingCall], "\(findings.map(\.title))")
        let f = try #require(findings.first)
        #expect(f.evidence.contains { $0.contains("≈ 0.9 served at a time") })
        #expect(f.evidence.contains { $0.contains("lock_wait 7.0") })
        // Threads seen, none of them waiting on a lock: not this rule.
        var noLock = run
        noLock.probes = [process(cpu: 18, processes: 2, threads: 10, states: ["net_wait": 8])]
        #expect(!ids(noLock).contains("blocking-call"))
    }

    // Measured on `lock`: 19 req/s, 15 of 16 active queries waiting on a Lock.
    @Test func queriesWaitingOnLocksAreTheDatabases() throws {
        var run = queued(rps: 19, p50: 577, fastestMs: 52, inFlight: 16)
        run.probes = [
            postgres(
                client: "field-lock",
                connections: 16,
                active: 16,
                extra: ["pg.wait.lock": { _ in 15 }, "pg.lock_waits": { _ in 15 }]
            ),
            process(cpu: 5, processes: 2, threads: 34, states: ["net_wait": 16]),
        ]
        let findings = Diagnosis.diagnose(run)
        #expect(findings.map(\.id) == [.databaseLockWait], "\(findings.map(\.title))")
        #expect(findings.first?.evidence.first?.contains("15 of 16 active queries waited on a lock") == true)
    }

    @Test func databaseTimeThatGrowsWithTheLoadIsSlowQueries() {
        // Time in PostgreSQL per request: 8 active at 400 req/s (20 ms) early, 8 at 100 req/s (80 ms) late.
        var run = diagnosedRun(
            seconds: 12,
            edit: { _, e in e.inFlight = 8 },
            rps: { $0 <= 4 ? 400 : ($0 <= 8 ? 200 : 100) },
            p50: { $0 <= 4 ? 22 : ($0 <= 8 ? 42 : 82) }
        )
        run.latencyMs.min = 15
        run.probes = [
            probe("postgres", ["pg.connections.active": { _ in 8 }, "pg.max_connections": { _ in 100 }], seconds: 12)
        ]
        #expect(ids(run).contains("slow-queries"))
    }

    @Test func errorsNobodyExplainsAreNeverNoBottleneck() throws {
        var run = diagnosedRun(seconds: 8)
        run.status = ["200": 3900, "503": 100]
        run.transportErrors = ["timeout": 7]
        run.errorSamples = ["503": [ErrorSample(excerpt: "upstream\nunavailable", count: 5)]]
        let findings = Diagnosis.diagnose(run)
        let f = try #require(findings.first { $0.id == .errors })
        #expect(f.severity == .critical)
        #expect(f.evidence.contains("100 × 503: \"upstream unavailable\""))
        #expect(f.evidence.contains("7 × timeout (no HTTP response)"))
        #expect(f.title.hasPrefix("107 requests failed"))
    }

    @Test func unknownIdsFromAnotherVersionStillDecode() throws {
        let json = #"{"id":"from-the-future","title":"t","statement":"s","evidence":[],"next":"n","severity":"dire"}"#
        let f = try JSONDecoder().decode(Finding.self, from: Data(json.utf8))
        #expect(f.id == .unknown)
        #expect(f.severity == .warning)
    }

    /// A sweep's quiet first levels dilute the width: the most loaded level is judged alone too.
    @Test func aSweepNamesThePoolAtItsMostLoadedLevel() throws {
        var low = queued(rps: 13, p50: 303, fastestMs: 301, inFlight: 4)
        low.probes = [postgres(client: "app", connections: 4, active: 4)]
        var mid = queued(rps: 45, p50: 340, fastestMs: 301, inFlight: 16)
        mid.probes = [postgres(client: "app", connections: 15, active: 15)]
        var high = queued(rps: 50, p50: 1250, fastestMs: 302, inFlight: 64)
        high.probes = [postgres(client: "app", connections: 15, active: 15)]
        high.status = ["200": 380, "500": 20]
        let findings = Diagnosis.diagnose(runs: [low, mid, low, mid, high])
        let pool = try #require(findings.first { $0.id == .poolSaturation }, "\(findings.map(\.title))")
        #expect(pool.evidence[0].hasPrefix("at the most loaded level (32 connections): PostgreSQL saw 15 connections"))
        #expect(pool.evidence.contains { $0.contains("20 × 500") })
        #expect(!findings.contains { $0.id == .errors })
        #expect((pool.since ?? 0) >= 32, "the level's own time, shifted to where it began in the sweep")
    }

    /// Connections held idle in a transaction (the service works between its queries) are
    /// checked out of the pool all the same.
    @Test func connectionsIdleInATransactionCountAsHeld() throws {
        var run = queued(rps: 40, p50: 1500, fastestMs: 250, inFlight: 64)
        run.probes = [
            postgres(
                client: "app",
                connections: 10,
                active: 2,
                extra: ["pg.client.app.idle_in_transaction": { _ in 8 }]
            )
        ]
        let pool = try #require(Diagnosis.diagnose(run).first { $0.id == .poolSaturation })
        #expect(pool.evidence[0].contains("2 of them active and 8 idle in a transaction"))
        #expect(pool.evidence.contains { $0.contains("(10 held ÷ 40 req/s)") })
    }

    /// Measured on freshly started targets: the first requests opened connections (85 ms
    /// instead of 52 on `workers`, 9.8 instead of 7.0 ms on `blocking-log`), the only ones
    /// that did not queue. The width stands above the resource; the rules still name it.
    @Test func aColdStartInflatesTheWidthButNotTheVerdict() {
        var workers = queued(rps: 36, p50: 448, fastestMs: 84.7, inFlight: 16)
        workers.probes = [
            postgres(client: "field-workers", connections: 2, active: 2),
            process(cpu: 8, busiest: 4, processes: 3, threads: 4, states: ["net_wait": 2.9, "lock_wait": 1]),
        ]
        #expect(ids(workers) == ["workers-exhausted"])
        var log = queued(rps: 166.7, p50: 94.4, fastestMs: 9.75, inFlight: 16)
        log.probes = [
            process(cpu: 19, processes: 2, threads: 10, states: ["lock_wait": 7.8, "net_wait": 1.8, "sleep": 0.7])
        ]
        #expect(ids(log) == ["blocking-call"])
    }
}
