extension ProbeSeries.Postgres {
    // MARK: - Clients

    /// `pg.client.<label>.<field>`: the connections of one client of the server, so that a
    /// client-side pool shows as one client pinned at its size while the server has room.
    public static let clientPrefix = "pg.client."

    /// The label that sums the clients beyond the ones with their own series.
    public static let otherClient = "other"

    /// The longest client label kept; longer ones are cut, so series names stay readable.
    public static let clientLabelLimit = 60

    /// What is counted per client: every connection, and those in each state that tells a
    /// pool's use apart from a database that is slow or blocked.
    public enum ClientField: String, CaseIterable, Sendable {
        /// All connections of the client, in any state.
        case connections
        /// Running a statement now (waiting on a lock included).
        case active
        /// Open and idle: a pool's spare connections.
        case idle
        /// Inside a transaction but not running anything: holds locks while the app works.
        case idleInTransaction = "idle_in_transaction"
        /// Active and waiting on a heavyweight lock (`wait_event_type = 'Lock'`).
        case waitingLock = "waiting_lock"
    }

    /// `pg.client.<label>.<field>`; `label` is already sanitized (`clientLabel`).
    public static func client(_ label: String, _ field: ClientField) -> String {
        "\(clientPrefix)\(label).\(field.rawValue)"
    }

    /// The label and field of a `pg.client.…` series, or nil for any other series. Labels may
    /// hold dots (an application name like `app.worker`), so the field is taken from the end.
    public static func parseClient(_ series: String) -> (label: String, field: ClientField)? {
        guard series.hasPrefix(clientPrefix) else { return nil }
        let rest = series.dropFirst(clientPrefix.count)
        guard let dot = rest.lastIndex(of: ".") else { return nil }
        let label = rest[..<dot]
        guard !label.isEmpty, let field = ClientField(rawValue: String(rest[rest.index(after: dot)...])) else {
            return nil
        }
        return (String(label), field)
    }

    /// A client's label: its `application_name` when it set one, else `user@address`
    /// (`user@local` over a Unix socket), reduced to `[A-Za-z0-9_.@:-]` (others become `_`)
    /// and at most `clientLabelLimit` characters, so that any name makes a valid series name.
    public static func clientLabel(applicationName: String?, user: String?, address: String?) -> String {
        let raw: String
        if let applicationName, !applicationName.isEmpty {
            raw = applicationName
        } else {
            raw = "\(user ?? "unknown")@\(address ?? "local")"
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@:-")
        return String(raw.prefix(clientLabelLimit).map { allowed.contains($0) ? $0 : "_" })
    }

    // MARK: - Wait events and ages

    /// `pg.wait.<type>`: active client backends by `wait_event_type`, lowercased (`lock`,
    /// `lwlock`, `io`, `client`, `ipc`, `timeout`, …): what the running queries wait on.
    public static let waitPrefix = "pg.wait."

    /// `pg.wait.<type>` for a `wait_event_type` as PostgreSQL spells it (`Lock`, `IO`).
    public static func wait(_ type: String) -> String { "\(waitPrefix)\(type.lowercased())" }

    /// Active client backends with no wait event: running on a CPU (or about to).
    public static let waitCPU = "pg.wait.cpu"

    /// The wait event types PostgreSQL reports, written as 0 when none is seen so that every
    /// sample has them.
    public static let standardWaitTypes = [
        "lock", "lwlock", "io", "client", "ipc", "timeout", "activity", "bufferpin", "extension",
    ]

    /// Age in seconds of the oldest active client query, 0 when none runs.
    public static let oldestQuerySeconds = "pg.oldest_query_s"
    /// Age in seconds of the oldest open client transaction, 0 when none is open.
    public static let oldestTransactionSeconds = "pg.oldest_transaction_s"

    // MARK: - Statements

    /// Statements of the probed database finished per second (`pg_stat_statements`), the
    /// probe's own left out.
    public static let statementsCallsPerSecond = "pg.statements.calls_per_s"
    /// Mean execution time of the statements finished in the interval: a fast query behind a
    /// slow request means the wait is before the database.
    public static let statementsMeanMilliseconds = "pg.statements.mean_ms"
}
