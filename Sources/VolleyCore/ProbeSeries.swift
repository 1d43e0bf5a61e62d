/// The names of the series probes write and the diagnosis reads, in one place.
///
/// A probe and a rule that spell a series differently do not fail: the rule just never fires,
/// and the run says "no bottleneck" while the evidence sat in the JSON under another name.
/// Both sides use these constants, so renaming a series is one edit that the compiler carries
/// to every reader. Probes' families extend their namespace in `ProbeSeries+<Family>.swift`.
public enum ProbeSeries {
    /// The `postgres://` probe: PostgreSQL's own statistics.
    public enum Postgres {
        public static let connectionsTotal = "pg.connections.total"
        public static let connectionsActive = "pg.connections.active"
        public static let connectionsIdle = "pg.connections.idle"
        public static let connectionsIdleInTransaction = "pg.connections.idle_in_transaction"
        public static let connectionsWaitingLock = "pg.connections.waiting_lock"
        public static let maxConnections = "pg.max_connections"
        public static let autovacuumWorkers = "pg.autovacuum.workers"
        public static let autovacuumCount = "pg.autovacuum.count"
        public static let autoanalyzeCount = "pg.autoanalyze.count"
        public static let deadTuples = "pg.dead_tuples"
        public static let lockWaits = "pg.lock_waits"
        public static let databaseSizeBytes = "pg.database_size_bytes"
        public static let commitsPerSecond = "pg.commits_per_s"
        public static let rollbacksPerSecond = "pg.rollbacks_per_s"
        public static let rowsInsertedPerSecond = "pg.rows.inserted_per_s"
        public static let rowsUpdatedPerSecond = "pg.rows.updated_per_s"
        public static let rowsDeletedPerSecond = "pg.rows.deleted_per_s"
        /// `pg.table.<schema.table>.dead_tuples` for the busiest tables.
        public static func tableDeadTuples(_ table: String) -> String { "pg.table.\(table).dead_tuples" }
        public static let tablePrefix = "pg.table."
        public static let deadTuplesSuffix = ".dead_tuples"
    }

    /// The `pid:` / `name:` probes: processes read from /proc.
    public enum Process {
        public static let count = "proc.count"
        public static let cores = "proc.cores"
        public static let rssBytes = "proc.rss_bytes"
        public static let threads = "proc.threads"
        public static let openFiles = "proc.open_files"
        /// One core = 100.
        public static let cpuPercent = "proc.cpu_percent"
        public static let voluntarySwitchesPerSecond = "proc.ctx_switches_voluntary_per_s"
        public static let involuntarySwitchesPerSecond = "proc.ctx_switches_involuntary_per_s"
    }

    /// The `cgroup:` probe: a container's or a systemd unit's cgroup v2 files.
    public enum Cgroup {
        public static let cpuPercent = "cgroup.cpu_percent"
        public static let cpuThrottledPerSecond = "cgroup.cpu_throttled_per_s"
        public static let cpuLimitCores = "cgroup.cpu_limit_cores"
        public static let memoryBytes = "cgroup.memory_bytes"
        public static let memoryLimitBytes = "cgroup.memory_limit_bytes"
        public static let pids = "cgroup.pids"
        public static let ioReadBytesPerSecond = "cgroup.io_read_bytes_per_s"
        public static let ioWriteBytesPerSecond = "cgroup.io_write_bytes_per_s"
    }

    /// The `redis://` probe: Redis `INFO`.
    public enum Redis {
        public static let usedMemoryBytes = "redis.used_memory_bytes"
    }
}
