import Foundation
import Logging
import PostgresNIO
import VolleyCore

/// Reads PostgreSQL's own statistics once a second while the load runs: connections by state
/// against `max_connections` and per client (a client-side pool is one client pinned at its
/// size), what active queries wait on, the oldest query and transaction, statement times from
/// `pg_stat_statements` when installed, commit and row rates, dead tuples and autovacuum, lock
/// waits and the database's size. These are the numbers an operator opens psql for when a service
/// slows down under load, on the same clock as the load so that the two can be read together.
///
/// One connection, opened at `check()` or the first sample and reopened after a failure. It
/// counts itself out of every connection series. Each query is bounded twice: by the
/// server's `statement_timeout`/`lock_timeout` for this session, and by a client-side
/// deadline that closes the connection, so a stuck database or network never holds the run.
public actor PostgresProbe: ProbeSource {
    public nonisolated let kind = "postgres"
    /// The URL with its credentials replaced by `***`.
    public nonisolated let displayName: String
    public nonisolated let target: PostgresTarget
    /// How long one reading may take before the connection is given up and reopened.
    public nonisolated let queryTimeout: Duration

    /// How many of the busiest tables get their own dead-tuple series.
    static let busiestTableCount = 5
    /// How many of the largest relations the notes compare between start and end.
    static let largestRelationCount = 5

    private struct Table: Sendable {
        var oid: Int64
        var label: String
    }

    private struct Relation: Sendable {
        var oid: Int64
        var label: String
        var bytes: Int64
    }

    private var connection: PostgresConnection?
    private var connectionCount = 0
    private var rates = RateTracker()
    private var busiest: [Table]?
    private var largestAtStart: [Relation]?
    private var maxConnections: Double?
    private var peakConnections: Double = 0
    private var startedAt: Date?
    private var activity = PostgresActivityTracker()
    /// nil until looked up on the first reading.
    var statements: StatementsState?

    /// `displayName` defaults to the target's URL, credentials redacted.
    public init(
        target: PostgresTarget,
        displayName: String? = nil,
        queryTimeout: Duration = .seconds(2)
    ) {
        var target = target
        if target.applicationName == "volley" { target.applicationName = "volley-probe" }
        self.target = target
        self.displayName = displayName.map(ProbeFactory.redact) ?? target.redactedURL
        self.queryTimeout = queryTimeout
    }

    /// A probe dropped without `close()` (a run that ended early) still closes its connection:
    /// PostgresNIO wants every connection closed before it is released.
    deinit {
        if let connection { connection.close().whenComplete { _ in _ = connection } }
    }

    public func check() async throws {
        _ = try await readSample()
    }

    public func sample(at t: Double) async throws -> [String: Double] {
        let reading = try await readSample(at: t)
        var values = reading.gauges
        for (name, counter) in reading.counters {
            if let rate = rates.rate(name, value: counter, at: t) { values[name] = rate }
        }
        return values
    }

    public func notes() async -> [String] {
        var lines: [String] = []
        if let line = activity.waitEventsNote() { lines.append(line) }
        lines += await statementNotes()
        do {
            let connection = try await connected()
            let end = try await largestRelations(on: connection, including: largestAtStart?.map(\.oid) ?? [])
            lines += relationLines(start: largestAtStart ?? [], end: end)
            if let busiest, !busiest.isEmpty {
                lines += try await vacuumLines(on: connection, tables: busiest)
            }
        } catch {
            lines.append("PostgreSQL notes could not be read at the end: \(target.reason(error))")
        }
        if let maxConnections {
            let share = maxConnections > 0 ? Int((peakConnections / maxConnections * 100).rounded()) : 0
            lines.append(
                "max_connections \(Int(maxConnections)); at most \(Int(peakConnections)) other client "
                    + "connections seen during the run (\(share) %)"
            )
        }
        return lines
    }

    public func close() async {
        if let connection {
            self.connection = nil
            try? await connection.close()
        }
    }

    // MARK: - Reading

    private struct Reading {
        var gauges: [String: Double]
        /// Cumulative counters, turned into per-second rates by the caller.
        var counters: [String: Double]
    }

    private func readSample(at t: Double? = nil) async throws -> Reading {
        let connection = try await connected()
        let statementColumns = try await prepareStatements(on: connection)
        if busiest == nil || busiest?.isEmpty == true {
            busiest = try await busiestTables(on: connection)
        }
        if largestAtStart == nil {
            largestAtStart = try await largestRelations(on: connection, including: [])
            startedAt = Date()
        }
        let sql = Self.sampleSQL(statementColumns: statementColumns)
        let rows = try await query(PostgresQuery(unsafeSQL: sql), on: connection)
        guard let row = rows.first?.makeRandomAccess() else {
            throw target.explain(ProbeError("the statistics query returned no row"))
        }
        var reading = Reading(gauges: [:], counters: [:])
        do {
            for (column, series) in Self.gaugeColumns {
                if let value = try row[column].decode(Double?.self) { reading.gauges[series] = value }
            }
            for (column, series) in Self.counterColumns {
                if let value = try row[column].decode(Double?.self) { reading.counters[series] = value }
            }
            let json = try row["activity"].decode(String.self)
            let groups = try JSONDecoder().decode([PostgresActivityGroup].self, from: Data(json.utf8))
            reading.gauges.merge(activity.record(groups)) { _, new in new }
            if statementColumns != nil, let t {
                let calls = try row["statement_calls"].decode(Double.self)
                let time = try row["statement_time"].decode(Double.self)
                reading.gauges.merge(statementSeries(calls: calls, time: time, at: t)) { _, new in new }
            }
        } catch {
            throw target.explain(ProbeError("unexpected statistics row: \(error)"))
        }
        if let value = reading.gauges[ProbeSeries.Postgres.maxConnections] { maxConnections = value }
        peakConnections = max(peakConnections, reading.gauges[ProbeSeries.Postgres.connectionsTotal] ?? 0)
        if let busiest, !busiest.isEmpty {
            let oids = busiest.map(\.oid)
            let tableRows = try await query(
                "SELECT relid::int8, n_dead_tup::float8 FROM pg_stat_user_tables WHERE relid::int8 = ANY(\(oids))",
                on: connection
            )
            for tableRow in tableRows {
                guard let (oid, dead) = try? tableRow.decode((Int64, Double).self),
                    let table = busiest.first(where: { $0.oid == oid })
                else { continue }
                reading.gauges[ProbeSeries.Postgres.tableDeadTuples(table.label)] = dead
            }
        }
        return reading
    }

    /// The tables with the most activity so far (dead tuples and rows written): the ones whose
    /// bloat and vacuuming the run is likely to change.
    private func busiestTables(on connection: PostgresConnection) async throws -> [Table] {
        let rows = try await query(
            """
            SELECT relid::int8, schemaname::text, relname::text FROM pg_stat_user_tables
            ORDER BY (n_dead_tup + n_tup_ins + n_tup_upd + n_tup_del) DESC, relname
            LIMIT \(Self.busiestTableCount)
            """,
            on: connection
        )
        return rows.compactMap { row in
            guard let (oid, schema, name) = try? row.decode((Int64, String, String).self) else { return nil }
            return Table(oid: oid, label: Self.label(schema: schema, name: name))
        }
    }

    private func largestRelations(
        on connection: PostgresConnection,
        including oids: [Int64]
    ) async throws
        -> [Relation]
    {
        let rows = try await query(
            """
            SELECT c.oid::int8, n.nspname::text, c.relname::text, pg_total_relation_size(c.oid)::int8
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%'
              AND (c.oid::int8 = ANY(\(oids)) OR c.oid IN (
                SELECT c2.oid FROM pg_class c2 JOIN pg_namespace n2 ON n2.oid = c2.relnamespace
                WHERE c2.relkind IN ('r', 'm', 'p') AND n2.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n2.nspname NOT LIKE 'pg_toast%'
                ORDER BY pg_total_relation_size(c2.oid) DESC LIMIT \(Self.largestRelationCount)))
            ORDER BY 4 DESC
            """,
            on: connection
        )
        return rows.compactMap { row in
            guard let (oid, schema, name, bytes) = try? row.decode((Int64, String, String, Int64).self) else {
                return nil
            }
            return Relation(oid: oid, label: Self.label(schema: schema, name: name), bytes: bytes)
        }
    }

    private func relationLines(start: [Relation], end: [Relation]) -> [String] {
        let endByOID = Dictionary(end.map { ($0.oid, $0) }, uniquingKeysWith: { a, _ in a })
        let startByOID = Dictionary(start.map { ($0.oid, $0) }, uniquingKeysWith: { a, _ in a })
        var lines: [String] = []
        // The largest at the start, then any that became one of the largest during the run.
        var order = start.map(\.oid)
        for relation in end.prefix(Self.largestRelationCount) where startByOID[relation.oid] == nil {
            order.append(relation.oid)
        }
        for oid in order {
            let before = startByOID[oid]
            let after = endByOID[oid]
            guard let label = before?.label ?? after?.label else { continue }
            switch (before, after) {
            case (let before?, let after?):
                let growth = after.bytes - before.bytes
                lines.append(
                    "relation \(label): \(Self.bytes(before.bytes)) at start, \(Self.bytes(after.bytes)) at end"
                        + (growth == 0 ? " (unchanged)" : " (\(growth > 0 ? "+" : "-")\(Self.bytes(abs(growth))))")
                )
            case (let before?, nil):
                lines.append("relation \(label): \(Self.bytes(before.bytes)) at start, gone at end")
            case (nil, let after?):
                lines.append("relation \(label): new during the run, \(Self.bytes(after.bytes)) at end")
            case (nil, nil):
                continue
            }
        }
        return lines
    }

    private func vacuumLines(on connection: PostgresConnection, tables: [Table]) async throws -> [String] {
        let oids = tables.map(\.oid)
        let rows = try await query(
            """
            SELECT relid::int8, n_live_tup::int8, n_dead_tup::int8, autovacuum_count::int8, autoanalyze_count::int8,
                to_char(last_autovacuum AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                to_char(last_autoanalyze AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM pg_stat_user_tables WHERE relid::int8 = ANY(\(oids))
            """,
            on: connection
        )
        var byOID: [Int64: String] = [:]
        for row in rows {
            guard
                let (oid, live, dead, vacuums, analyzes, lastVacuum, lastAnalyze) = try? row.decode(
                    (Int64, Int64, Int64, Int64, Int64, String?, String?).self
                ),
                let table = tables.first(where: { $0.oid == oid })
            else { continue }
            byOID[oid] =
                "table \(table.label): last autovacuum \(lastVacuum ?? "never"), last autoanalyze "
                + "\(lastAnalyze ?? "never") (\(Self.count(vacuums, "autovacuum")), "
                + "\(Self.count(analyzes, "autoanalyze")) so far); \(dead) dead / \(live) live tuples at end"
        }
        return tables.compactMap { byOID[$0.oid] }
    }

    // MARK: - Connection and queries

    func connected() async throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        connection = nil
        connectionCount += 1
        let fresh = try await target.connect(
            id: connectionCount,
            statementTimeout: queryTimeout,
            lockTimeout: .seconds(1)
        )
        connection = fresh
        return fresh
    }

    /// Runs one query within `queryTimeout`; on timeout or a broken connection the connection
    /// is dropped, so that the next reading starts with a fresh one.
    /// Every query starts with `PostgresStatements.marker`, so that `pg_stat_statements` can
    /// tell the probe's own statements from the application's.
    func query(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [PostgresRow] {
        var marked = query
        marked.sql = PostgresStatements.marker + " " + query.sql
        let query = marked
        let logger = PostgresTarget.silentLogger
        do {
            return try await withDeadline(
                queryTimeout,
                onTimeout: { connection.close().whenComplete { _ in _ = connection } },
                {
                    var rows: [PostgresRow] = []
                    for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
                    return rows
                }
            )
        } catch {
            if error is DeadlineExceeded || connection.isClosed {
                if self.connection === connection { self.connection = nil }
                try? await connection.close()
            }
            if error is DeadlineExceeded {
                throw target.explain(
                    ProbeError(
                        "a statistics query took more than \(PostgresTarget.format(queryTimeout)); "
                            + "the connection was closed and will be reopened"
                    )
                )
            }
            throw target.explain(error)
        }
    }

    // MARK: - Formatting

    /// `todos` in the public schema, `schema.table` elsewhere: short series names for the
    /// common case without ambiguity in the rest.
    static func label(schema: String, name: String) -> String {
        schema == "public" ? name : "\(schema).\(name)"
    }

    static func count(_ n: Int64, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    static func bytes(_ count: Int64) -> String {
        let value = Double(count)
        switch value {
        case ..<1024: return "\(count) B"
        case ..<(1024 * 1024): return String(format: "%.0f kB", value / 1024)
        case ..<(1024 * 1024 * 1024): return String(format: "%.1f MB", value / 1024 / 1024)
        default: return String(format: "%.2f GB", value / 1024 / 1024 / 1024)
        }
    }
}
