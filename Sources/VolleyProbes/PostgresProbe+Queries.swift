import VolleyCore

/// The statistics query every sample runs, and which of its columns become which series.
extension PostgresProbe {
    /// One round trip for the server-wide numbers, the client backends (as JSON) and the
    /// statement sums, one more for the busiest tables.
    static func sampleSQL(statementColumns: String?) -> String {
        sampleSQLHead + (statementColumns.map { ",\n" + $0 } ?? "") + "\nFROM t"
    }

    /// The client backends but the probe's (and other Volley probes'), grouped by client, state
    /// and wait event, with the ages of their oldest query and transaction.
    static let activitySQL = """
        SELECT application_name AS app, usename::text AS usr, host(client_addr) AS addr, state,
            wait_event_type AS wtype, wait_event AS wevent, count(*)::float8 AS n,
            coalesce(max(greatest(0, extract(epoch FROM clock_timestamp() - query_start)))
                FILTER (WHERE state = 'active'), 0)::float8 AS query_age,
            coalesce(max(greatest(0, extract(epoch FROM clock_timestamp() - xact_start))), 0)::float8 AS xact_age
        FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
            AND application_name <> 'volley-probe'
        GROUP BY 1, 2, 3, 4, 5, 6
        """

    static let sampleSQLHead = """
        WITH a AS (
            SELECT backend_type, state, wait_event_type FROM pg_stat_activity WHERE pid <> pg_backend_pid()
        ), d AS (
            SELECT * FROM pg_stat_database WHERE datname = current_database()
        ), t AS (
            SELECT coalesce(sum(n_dead_tup), 0) AS dead, coalesce(sum(autovacuum_count), 0) AS autovacuums,
                   coalesce(sum(autoanalyze_count), 0) AS autoanalyzes
            FROM pg_stat_user_tables
        )
        SELECT
            (SELECT count(*) FROM a WHERE backend_type = 'client backend')::float8 AS total,
            (SELECT count(*) FROM a WHERE backend_type = 'client backend' AND state = 'active')::float8 AS active,
            (SELECT count(*) FROM a WHERE backend_type = 'client backend' AND state = 'idle')::float8 AS idle,
            (SELECT count(*) FROM a WHERE backend_type = 'client backend'
                AND state LIKE 'idle in transaction%')::float8 AS idle_in_transaction,
            (SELECT count(*) FROM a WHERE backend_type = 'client backend'
                AND wait_event_type = 'Lock')::float8 AS waiting_lock,
            (SELECT count(*) FROM a WHERE backend_type = 'autovacuum worker')::float8 AS autovacuum_workers,
            (SELECT setting::float8 FROM pg_settings WHERE name = 'max_connections') AS max_connections,
            (SELECT count(*) FROM pg_locks WHERE NOT granted)::float8 AS lock_waits,
            pg_database_size(current_database())::float8 AS database_size,
            (SELECT xact_commit FROM d)::float8 AS commits,
            (SELECT xact_rollback FROM d)::float8 AS rollbacks,
            (SELECT tup_inserted FROM d)::float8 AS inserted,
            (SELECT tup_updated FROM d)::float8 AS updated,
            (SELECT tup_deleted FROM d)::float8 AS deleted,
            t.dead::float8 AS dead, t.autovacuums::float8 AS autovacuums, t.autoanalyzes::float8 AS autoanalyzes,
            (SELECT coalesce(json_agg(g), '[]')::text FROM (\(activitySQL)) g) AS activity
        """

    /// Column → series for the gauges of `sampleSQL`.
    static let gaugeColumns: [(column: String, series: String)] = [
        ("total", ProbeSeries.Postgres.connectionsTotal),
        ("active", ProbeSeries.Postgres.connectionsActive),
        ("idle", ProbeSeries.Postgres.connectionsIdle),
        ("idle_in_transaction", ProbeSeries.Postgres.connectionsIdleInTransaction),
        ("waiting_lock", ProbeSeries.Postgres.connectionsWaitingLock),
        ("max_connections", ProbeSeries.Postgres.maxConnections),
        ("autovacuum_workers", ProbeSeries.Postgres.autovacuumWorkers),
        ("autovacuums", ProbeSeries.Postgres.autovacuumCount),
        ("autoanalyzes", ProbeSeries.Postgres.autoanalyzeCount),
        ("dead", ProbeSeries.Postgres.deadTuples),
        ("lock_waits", ProbeSeries.Postgres.lockWaits),
        ("database_size", ProbeSeries.Postgres.databaseSizeBytes),
    ]

    /// Column → rate series for the cumulative counters of `sampleSQL`.
    static let counterColumns: [(column: String, series: String)] = [
        ("commits", ProbeSeries.Postgres.commitsPerSecond),
        ("rollbacks", ProbeSeries.Postgres.rollbacksPerSecond),
        ("inserted", ProbeSeries.Postgres.rowsInsertedPerSecond),
        ("updated", ProbeSeries.Postgres.rowsUpdatedPerSecond),
        ("deleted", ProbeSeries.Postgres.rowsDeletedPerSecond),
    ]
}
