import Foundation
import Testing
import VolleyCore

/// The acceptance tests of the diagnosis: each field target (field/README.md) — real Flask,
/// SQLAlchemy, psycopg2 and gunicorn on PostgreSQL, exporting no metrics — run through the
/// binary as a user would, with `--probe postgres://…` and `--probe pid:MASTER`, and the
/// finding Volley prints checked: the pathology named, with the evidence that rules out the
/// others; on the healthy twin, no finding of that family. Five seconds a load.
@Suite(.serialized) struct FieldDiagnosisTests {
    func diagnose(
        _ variable: String,
        path: String,
        connections: Int,
        database: Bool,
        extra: [String] = []
    ) throws
        -> (summary: RunSummary, ids: [FindingID])
    {
        let url = try #require(fieldApp(variable))
        let master = try #require(fieldApp(variable + "_PID"))
        var probes = ["pid:\(master)"]
        if database { probes.append(try #require(fieldApp("VOLLEY_TEST_POSTGRES"))) }
        let s = try fieldRun(url + path, connections: connections, probes: probes, extra: extra, seconds: 5)
        return (s, (s.findings ?? []).map(\.id))
    }

    func describe(_ s: RunSummary) -> String {
        (s.findings ?? []).map { "\($0.id.rawValue): \($0.title) | " + $0.evidence.joined(separator: " | ") }
            .joined(separator: "\n")
    }

    /// QueuePool 5 + 10 under 64 threads: the pool, its 15 connections, and the 500s as its timeouts.
    @Test(.enabled(if: fieldAppsGiven("VOLLEY_FIELD_POOL")))
    func thePoolIsNamedWithItsConnectionsAndItsTimeouts() throws {
        let (s, ids) = try diagnose("VOLLEY_FIELD_POOL", path: "/books", connections: 64, database: true)
        let pool = try #require(s.findings?.first { $0.id == .poolSaturation }, "\(describe(s))")
        #expect(pool.title == "Database connection pool saturated: 15 connections", "\(describe(s))")
        #expect(pool.evidence.contains { $0.contains("PostgreSQL saw 15 connections from field-pool") })
        #expect(pool.evidence.contains { $0.contains("threads to serve requests, more than 15") }, "\(describe(s))")
        if (s.status["500"] ?? 0) > 0 {
            #expect(pool.evidence.contains { $0.contains("× 500") && $0.contains("QueuePool limit") })
        }
        #expect(!ids.contains(.workersExhausted) && !ids.contains(.errors), "\(describe(s))")

        let (h, healthy) = try diagnose("VOLLEY_FIELD_POOL_HEALTHY", path: "/books", connections: 64, database: true)
        #expect(!healthy.contains(.poolSaturation) && !healthy.contains(.errors), "\(describe(h))")
    }

    /// Two sync workers, one connection each: the workers, not a pool of 2.
    @Test(.enabled(if: fieldAppsGiven("VOLLEY_FIELD_WORKERS")))
    func twoSyncWorkersAreTheWorkers() throws {
        let (s, ids) = try diagnose("VOLLEY_FIELD_WORKERS", path: "/report", connections: 16, database: true)
        let workers = try #require(s.findings?.first { $0.id == .workersExhausted }, "\(describe(s))")
        #expect(workers.title == "Every worker busy: 2 at a time", "\(describe(s))")
        #expect(!ids.contains(.poolSaturation), "\(describe(s))")

        let (h, healthy) = try diagnose(
            "VOLLEY_FIELD_WORKERS_HEALTHY",
            path: "/report",
            connections: 16,
            database: true
        )
        #expect(
            healthy.allSatisfy { ![.workersExhausted, .poolSaturation, .blockingCall].contains($0) },
            "\(describe(h))"
        )
    }

    /// One gunicorn worker of 8 threads doing pure-Python work: one core, the GIL.
    @Test(.enabled(if: fieldAppsGiven("VOLLEY_FIELD_GIL")))
    func onePythonWorkerIsCappedByTheGIL() throws {
        let (s, _) = try diagnose("VOLLEY_FIELD_GIL", path: "/work", connections: 16, database: false)
        let gil = try #require(s.findings?.first { $0.id == .singleCoreProcess }, "\(describe(s))")
        #expect(gil.title == "One Python process capped at one core (the GIL)")

        let (h, healthy) = try diagnose("VOLLEY_FIELD_GIL_HEALTHY", path: "/work", connections: 16, database: false)
        #expect(!healthy.contains(.singleCoreProcess) && !healthy.contains(.blockingCall), "\(describe(h))")
    }

    /// A log handler that sleeps 5 ms under its lock: one request at a time, the CPU idle.
    @Test(.enabled(if: fieldAppsGiven("VOLLEY_FIELD_BLOCKING_LOG")))
    func aBlockingLogHandlerIsABlockingCall() throws {
        let (s, ids) = try diagnose("VOLLEY_FIELD_BLOCKING_LOG", path: "/orders", connections: 16, database: false)
        let call = try #require(s.findings?.first { $0.id == .blockingCall }, "\(describe(s))")
        #expect(call.evidence.contains { $0.contains("lock_wait") }, "\(describe(s))")
        #expect(!ids.contains(.singleCoreProcess) && !ids.contains(.workersExhausted), "\(describe(s))")

        // The twin logs through a queue: no blocking call. (At 16 connections its one Python
        // process runs at its one-core ceiling — measured 99–101 % — and may be named for it.)
        let (h, healthy) = try diagnose(
            "VOLLEY_FIELD_BLOCKING_LOG_HEALTHY",
            path: "/orders",
            connections: 16,
            database: false
        )
        #expect(!healthy.contains(.blockingCall) && !healthy.contains(.workersExhausted), "\(describe(h))")
    }

    /// Every request updates one hot row: PostgreSQL's lock waits, whatever the pool or workers.
    @Test(.enabled(if: fieldAppsGiven("VOLLEY_FIELD_LOCK")))
    func aHotRowIsALockWaitInTheDatabase() throws {
        let (s, ids) = try diagnose(
            "VOLLEY_FIELD_LOCK",
            path: "/orders",
            connections: 16,
            database: true,
            extra: ["-X", "POST"]
        )
        let lock = try #require(s.findings?.first { $0.id == .databaseLockWait }, "\(describe(s))")
        #expect(lock.evidence.first?.contains("active queries waited on a lock") == true)
        #expect(ids.allSatisfy { ![.poolSaturation, .blockingCall, .workersExhausted].contains($0) }, "\(describe(s))")

        let (h, healthy) = try diagnose(
            "VOLLEY_FIELD_LOCK_HEALTHY",
            path: "/orders",
            connections: 16,
            database: true,
            extra: ["-X", "POST"]
        )
        #expect(!healthy.contains(.databaseLockWait) && !healthy.contains(.poolSaturation), "\(describe(h))")
    }

    /// Every target, pathology and twin alike, at an arrival rate well inside what it serves
    /// (open model, a quarter or less of the measured ceilings): nothing queues, nothing
    /// fails, and the diagnosis has nothing to say. The rules fire on evidence of a limit,
    /// not on the shape of a service.
    @Test(.enabled(if: fieldAppsGiven("VOLLEY_FIELD_POOL")))
    func underALightLoadNoTargetGetsAFinding() throws {
        let targets: [(String, String, Int, Bool, [String])] = [
            ("VOLLEY_FIELD_POOL", "/books", 10, true, []),
            ("VOLLEY_FIELD_WORKERS_HEALTHY", "/report", 20, true, []),
            ("VOLLEY_FIELD_GIL", "/work", 30, false, []),
            ("VOLLEY_FIELD_BLOCKING_LOG", "/orders", 30, false, []),
            ("VOLLEY_FIELD_LOCK_HEALTHY", "/orders", 20, true, ["-X", "POST"]),
        ]
        for (variable, path, rate, database, extra) in targets {
            let (s, ids) = try diagnose(
                variable,
                path: path,
                connections: 16,
                database: database,
                extra: extra + ["--rate", "\(rate)/s"]
            )
            #expect(s.failed == 0 && s.errors == 0, "\(variable): \(s.status) \(s.transportErrors)")
            #expect(ids.isEmpty, "\(variable) at \(rate)/s:\n\(describe(s))")
        }
    }
}
