import Foundation
import PostgresNIO
import Testing
import VolleyCore

@testable import VolleyProbes

/// Clients, wait events, query ages and statement times on a real PostgreSQL. In the
/// serialized live suite, since what the probe sees is server-wide.
extension PostgresLiveTests {
    typealias Series = ProbeSeries.Postgres

    /// A pool of four connections, three of them busy: the server sees one client with four
    /// connections, three active and sleeping.
    @Test func aPoolIsOneClientWithItsConnectionsByStateAndWhatTheyWaitOn() async throws {
        guard let url = LivePostgres.url() else { return }
        var pool: [PostgresConnection] = []
        for _ in 0..<4 { pool.append(try await LivePostgres.connect(url, applicationName: "pooltest")) }
        let probe = PostgresProbe(target: try LivePostgres.target(url))
        let before = try await probe.sample(at: 0)
        #expect(before[Series.client("pooltest", .connections)] == 4)
        #expect(before[Series.client("pooltest", .active)] == 0)
        #expect(before[Series.client("pooltest", .idle)] == 4)
        #expect(before[Series.client("volley-probe", .connections)] == nil)

        let (a, b, c) = (pool[0], pool[1], pool[2])
        async let first: Void = a.run("SELECT pg_sleep(1.5)")
        async let second: Void = b.run("SELECT pg_sleep(1.5)")
        async let third: Void = c.run("SELECT pg_sleep(1.5)")
        let during = try await poll(probe, attempts: 12, every: .milliseconds(100)) {
            $0[Series.client("pooltest", .active)] == 3 && ($0[Series.oldestQuerySeconds] ?? 0) > 0.3
        }
        _ = try await (first, second, third)
        #expect(during[Series.client("pooltest", .connections)] == 4)
        #expect(during[Series.client("pooltest", .active)] == 3)
        #expect(during[Series.client("pooltest", .idle)] == 1)
        #expect((during[Series.wait("Timeout")] ?? 0) >= 3)
        #expect((during[Series.oldestQuerySeconds] ?? 0) > 0.3)
        for type in Series.standardWaitTypes { #expect(during[Series.wait(type)] != nil, "\(type)") }
        #expect(during[Series.waitCPU] != nil)

        for connection in pool { try await connection.close() }
        // The client is gone: its series reads 0 rather than stopping.
        let after = try await poll(probe) { $0[Series.client("pooltest", .connections)] == 0 }
        #expect(after[Series.client("pooltest", .connections)] == 0)
        let notes = await probe.notes()
        #expect(
            notes.contains {
                $0.hasPrefix("wait events of active queries over the run: ") && $0.contains("Timeout/PgSleep")
            },
            "\(notes)"
        )
        await probe.close()
    }

    /// A transaction holding a row lock and a session blocked behind it: the blocked client is
    /// waiting on a lock, the holder idle in its transaction.
    @Test func aLockWaitIsTheBlockedClientsAndTheHoldersTransactionAges() async throws {
        guard let url = LivePostgres.url() else { return }
        let holder = try await LivePostgres.connect(url, applicationName: "lock-holder")
        let waiter = try await LivePostgres.connect(url, applicationName: "lock-waiter")
        try await holder.run("DROP TABLE IF EXISTS probe_client_locks")
        try await holder.run("CREATE TABLE probe_client_locks (id int PRIMARY KEY, v int)")
        try await holder.run("INSERT INTO probe_client_locks VALUES (1, 0)")
        let probe = PostgresProbe(target: try LivePostgres.target(url))
        let before = try await probe.sample(at: 0)
        #expect(before[Series.oldestTransactionSeconds] == 0)
        #expect(before[Series.wait("Lock")] == 0)

        try await holder.run("BEGIN")
        try await holder.run("UPDATE probe_client_locks SET v = 1 WHERE id = 1")
        try await waiter.run("SET lock_timeout = '10s'")
        async let blocked: Void = waiter.run("UPDATE probe_client_locks SET v = 2 WHERE id = 1")
        let during = try await poll(probe) { $0[Series.client("lock-waiter", .waitingLock)] == 1 }
        try await holder.run("ROLLBACK")
        try await blocked
        #expect(during[Series.client("lock-waiter", .waitingLock)] == 1)
        #expect(during[Series.client("lock-waiter", .active)] == 1)
        #expect((during[Series.wait("Lock")] ?? 0) >= 1)
        #expect(during[Series.client("lock-holder", .idleInTransaction)] == 1)
        #expect(during[Series.client("lock-holder", .waitingLock)] == 0)
        #expect((during[Series.oldestTransactionSeconds] ?? 0) > 0)
        #expect((during[Series.oldestQuerySeconds] ?? 0) > 0)

        try await holder.run("DROP TABLE probe_client_locks")
        try await holder.close()
        try await waiter.close()
        await probe.close()
    }

    /// Twenty 10 ms statements between two samples: their mean, and nothing from the probe's
    /// own queries when it runs alone.
    @Test func statementTimesLeaveTheProbesOwnQueriesOut() async throws {
        guard let url = LivePostgres.url() else { return }
        let db = try await LivePostgres.connect(url)
        let probe = PostgresProbe(target: try LivePostgres.target(url))
        let start = ContinuousClock.now
        // Alone: the probe's own statements must not count as calls.
        var alone: [Double?] = []
        for _ in 0..<5 {
            let values = try await probe.sample(at: seconds(since: start))
            alone.append(values[Series.statementsCallsPerSecond])
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(alone.contains { $0 != nil }, "no statement rate in five samples: \(alone)")
        #expect(alone.allSatisfy { $0 == nil || $0 == 0 }, "\(alone)")

        for _ in 0..<20 { try await db.run("SELECT pg_sleep(0.01)") }
        let values = try await probe.sample(at: seconds(since: start))
        let mean = try #require(values[Series.statementsMeanMilliseconds])
        #expect(mean >= 8 && mean <= 100, "\(mean)")
        #expect((values[Series.statementsCallsPerSecond] ?? 0) > 0)

        let notes = await probe.notes()
        #expect(
            notes.contains {
                $0.hasPrefix("statement #1 by time during the run: 20 calls, mean ")
                    && $0.hasSuffix("SELECT pg_sleep($1)")
            },
            "\(notes)"
        )
        #expect(!notes.contains { $0.contains(PostgresStatements.marker) }, "\(notes)")
        try await db.close()
        await probe.close()
    }

    /// A database without the extension: a note on how to add it, and every other series.
    @Test func withoutPgStatStatementsTheProbeSaysHowToAddIt() async throws {
        guard let url = LivePostgres.url() else { return }
        let db = try await LivePostgres.connect(url)
        try await db.run("DROP DATABASE IF EXISTS volley_nostatements")
        try await db.run("CREATE DATABASE volley_nostatements")
        var target = try LivePostgres.target(url)
        target.database = "volley_nostatements"
        let probe = PostgresProbe(target: target)
        _ = try await probe.sample(at: 0)
        let values = try await probe.sample(at: 1)
        #expect(values[Series.connectionsTotal] != nil)
        #expect(values[Series.statementsCallsPerSecond] == nil)
        let notes = await probe.notes()
        #expect(
            notes.contains(
                "pg_stat_statements is not installed in volley_nostatements: per-statement times unavailable "
                    + "(CREATE EXTENSION pg_stat_statements; needs shared_preload_libraries)"
            ),
            "\(notes)"
        )
        await probe.close()
        try await db.run("DROP DATABASE volley_nostatements")
        try await db.close()
    }
}
