import Testing
import VolleyCore

@testable import VolleyProbes

/// The per-client labels and series names, and the rules the activity tracker applies,
/// without a server.
@Suite struct PostgresActivityTests {
    typealias Series = ProbeSeries.Postgres

    @Test func aClientIsItsApplicationNameElseUserAtAddress() {
        #expect(Series.clientLabel(applicationName: "pooltest", user: "app", address: "10.0.0.5") == "pooltest")
        #expect(Series.clientLabel(applicationName: "", user: "app", address: "10.0.0.5") == "app@10.0.0.5")
        #expect(Series.clientLabel(applicationName: nil, user: "app", address: nil) == "app@local")
        #expect(Series.clientLabel(applicationName: "", user: "app", address: "::1") == "app@::1")
        #expect(
            Series.clientLabel(applicationName: "gunicorn worker/2 (ü)", user: nil, address: nil)
                == "gunicorn_worker_2____"
        )
        #expect(Series.clientLabel(applicationName: "psql.app-1:x@y", user: nil, address: nil) == "psql.app-1:x@y")
        let long = String(repeating: "a", count: 100)
        #expect(Series.clientLabel(applicationName: long, user: nil, address: nil) == String(repeating: "a", count: 60))
    }

    @Test func clientSeriesParseFromTheEndSoLabelsMayHoldDots() {
        for field in Series.ClientField.allCases {
            let name = Series.client("app.worker.v2", field)
            let parsed = Series.parseClient(name)
            #expect(parsed?.label == "app.worker.v2" && parsed?.field == field, "\(name)")
        }
        #expect(Series.client("x", .idleInTransaction) == "pg.client.x.idle_in_transaction")
        #expect(Series.client("x", .waitingLock) == "pg.client.x.waiting_lock")
        #expect(Series.parseClient("pg.client.app@10.0.0.5.active")?.label == "app@10.0.0.5")
        #expect(Series.parseClient("pg.client.app.bogus") == nil)
        #expect(Series.parseClient("pg.client..active") == nil)
        #expect(Series.parseClient("pg.client.active") == nil)
        #expect(Series.parseClient("pg.connections.active") == nil)
    }

    private func group(
        _ app: String,
        _ state: String,
        _ count: Double,
        wait: (String, String)? = nil,
        queryAge: Double = 0,
        transactionAge: Double = 0
    ) -> PostgresActivityGroup {
        PostgresActivityGroup(
            app: app,
            user: "u",
            addr: "127.0.0.1",
            state: state,
            waitType: wait?.0,
            waitEvent: wait?.1,
            count: count,
            queryAge: queryAge,
            transactionAge: transactionAge
        )
    }

    @Test func clientsAreCountedByStateAndTheOldestAgesKept() {
        var tracker = PostgresActivityTracker()
        let series = tracker.record([
            group("pool", "active", 3, wait: ("Lock", "transactionid"), queryAge: 2.5, transactionAge: 2.5),
            group("pool", "active", 2, queryAge: 0.5, transactionAge: 0.5),
            group("pool", "idle", 4),
            group("pool", "idle in transaction", 1, transactionAge: 9),
            group("pool", "idle in transaction (aborted)", 1, transactionAge: 1),
        ])
        #expect(series["pg.client.pool.connections"] == 11)
        #expect(series["pg.client.pool.active"] == 5)
        #expect(series["pg.client.pool.idle"] == 4)
        #expect(series["pg.client.pool.idle_in_transaction"] == 2)
        #expect(series["pg.client.pool.waiting_lock"] == 3)
        #expect(series[Series.wait("Lock")] == 3)
        #expect(series[Series.waitCPU] == 2)
        #expect(series[Series.oldestQuerySeconds] == 2.5)
        #expect(series[Series.oldestTransactionSeconds] == 9)
        for type in Series.standardWaitTypes where type != "lock" { #expect(series["pg.wait.\(type)"] == 0, "\(type)") }
        #expect(series["pg.client.other.connections"] == nil)
    }

    @Test func tenClientsGetTheirOwnSeriesTheRestAreOtherAndALeaverReadsZero() {
        var tracker = PostgresActivityTracker()
        // Twelve clients: c0 with 12 connections … c11 with 1.
        let first = tracker.record((0..<12).map { group("c\($0)", "idle", Double(12 - $0)) })
        #expect(first["pg.client.c0.connections"] == 12)
        #expect(first["pg.client.c9.connections"] == 3)
        #expect(first["pg.client.c10.connections"] == nil)
        #expect(first["pg.client.other.connections"] == 3)  // c10 (2) + c11 (1)
        #expect(first["pg.client.other.idle"] == 3)

        // c0 leaves; a newcomer does not take its series: there is no room mid-run.
        let second = tracker.record([group("c1", "active", 11), group("late", "active", 50)])
        #expect(second["pg.client.c0.connections"] == 0)
        #expect(second["pg.client.c0.idle"] == 0)
        #expect(second["pg.client.c1.active"] == 11)
        #expect(second["pg.client.late.connections"] == nil)
        #expect(second["pg.client.other.connections"] == 50)
        // Nobody left: every series still has its sample.
        let third = tracker.record([])
        #expect(third["pg.client.c1.connections"] == 0)
        #expect(third["pg.client.other.connections"] == 0)
        #expect(third[Series.oldestQuerySeconds] == 0)
        #expect(third[Series.waitCPU] == 0)
    }

    @Test func aWaitTypeSeenOnceStaysAndTheNoteAddsUpOverTheRun() {
        var tracker = PostgresActivityTracker()
        #expect(tracker.waitEventsNote() == nil)
        _ = tracker.record([
            group("a", "active", 6, wait: ("Lock", "transactionid")),
            group("a", "active", 3, wait: ("Timeout", "PgSleep")),
            group("a", "active", 1),
            group("a", "idle", 5, wait: ("Client", "ClientRead")),
        ])
        _ = tracker.record([group("a", "active", 2, wait: ("CustomType", "Thing"))])
        let later = tracker.record([])
        #expect(later["pg.wait.customtype"] == 0)
        #expect(later["pg.wait.client"] == 0)
        #expect(
            tracker.waitEventsNote()
                == "wait events of active queries over the run: Lock/transactionid 50 %, Timeout/PgSleep 25 %, "
                + "CustomType/Thing 17 %, running 8 %"
        )
    }

    @Test func statementRatesAndMeansOverAnIntervalAndNothingAcrossAReset() {
        var statements = PostgresStatements(schema: "public", hasExecTime: true)
        statements.refreshed([7, 3])
        #expect(statements.excludedLiteral == "'{3,7}'::int8[]")
        #expect(statements.series(calls: 100, time: 1000, at: 1).isEmpty)
        let next = statements.series(calls: 120, time: 1200, at: 3)
        #expect(next[Series.statementsCallsPerSecond] == 10)
        #expect(next[Series.statementsMeanMilliseconds] == 10)
        let idle = statements.series(calls: 120, time: 1200, at: 4)
        #expect(idle[Series.statementsCallsPerSecond] == 0)
        #expect(idle[Series.statementsMeanMilliseconds] == nil)
        #expect(statements.series(calls: 5, time: 50, at: 5).isEmpty)  // pg_stat_statements_reset()
        #expect(statements.series(calls: 6, time: 52, at: 6)[Series.statementsMeanMilliseconds] == 2)
        // Another set of own statements: the sums before are not comparable.
        statements.refreshed([3, 7, 9])
        #expect(statements.series(calls: 7, time: 60, at: 7).isEmpty)
        #expect(PostgresStatements(schema: "x", hasExecTime: false).sampleColumns.contains("total_time"))
    }

    @Test func theTopStatementsLeaveTheProbesOwnOutAndFitOnALine() {
        var statements = PostgresStatements(schema: "public", hasExecTime: true)
        statements.refreshed([99])
        statements.atStart = [1: (10, 100), 2: (0, 0), 99: (0, 0)]
        let top = statements.top(3, end: [1: (30, 1100), 2: (5, 50), 3: (1, 2000), 99: (500, 90000), 4: (0, 0)])
        #expect(top.map(\.id) == [3, 1, 2])
        #expect(top[1].calls == 20 && top[1].time == 1000)
        #expect(
            PostgresStatements.line(rank: 2, calls: 20, time: 1000, text: "SELECT pg_sleep($1)\n  FROM t")
                == "statement #2 by time during the run: 20 calls, mean 50.0 ms, 1.00 s in all: SELECT pg_sleep($1) FROM t"
        )
        let long = PostgresStatements.oneLine(String(repeating: "x ", count: 100))
        #expect(long.count == 80 && long.hasSuffix("…"))
        #expect(
            PostgresStatements.oneLine("ALTER ROLE app PASSWORD 'hunter2'") == "(text withheld: mentions a password)"
        )
    }
}
