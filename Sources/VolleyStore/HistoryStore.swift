import Foundation
import GRDB
import Histogram
import VolleyCore
import VolleyReport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem with the history: where it is and what to do about it.
public struct HistoryError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String { message }
}

/// Every run Volley made, in one SQLite file (WAL mode) through GRDB.
///
/// Safe by construction rather than by care: a run is saved in one transaction (its row and
/// its histograms together), WAL mode keeps readers and the last committed state intact if
/// the process is killed mid-save, and concurrent Volley processes queue on SQLite's lock
/// (busy timeout) instead of failing. The schema is versioned by GRDB's migrator from the
/// first version on, so that later versions can add to it without losing old runs.
public final class HistoryStore: Sendable {
    public let path: String
    private let pool: DatabasePool

    /// `$VOLLEY_HOME`, else `~/.volley`.
    public static func defaultDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment
    )
        -> String
    {
        if let home = environment["VOLLEY_HOME"], !home.isEmpty { return home }
        let user = environment["HOME"] ?? NSHomeDirectory()
        return (user as NSString).appendingPathComponent(".volley")
    }

    /// Opens (creating and migrating as needed) `history.sqlite` in `directory`.
    public init(directory: String) throws(HistoryError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw HistoryError(
                "cannot create the history directory \(directory): \(error.localizedDescription)",
                hint: "set VOLLEY_HOME to a writable directory, or pass --no-save"
            )
        }
        path = (directory as NSString).appendingPathComponent("history.sqlite")
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.foreignKeysEnabled = true
        configuration.label = "volley.history"
        // Opening a new file (WAL set-up) and migrating are serialised across processes with
        // an advisory lock: several Volleys starting at once on a fresh or older history must
        // not race to create or alter the same tables.
        let lockFD = open((directory as NSString).appendingPathComponent("history.lock"), O_CREAT | O_RDWR, 0o644)
        if lockFD >= 0 { flock(lockFD, LOCK_EX) }
        defer {
            if lockFD >= 0 {
                flock(lockFD, LOCK_UN)
                close(lockFD)
            }
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw HistoryError(
                "cannot open the run history at \(path): \(error)",
                hint: "if the file is damaged, move it away; Volley starts a new one"
            )
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: runs and histograms") { db in
            try db.execute(
                sql: """
                    CREATE TABLE runs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        started_at REAL NOT NULL,
                        label TEXT,
                        kind TEXT NOT NULL,
                        target TEXT NOT NULL,
                        plan TEXT,
                        command TEXT NOT NULL,
                        environment TEXT NOT NULL,
                        requests INTEGER NOT NULL,
                        rps REAL NOT NULL,
                        p50_ms REAL NOT NULL,
                        p99_ms REAL NOT NULL,
                        error_rate REAL NOT NULL,
                        duration_s REAL NOT NULL,
                        exit_code INTEGER NOT NULL,
                        summary TEXT NOT NULL
                    );
                    CREATE INDEX runs_started_at ON runs(started_at);
                    CREATE INDEX runs_label ON runs(label);
                    CREATE TABLE histograms (
                        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        kind TEXT NOT NULL,
                        name TEXT NOT NULL,
                        encoding TEXT NOT NULL,
                        data BLOB NOT NULL,
                        PRIMARY KEY (run_id, kind, name)
                    );
                    """
            )
        }
        migrator.registerMigration("v2: samples file") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN samples_path TEXT")
        }
        migrator.registerMigration("v3: plan source") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN plan_source TEXT")
        }
        migrator.registerMigration("v4: experiments") { db in
            try db.execute(
                sql: """
                    CREATE TABLE experiments (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        started_at REAL NOT NULL,
                        kind TEXT NOT NULL,
                        label TEXT,
                        target TEXT NOT NULL,
                        command TEXT NOT NULL,
                        result TEXT NOT NULL
                    );
                    """
            )
        }
        return migrator
    }

    // MARK: Saving

    /// Saves a run and its histograms in one transaction; returns its id.
    @discardableResult
    public func save(_ record: RunRecord, histograms: RunHistograms?) throws(HistoryError) -> Int64 {
        let summaryJSON: String
        let command: String
        let environment: String
        do {
            summaryJSON = try JSONReport.encode(record.summary, compact: true)
            // Redacted here too, whoever built the record: the history never keeps a credential.
            command = String(decoding: try JSONEncoder().encode(Redaction.commandLine(record.command)), as: UTF8.self)
            environment = String(decoding: try JSONEncoder().encode(record.environment), as: UTF8.self)
        } catch {
            throw HistoryError("cannot encode the run for the history: \(error)")
        }
        let blobs: [(String, String, Data)] =
            histograms.map { h in
                [("latency", "", h.latency), ("service_time", "", h.serviceTime)].map {
                    ($0.0, $0.1, Data(HistogramCodec.encode($0.2)))
                }
                    + h.byName.sorted { $0.key < $1.key }.map {
                        ("latency", $0.key, Data(HistogramCodec.encode($0.value)))
                    }
                    + h.phases.sorted { $0.key.rawValue < $1.key.rawValue }.map {
                        ("phase." + $0.key.rawValue, "", Data(HistogramCodec.encode($0.value)))
                    }
            } ?? []
        let s = record.summary
        do {
            return try pool.write { db -> Int64 in
                try db.execute(
                    sql: """
                        INSERT INTO runs (started_at, label, kind, target, plan, command, environment, requests,
                                          rps, p50_ms, p99_ms, error_rate, duration_s, exit_code, summary,
                                          samples_path, plan_source)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        record.startedAt.timeIntervalSince1970, record.label, record.kind, record.target, record.plan,
                        command, environment, s.requests, s.rps.finiteOrZero, s.latencyMs.p50.finiteOrZero,
                        s.latencyMs.p99.finiteOrZero, s.errorRate.finiteOrZero, s.durationS.finiteOrZero,
                        Int(record.exitCode), summaryJSON, record.samplesPath, record.planSource,
                    ]
                )
                let id = db.lastInsertedRowID
                for (kind, name, data) in blobs {
                    try db.execute(
                        sql: "INSERT INTO histograms (run_id, kind, name, encoding, data) VALUES (?, ?, ?, 'vhs1', ?)",
                        arguments: [id, kind, name, data]
                    )
                }
                return id
            }
        } catch {
            throw HistoryError(
                "cannot save the run to \(path): \(error)",
                hint: "the results above are complete; pass --no-save to skip the history"
            )
        }
    }

    // MARK: Reading

    public func list(_ filter: HistoryFilter = HistoryFilter()) throws(HistoryError) -> [RunListing] {
        var clauses: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let label = filter.label {
            clauses.append("label LIKE ? ESCAPE '\\'")
            arguments.append("%\(Self.escapeLike(label))%")
        }
        if let target = filter.target {
            clauses.append("(target LIKE ? ESCAPE '\\' OR plan LIKE ? ESCAPE '\\')")
            arguments.append("%\(Self.escapeLike(target))%")
            arguments.append("%\(Self.escapeLike(target))%")
        }
        if let since = filter.since {
            clauses.append("started_at >= ?")
            arguments.append(since.timeIntervalSince1970)
        }
        if let until = filter.until {
            clauses.append("started_at < ?")
            arguments.append(until.timeIntervalSince1970)
        }
        let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let sql = """
            SELECT * FROM (
                SELECT id, started_at, label, kind, target, plan, requests, rps, p50_ms, p99_ms, error_rate,
                       duration_s, exit_code
                FROM runs \(whereClause) ORDER BY id DESC LIMIT \(max(1, filter.limit))
            ) ORDER BY id
            """
        let statementArguments = StatementArguments(arguments.map { $0.databaseValue })
        return try read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { row in
                RunListing(
                    id: row["id"],
                    startedAt: Date(timeIntervalSince1970: row["started_at"]),
                    label: row["label"],
                    kind: row["kind"],
                    target: row["target"],
                    plan: row["plan"],
                    requests: row["requests"],
                    rps: row["rps"],
                    p50Ms: row["p50_ms"],
                    p99Ms: row["p99_ms"],
                    errorRate: row["error_rate"],
                    durationS: row["duration_s"],
                    exitCode: Int32(row["exit_code"] as Int)
                )
            }
        }
    }

    /// Turns `12`, `#12`, `last` or `last~2` (two before the last) into a run id.
    public func resolve(_ reference: String) throws(HistoryError) -> Int64 {
        let text = reference.trimmingCharacters(in: .whitespaces)
        var offset = 0
        if text == "last" || text.hasPrefix("last~") {
            if text != "last" {
                guard let n = Int(text.dropFirst(5)), n >= 0 else {
                    throw HistoryError("'\(reference)' is not a run reference", hint: "use an id, last, or last~N")
                }
                offset = n
            }
            let id = try read { db in
                try Int64.fetchOne(
                    db,
                    sql: "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?",
                    arguments: [offset]
                )
            }
            guard let id else {
                throw HistoryError(
                    offset == 0 ? "the history is empty" : "there is no run \(offset) before the last",
                    hint: "`volley history` lists the saved runs"
                )
            }
            return id
        }
        let digits = text.hasPrefix("#") ? String(text.dropFirst()) : text
        guard let id = Int64(digits), id > 0 else {
            throw HistoryError(
                "'\(reference)' is not a run reference",
                hint: "use an id from `volley history`, last, or last~N"
            )
        }
        let exists = try read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [id]) ?? false
        }
        guard exists else {
            throw HistoryError("there is no run #\(id) in \(path)", hint: "`volley history` lists the saved runs")
        }
        return id
    }

    public func load(_ id: Int64) throws(HistoryError) -> StoredRun {
        let fetched = try read { db -> (Row?, [Row]) in
            (
                try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]),
                try Row.fetchAll(
                    db,
                    sql: "SELECT kind, name, encoding, data FROM histograms WHERE run_id = ?",
                    arguments: [id]
                )
            )
        }
        guard let row = fetched.0 else {
            throw HistoryError("there is no run #\(id) in \(path)", hint: "`volley history` lists the saved runs")
        }
        do {
            let summary = try JSONReport.decode(row["summary"])
            let command = try JSONDecoder().decode([String].self, from: Data((row["command"] as String).utf8))
            let environment = try JSONDecoder().decode(
                RunEnvironment.self,
                from: Data((row["environment"] as String).utf8)
            )
            var record = RunRecord(
                id: id,
                startedAt: Date(timeIntervalSince1970: row["started_at"]),
                label: row["label"],
                kind: row["kind"],
                target: row["target"],
                plan: row["plan"],
                command: command,
                environment: environment,
                summary: summary,
                exitCode: Int32(row["exit_code"] as Int)
            )
            record.samplesPath = row["samples_path"]
            record.planSource = row["plan_source"]
            var histograms: RunHistograms?
            if !fetched.1.isEmpty {
                var latency = LatencyHistogram.make()
                var service = LatencyHistogram.make()
                var byName: [String: Histogram<UInt64>] = [:]
                var phases: [Phase: Histogram<UInt64>] = [:]
                for h in fetched.1 {
                    let data: Data = h["data"]
                    let decoded = try HistogramCodec.decode([UInt8](data))
                    switch (h["kind"] as String, h["name"] as String) {
                    case ("latency", ""): latency = decoded
                    case ("service_time", ""): service = decoded
                    case ("latency", let name): byName[name] = decoded
                    case (let kind, ""):
                        if kind.hasPrefix("phase."), let phase = Phase(rawValue: String(kind.dropFirst(6))) {
                            phases[phase] = decoded
                        }
                    default: break
                    }
                }
                histograms = RunHistograms(latency: latency, serviceTime: service, byName: byName, phases: phases)
            }
            return StoredRun(record: record, histograms: histograms)
        } catch {
            throw HistoryError("run #\(id) in \(path) cannot be read: \(error)")
        }
    }

    /// Deletes a run (and its histograms); false when there was none.
    @discardableResult
    public func delete(_ id: Int64) throws(HistoryError) -> Bool {
        do {
            return try pool.write { db in
                try db.execute(sql: "DELETE FROM runs WHERE id = ?", arguments: [id])
                return db.changesCount > 0
            }
        } catch {
            throw HistoryError("cannot delete run #\(id): \(error)")
        }
    }

    // MARK: Experiments

    /// Saves an experiment (a sweep, a matrix, a find-max) as one entry: its result is the
    /// JSON its command prints with `--json`; its runs are saved separately.
    @discardableResult
    public func saveExperiment(_ e: ExperimentRecord) throws(HistoryError) -> Int64 {
        do {
            let command = String(decoding: try JSONEncoder().encode(Redaction.commandLine(e.command)), as: UTF8.self)
            return try pool.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO experiments (started_at, kind, label, target, command, result) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [e.startedAt.timeIntervalSince1970, e.kind, e.label, e.target, command, e.result]
                )
                return db.lastInsertedRowID
            }
        } catch {
            throw HistoryError("cannot save the experiment to \(path): \(error)")
        }
    }

    public func experiments(limit: Int = 50) throws(HistoryError) -> [ExperimentRecord] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM (SELECT * FROM experiments ORDER BY id DESC LIMIT ?) ORDER BY id",
                arguments: [max(1, limit)]
            ).map(Self.experiment)
        }
    }

    /// An experiment by id, or the last one (`last`).
    public func experiment(_ reference: String) throws(HistoryError) -> ExperimentRecord {
        let text = reference.hasPrefix("E") || reference.hasPrefix("e") ? String(reference.dropFirst()) : reference
        let row = try read { db -> Row? in
            if text == "last" { return try Row.fetchOne(db, sql: "SELECT * FROM experiments ORDER BY id DESC LIMIT 1") }
            guard let id = Int64(text) else { return nil }
            return try Row.fetchOne(db, sql: "SELECT * FROM experiments WHERE id = ?", arguments: [id])
        }
        guard let row else {
            throw HistoryError(
                "there is no experiment '\(reference)' in \(path)",
                hint: "`volley experiments` lists them (E1, E2, …, last)"
            )
        }
        return Self.experiment(row)
    }

    static func experiment(_ row: Row) -> ExperimentRecord {
        let commandText: String = row["command"]
        let command = (try? JSONDecoder().decode([String].self, from: Data(commandText.utf8))) ?? []
        return ExperimentRecord(
            id: row["id"],
            startedAt: Date(timeIntervalSince1970: row["started_at"]),
            kind: row["kind"],
            label: row["label"],
            target: row["target"],
            command: command,
            result: row["result"]
        )
    }

    /// SQLite's own consistency check, for tests and `volley history --check`.
    public func integrityCheck() throws(HistoryError) -> String {
        try read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer" }
    }

    private func read<T>(_ body: (Database) throws -> T) throws(HistoryError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw HistoryError("cannot read the run history at \(path): \(error)")
        }
    }

    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}

extension Double {
    fileprivate var finiteOrZero: Double { isFinite ? self : 0 }
}
