import Foundation
import PostgresNIO
import VolleyCore

/// `pg_stat_statements` in the probed database: looked up once, read with every sample when
/// present, and never a reason for the probe to fail when it is absent or unreadable.
extension PostgresProbe {
    enum StatementsState: Sendable {
        /// Not usable; the note says why and how to enable it.
        case absent(note: String)
        case present(PostgresStatements)
    }

    /// How many statements the notes name.
    static let topStatementCount = 3

    /// The statement columns for this sample's statistics query, or nil without the extension.
    /// Looks the extension up on the first call; re-reads the probe's own statement ids while
    /// they are not yet stable, and takes the per-statement snapshot for the notes once.
    func prepareStatements(on connection: PostgresConnection) async throws -> String? {
        if statements == nil { statements = try await lookUpStatements(on: connection) }
        guard case .present(var state) = statements else { return nil }
        if state.needsRefresh() {
            let rows = try await query(PostgresQuery(unsafeSQL: state.ownIDsSQL), on: connection)
            state.refreshed(rows.compactMap { try? $0.decode(Int64.self) })
        }
        if state.atStart == nil {
            state.atStart = try await perStatement(state, on: connection)
        }
        statements = .present(state)
        return state.sampleColumns
    }

    /// Calls per second and mean time of the interval that ends at `t`.
    func statementSeries(calls: Double, time: Double, at t: Double) -> [String: Double] {
        guard case .present(var state) = statements else { return [:] }
        let series = state.series(calls: calls, time: time, at: t)
        statements = .present(state)
        return series
    }

    /// The note on a missing extension, or the statements that took the most time during the
    /// run, with their calls and mean time.
    func statementNotes() async -> [String] {
        switch statements {
        case nil:
            return []
        case .absent(let note)?:
            return [note]
        case .present(let state)?:
            guard state.atStart != nil else { return [] }
            do {
                let connection = try await connected()
                let top = state.top(Self.topStatementCount, end: try await perStatement(state, on: connection))
                guard !top.isEmpty else { return ["pg_stat_statements: no statement finished during the run"] }
                let rows = try await query(PostgresQuery(unsafeSQL: state.textsSQL(top.map(\.id))), on: connection)
                var texts: [Int64: String] = [:]
                for row in rows {
                    if let (id, text) = try? row.decode((Int64, String?).self), let text { texts[id] = text }
                }
                return top.enumerated().map { index, statement in
                    PostgresStatements.line(
                        rank: index + 1,
                        calls: statement.calls,
                        time: statement.time,
                        text: texts[statement.id]
                    )
                }
            } catch {
                return ["pg_stat_statements could not be read at the end: \(target.reason(error))"]
            }
        }
    }

    private func lookUpStatements(on connection: PostgresConnection) async throws -> StatementsState {
        let rows = try await query(
            """
            SELECT n.nspname::text, EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = to_regclass(quote_ident(n.nspname) || '.pg_stat_statements')
                AND attname = 'total_exec_time')
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'pg_stat_statements'
            """,
            on: connection
        )
        guard let (schema, hasExecTime) = try? rows.first?.decode((String, Bool).self) else {
            return .absent(
                note: "pg_stat_statements is not installed in \(target.database): per-statement times unavailable "
                    + "(CREATE EXTENSION pg_stat_statements; needs shared_preload_libraries)"
            )
        }
        let state = PostgresStatements(schema: schema, hasExecTime: hasExecTime)
        do {
            // Created but not preloaded: every read fails ("must be loaded via shared_preload_libraries").
            _ = try await query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(state.rowsSQL)"), on: connection)
        } catch {
            if connection.isClosed { throw error }
            return .absent(
                note: "pg_stat_statements is installed in \(target.database) but cannot be read "
                    + "(\(target.reason(error))): per-statement times unavailable "
                    + "(it needs shared_preload_libraries = 'pg_stat_statements' and a restart)"
            )
        }
        return .present(state)
    }

    private func perStatement(
        _ state: PostgresStatements,
        on connection: PostgresConnection
    ) async throws -> [Int64: (calls: Double, time: Double)] {
        var result: [Int64: (calls: Double, time: Double)] = [:]
        for row in try await query(PostgresQuery(unsafeSQL: state.perStatementSQL), on: connection) {
            if let (id, calls, time) = try? row.decode((Int64, Double, Double).self) { result[id] = (calls, time) }
        }
        return result
    }
}
