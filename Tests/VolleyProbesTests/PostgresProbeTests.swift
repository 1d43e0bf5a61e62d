import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing
import VolleyCore
import VolleyProbes

#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL the live tests use: `VOLLEY_TEST_POSTGRES` (set by `scripts/start-postgres`).
enum LivePostgres {
    /// The URL, or nil; nil is a failure when `VOLLEY_REQUIRE_SERVICES=1` (CI), so that a
    /// missing server cannot pass as a green run.
    static func url() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["VOLLEY_TEST_POSTGRES"], !url.isEmpty { return url }
        if environment["VOLLEY_REQUIRE_SERVICES"] == "1" {
            Issue.record(
                "VOLLEY_TEST_POSTGRES is not set but VOLLEY_REQUIRE_SERVICES=1: run eval \"$(scripts/start-postgres)\" first"
            )
        }
        return nil
    }

    static func target(_ url: String) throws -> PostgresTarget { try PostgresTarget.parse(url) }

    /// A plain connection for the test's own statements. Kept here as well, so that a test
    /// that fails before closing it does not release it open (PostgresNIO asserts on that).
    static func connect(_ url: String, applicationName: String = "volley-test") async throws -> PostgresConnection {
        var target = try target(url)
        target.applicationName = applicationName
        let connection = try await target.connect(id: 1)
        opened.withLock { $0.append(connection) }
        return connection
    }

    private static let opened = Mutex<[PostgresConnection]>([])
}

extension PostgresConnection {
    /// Runs statements for their effect, with no bind parameters.
    func run(_ sql: String) async throws {
        try await query(PostgresQuery(unsafeSQL: sql), logger: PostgresTarget.silentLogger)
    }

    func scalar(_ sql: String) async throws -> Double? {
        for try await row in try await query(PostgresQuery(unsafeSQL: sql), logger: PostgresTarget.silentLogger) {
            return try row.decode(Double?.self)
        }
        return nil
    }
}

/// Reads the probe until `done` holds, at most `attempts` times `every` apart.
func poll(
    _ probe: PostgresProbe,
    attempts: Int = 40,
    every: Duration = .milliseconds(250),
    clock start: ContinuousClock.Instant = .now,
    until done: ([String: Double]) -> Bool
) async throws -> [String: Double] {
    var last: [String: Double] = [:]
    for _ in 0..<attempts {
        last = try await probe.sample(at: seconds(since: start))
        if done(last) { return last }
        try await Task.sleep(for: every)
    }
    return last
}

func seconds(since start: ContinuousClock.Instant) -> Double {
    let (s, a) = (ContinuousClock.now - start).components
    return Double(s) + Double(a) / 1e18
}

/// Against a real PostgreSQL; serialized, since connection counts are server-wide.
@Suite(.serialized) struct PostgresLiveTests {
    @Test func connectionsAreCountedByStateWithoutTheProbesOwn() async throws {
        guard let url = LivePostgres.url() else { return }
        let probe = PostgresProbe(target: try LivePostgres.target(url))
        try await probe.check()
        let before = try await probe.sample(at: 0)
        let baseTotal = try #require(before["pg.connections.total"])
        let baseIdleInTx = try #require(before["pg.connections.idle_in_transaction"])
        #expect((before["pg.max_connections"] ?? 0) >= 10)

        var held: [PostgresConnection] = []
        for _ in 0..<3 { held.append(try await LivePostgres.connect(url)) }
        try await held[0].run("BEGIN")
        try await held[0].run("SELECT 1")

        let during = try await poll(probe) {
            $0["pg.connections.total"] == baseTotal + 3
                && $0["pg.connections.idle_in_transaction"] == baseIdleInTx + 1
        }
        #expect(during["pg.connections.total"] == baseTotal + 3)
        #expect(during["pg.connections.idle_in_transaction"] == baseIdleInTx + 1)
        #expect((during["pg.connections.idle"] ?? 0) >= 2)

        try await held[0].run("ROLLBACK")
        for connection in held { try await connection.close() }
        let after = try await poll(probe) { $0["pg.connections.total"] == baseTotal }
        #expect(after["pg.connections.total"] == baseTotal)
        await probe.close()
    }

    @Test func commitsAndInsertsPerSecondFollowTheWrites() async throws {
        guard let url = LivePostgres.url() else { return }
        let db = try await LivePostgres.connect(url)
        try await db.run("DROP TABLE IF EXISTS probe_commits")
        try await db.run("CREATE TABLE probe_commits (id serial PRIMARY KEY, v int NOT NULL)")
        let probe = PostgresProbe(target: try LivePostgres.target(url))
        let start = ContinuousClock.now
        _ = try await probe.sample(at: 0)
        for i in 0..<100 { try await db.run("INSERT INTO probe_commits (v) VALUES (\(i))") }
        try await db.run("SELECT pg_stat_force_next_flush()")

        // Rates × intervals add up to what was written (plus whatever else the server did).
        var commits = 0.0
        var inserted = 0.0
        var previous = 0.0
        for _ in 0..<40 where commits < 100 || inserted < 100 {
            try await Task.sleep(for: .milliseconds(250))
            let t = seconds(since: start)
            let values = try await probe.sample(at: t)
            commits += (values["pg.commits_per_s"] ?? 0) * (t - previous)
            inserted += (values["pg.rows.inserted_per_s"] ?? 0) * (t - previous)
            previous = t
            #expect(values["pg.rollbacks_per_s"] != nil)
        }
        #expect(commits.rounded() >= 100)
        #expect(inserted.rounded() >= 100)
        try await db.run("DROP TABLE probe_commits")
        try await db.close()
        await probe.close()
    }

    @Test func deadTuplesAfterUpdatesAndDeletesAndTheirVacuum() async throws {
        guard let url = LivePostgres.url() else { return }
        let db = try await LivePostgres.connect(url)
        try await db.run("DROP TABLE IF EXISTS probe_dead")
        // Autovacuum off for this table, so that the dead tuples stay until the test vacuums.
        try await db.run("CREATE TABLE probe_dead (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)")
        try await db.run("INSERT INTO probe_dead SELECT g, 0 FROM generate_series(1, 20000) g")
        try await db.run("UPDATE probe_dead SET v = 1")
        try await db.run("DELETE FROM probe_dead WHERE id <= 5000")
        try await db.run("SELECT pg_stat_force_next_flush()")
        // The busiest tables are picked at the probe's first reading: wait for the statistics.
        for _ in 0..<40 {
            let dead = try await db.scalar(
                "SELECT n_dead_tup::float8 FROM pg_stat_user_tables WHERE relname = 'probe_dead'"
            )
            if (dead ?? 0) >= 25_000 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let probe = PostgresProbe(target: try LivePostgres.target(url))
        let values = try await probe.sample(at: 0)
        #expect(values["pg.table.probe_dead.dead_tuples"] == 25_000)
        #expect((values["pg.dead_tuples"] ?? 0) >= 25_000)

        try await db.run("VACUUM probe_dead")
        let vacuumed = try await poll(probe) { $0["pg.table.probe_dead.dead_tuples"] == 0 }
        #expect(vacuumed["pg.table.probe_dead.dead_tuples"] == 0)

        let notes = await probe.notes()
        #expect(notes.contains { $0.hasPrefix("table probe_dead: last autovacuum never") }, "\(notes)")
        #expect(notes.contains { $0.hasPrefix("relation probe_dead: ") }, "\(notes)")
        #expect(notes.contains { $0.hasPrefix("max_connections ") }, "\(notes)")
        try await db.run("DROP TABLE probe_dead")
        try await db.close()
        await probe.close()
    }

    @Test func autovacuumRunsShowInTheCounts() async throws {
        guard let url = LivePostgres.url() else { return }
        let db = try await LivePostgres.connect(url)
        try await db.run("DROP TABLE IF EXISTS probe_vacuum")
        try await db.run("CREATE TABLE probe_vacuum (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)")
        try await db.run("INSERT INTO probe_vacuum SELECT g, 0 FROM generate_series(1, 30000) g")
        try await db.run("UPDATE probe_vacuum SET v = 1")
        try await db.run("SELECT pg_stat_force_next_flush()")
        try await Task.sleep(for: .milliseconds(1200))
        let probe = PostgresProbe(target: try LivePostgres.target(url))
        let start = ContinuousClock.now
        let before = try await probe.sample(at: 0)
        let baseCount = try #require(before["pg.autovacuum.count"])
        // Now let autovacuum (naptime 1 s in scripts/start-postgres) find the dead tuples.
        try await db.run("ALTER TABLE probe_vacuum SET (autovacuum_enabled = true)")
        var sawCount = false
        for _ in 0..<60 where !sawCount {
            try await Task.sleep(for: .milliseconds(250))
            let values = try await probe.sample(at: seconds(since: start))
            sawCount = (values["pg.autovacuum.count"] ?? 0) > baseCount
            #expect(values["pg.autovacuum.workers"] != nil)
        }
        #expect(sawCount, "autovacuum did not run within 15 s; is autovacuum_naptime small?")
        let notes = await probe.notes()
        #expect(notes.contains { $0.hasPrefix("table probe_vacuum: last autovacuum 2") }, "\(notes)")
        try await db.run("DROP TABLE probe_vacuum")
        try await db.close()
        await probe.close()
    }

    @Test func aRowLockWaitIsSeenWhileItLasts() async throws {
        guard let url = LivePostgres.url() else { return }
        let holder = try await LivePostgres.connect(url)
        let waiter = try await LivePostgres.connect(url)
        try await holder.run("DROP TABLE IF EXISTS probe_locks")
        try await holder.run("CREATE TABLE probe_locks (id int PRIMARY KEY, v int)")
        try await holder.run("INSERT INTO probe_locks VALUES (1, 0)")
        let probe = PostgresProbe(target: try LivePostgres.target(url))
        let before = try await probe.sample(at: 0)
        #expect(before["pg.lock_waits"] == 0)

        try await holder.run("BEGIN")
        try await holder.run("UPDATE probe_locks SET v = 1 WHERE id = 1")
        // Bounded twice: the server gives up after 10 s even if the test never releases.
        try await waiter.run("SET lock_timeout = '10s'")
        let blocked = Task { try await waiter.run("UPDATE probe_locks SET v = 2 WHERE id = 1") }
        let during = try await poll(probe) {
            ($0["pg.lock_waits"] ?? 0) >= 1 && ($0["pg.connections.waiting_lock"] ?? 0) >= 1
        }
        #expect((during["pg.lock_waits"] ?? 0) >= 1)
        #expect((during["pg.connections.waiting_lock"] ?? 0) >= 1)
        #expect((during["pg.connections.idle_in_transaction"] ?? 0) >= 1)

        try await holder.run("ROLLBACK")
        try await blocked.value
        let after = try await poll(probe) { $0["pg.lock_waits"] == 0 }
        #expect(after["pg.lock_waits"] == 0)
        try await holder.run("DROP TABLE probe_locks")
        try await holder.close()
        try await waiter.close()
        await probe.close()
    }

    @Test func aWrongPasswordAClosedPortAndAMissingDatabaseAreToldApart() async throws {
        guard let url = LivePostgres.url() else { return }
        let good = try LivePostgres.target(url)

        var wrong = good
        wrong.password = "not-the-password-42"
        let badPassword = await failure(PostgresProbe(target: wrong))
        #expect(badPassword.contains("authentication failed for user \"\(good.user)\""), "\(badPassword)")
        #expect(badPassword.contains("\(good.host):\(good.port)"))
        #expect(!badPassword.contains("not-the-password-42"))

        var closed = good
        closed.port = 1
        let refused = await failure(PostgresProbe(target: closed))
        #expect(refused.contains("connection refused"), "\(refused)")
        #expect(refused.contains("\(good.host):1"))

        var missing = good
        missing.database = "no_such_database_here"
        let noDatabase = await failure(PostgresProbe(target: missing))
        #expect(noDatabase.contains("database \"no_such_database_here\" does not exist"), "\(noDatabase)")
    }

    /// The probe's backend stopped (SIGSTOP) like a server that hangs: the reading fails
    /// within the query timeout instead of holding the run, and the next one reconnects.
    @Test func aStuckServerCostsAFailedReadingNotAHungRun() async throws {
        guard let url = LivePostgres.url() else { return }
        let probe = PostgresProbe(target: try LivePostgres.target(url), queryTimeout: .seconds(1))
        _ = try await probe.sample(at: 0)
        let db = try await LivePostgres.connect(url)
        let pid = try await db.scalar(
            "SELECT pid::float8 FROM pg_stat_activity WHERE application_name = 'volley-probe' LIMIT 1"
        )
        try await db.close()
        // Only where the test may signal the server's processes (the server started here).
        guard let pid, kill(pid_t(pid), SIGSTOP) == 0 else { return }
        let started = ContinuousClock.now
        var text = ""
        do {
            _ = try await probe.sample(at: 1)
            Issue.record("a stopped backend answered")
        } catch {
            text = String(describing: error)
        }
        let waited = ContinuousClock.now - started
        _ = kill(pid_t(pid), SIGCONT)
        #expect(waited < .seconds(3), "\(waited)")
        #expect(text.contains("took more than 1 s"), "\(text)")
        let again = try await probe.sample(at: 2)
        #expect(again["pg.connections.total"] != nil)
        await probe.close()
    }

    @Test func theSamplerKeepsSeriesKindAndNotes() async throws {
        guard let url = LivePostgres.url() else { return }
        let probe = try ProbeFactory.make(url)
        try await probe.check()
        let sampler = ProbeSampler(probe)
        sampler.start(at: .now, interval: .milliseconds(200))
        let db = try await LivePostgres.connect(url)
        try await db.run("DROP TABLE IF EXISTS probe_sampler")
        try await db.run("CREATE TABLE probe_sampler (id int)")
        try await db.run("INSERT INTO probe_sampler SELECT generate_series(1, 1000)")
        try await Task.sleep(for: .milliseconds(1000))
        let result = await sampler.stop()
        try await db.run("DROP TABLE probe_sampler")
        try await db.close()

        #expect(result.kind == "postgres")
        #expect(result.failedScrapes == 0)
        #expect(result.probe.hasPrefix("postgres://***@"))
        let total = try #require(result.series["pg.connections.total"])
        #expect(total.count >= 3)
        for name in [
            "pg.connections.active", "pg.connections.idle", "pg.connections.idle_in_transaction",
            "pg.connections.waiting_lock", "pg.max_connections", "pg.commits_per_s", "pg.rollbacks_per_s",
            "pg.rows.inserted_per_s", "pg.rows.updated_per_s", "pg.rows.deleted_per_s", "pg.dead_tuples",
            "pg.autovacuum.workers", "pg.autovacuum.count", "pg.autoanalyze.count", "pg.lock_waits",
            "pg.database_size_bytes",
        ] {
            #expect(result.series[name] != nil, "missing \(name)")
        }
        let notes = result.notes ?? []
        #expect(notes.contains { $0.hasPrefix("max_connections ") }, "\(notes)")
    }
}

/// The error text of a failing `check()`, or a recorded issue.
func failure(_ probe: PostgresProbe) async -> String {
    var text = ""
    do {
        try await probe.check()
        Issue.record("the check passed")
    } catch {
        text = String(describing: error)
    }
    await probe.close()
    return text
}
