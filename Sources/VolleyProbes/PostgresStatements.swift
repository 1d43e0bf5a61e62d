import Foundation
import VolleyCore

/// What the probe knows of `pg_stat_statements` in the probed database, and the arithmetic on
/// its counters: per-interval calls and mean time over all statements but the probe's own, and
/// the statements that took the most time during the run.
///
/// The probe's own statements are left out by their `queryid`, learned from the comment
/// marker every probe query starts with (`pg_stat_statements` keeps a leading comment in the
/// text). Reading the texts makes the server load its whole query-text file, so it is done
/// only until the set is stable and then once a minute; the per-second sums read the view
/// without texts.
struct PostgresStatements: Sendable {
    /// The comment every probe query starts with.
    static let marker = "/* volley-probe */"
    /// Samples between two refreshes of the probe's own queryids once they are stable.
    static let refreshEvery = 60

    /// The extension's schema, quoted for SQL.
    let schema: String
    /// `total_exec_time` from 1.8 (PostgreSQL 13), `total_time` before.
    let timeColumn: String

    /// The probe's own statements' ids.
    private(set) var excluded: [Int64] = []
    private var stableRefreshes = 0
    private var samplesSinceRefresh = 0
    private var previous: (t: Double, calls: Double, time: Double)?
    /// Calls and time per statement at the run's start, for the notes.
    var atStart: [Int64: (calls: Double, time: Double)]?

    init(schema: String, hasExecTime: Bool) {
        self.schema = "\"" + schema.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        self.timeColumn = hasExecTime ? "total_exec_time" : "total_time"
    }

    // MARK: - SQL

    /// The view without the texts, rows of the probed database only.
    var rowsSQL: String {
        "\(schema).pg_stat_statements(false) s WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    }

    var excludedLiteral: String { "'{\(excluded.map(String.init).joined(separator: ","))}'::int8[]" }

    /// Two columns for the statistics query: the cumulative calls and time of the database's
    /// statements, the probe's own left out. The ids are one literal, so that the query's own
    /// id does not change with them.
    var sampleColumns: String {
        let filter = "(s.queryid IS NULL OR NOT s.queryid = ANY(\(excludedLiteral)))"
        return """
            (SELECT coalesce(sum(s.calls), 0)::float8 FROM \(rowsSQL) AND \(filter)) AS statement_calls,
            (SELECT coalesce(sum(s.\(timeColumn)), 0)::float8 FROM \(rowsSQL) AND \(filter)) AS statement_time
            """
    }

    /// The ids of the probe's own statements (any database).
    var ownIDsSQL: String {
        "SELECT DISTINCT queryid::int8 FROM \(schema).pg_stat_statements WHERE queryid IS NOT NULL "
            + "AND query LIKE '%\(Self.marker)%' ORDER BY 1"
    }

    /// Calls and time per statement of the database, without the texts.
    var perStatementSQL: String {
        "SELECT s.queryid::int8, sum(s.calls)::float8, sum(s.\(timeColumn))::float8 FROM \(rowsSQL) "
            + "AND s.queryid IS NOT NULL GROUP BY s.queryid"
    }

    func textsSQL(_ ids: [Int64]) -> String {
        "SELECT DISTINCT ON (s.queryid) s.queryid::int8, s.query FROM \(schema).pg_stat_statements s "
            + "WHERE s.queryid = ANY('{\(ids.map(String.init).joined(separator: ","))}'::int8[])"
    }

    // MARK: - Arithmetic

    /// Whether this sample should re-read the probe's own ids first.
    mutating func needsRefresh() -> Bool {
        samplesSinceRefresh += 1
        return stableRefreshes < 2 || samplesSinceRefresh >= Self.refreshEvery
    }

    /// Takes the ids just read; a change restarts the rates, since the sums before it were
    /// taken over another set of statements.
    mutating func refreshed(_ ids: [Int64]) {
        samplesSinceRefresh = 0
        let ids = ids.sorted()
        if ids == excluded {
            stableRefreshes += 1
        } else {
            excluded = ids
            stableRefreshes = 0
            previous = nil
        }
    }

    /// Calls per second and mean milliseconds between the last reading and this one; no mean
    /// when nothing finished, nothing at all on the first reading or after a reset of the
    /// counters (`pg_stat_statements_reset()`, or entries evicted at `pg_stat_statements.max`).
    mutating func series(calls: Double, time: Double, at t: Double) -> [String: Double] {
        defer { previous = (t, calls, time) }
        guard let last = previous, t > last.t, calls >= last.calls, time >= last.time else { return [:] }
        var series = [ProbeSeries.Postgres.statementsCallsPerSecond: (calls - last.calls) / (t - last.t)]
        if calls > last.calls {
            series[ProbeSeries.Postgres.statementsMeanMilliseconds] = (time - last.time) / (calls - last.calls)
        }
        return series
    }

    /// The statements with the most time between `atStart` and `end`: (id, calls, total ms).
    func top(_ count: Int, end: [Int64: (calls: Double, time: Double)]) -> [(id: Int64, calls: Double, time: Double)] {
        let start = atStart ?? [:]
        let own = Set(excluded)
        return end.compactMap { id, now -> (id: Int64, calls: Double, time: Double)? in
            let before = start[id] ?? (0, 0)
            let calls = now.calls - before.calls
            guard !own.contains(id), calls > 0 else { return nil }
            return (id, calls, max(0, now.time - before.time))
        }
        .sorted { ($0.time, $1.id) > ($1.time, $0.id) }
        .prefix(count).map { $0 }
    }

    /// `statement #1 by time during the run: 20 calls, mean 10.4 ms, 0.21 s in all: SELECT …`.
    static func line(rank: Int, calls: Double, time: Double, text: String?) -> String {
        let mean = calls > 0 ? time / calls : 0
        return "statement #\(rank) by time during the run: \(Int(calls)) call\(calls == 1 ? "" : "s"), "
            + String(format: "mean %.1f ms, %.2f s in all: ", mean, time / 1000) + oneLine(text)
    }

    /// The text on one line, at most 80 characters. Texts are normalised (`$1` for constants),
    /// but utility statements are kept verbatim: one that mentions a password is withheld.
    static func oneLine(_ text: String?, limit: Int = 80) -> String {
        guard let text else { return "(text not readable: needs pg_read_all_stats)" }
        if text.range(of: "password", options: .caseInsensitive) != nil {
            return "(text withheld: mentions a password)"
        }
        let words = text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return words.count <= limit ? words : String(words.prefix(limit - 1)) + "…"
    }
}
