import Foundation

/// Which bottleneck (or which kind of explanation) a finding names.
///
/// One identifier per bottleneck, whatever the evidence: a pool seen through the service's
/// Prometheus gauges and a pool seen from PostgreSQL's side are both `poolSaturation`, so a
/// script that waits for "pool-saturation" does not care which probes the user had. The raw
/// values are stable: scripts, tests and stored runs use them.
public enum FindingID: String, Codable, Sendable, CaseIterable {
    case generatorBound = "generator-bound"
    case poolSaturation = "pool-saturation"
    case postgresMaxConnections = "postgres-max-connections"
    case errorsAfterSaturation = "errors-after-saturation"
    case noResponseBefore5xx = "no-response-before-5xx"
    case cpuBound = "cpu-bound"
    /// One process capped near one core while it had threads to spare (Python's GIL, one event loop).
    case singleCoreProcess = "single-core-process"
    case syncLogging = "sync-logging"
    /// Requests serialized behind one blocking call held under a lock (a log handler, a mutex around I/O).
    case blockingCall = "blocking-call"
    case workersExhausted = "workers-exhausted"
    /// Queries waited on each other's row or table locks inside the database.
    case databaseLockWait = "database-lock-wait"
    /// The database's own time per request grew with the load.
    case slowQueries = "slow-queries"
    case queueing
    /// Errors that no bottleneck finding accounts for, each class with its sample.
    case errors
    case memoryGrowth = "memory-growth"
    case autovacuum
    case healthWouldFail = "health-would-fail"
    /// An id written by another version of Volley: kept readable rather than failing the run's load.
    case unknown

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        self = FindingID(rawValue: raw) ?? .unknown
    }
}

/// How much a finding matters to whoever reads the run.
public enum Severity: String, Codable, Sendable, Comparable {
    /// The results or the service are broken: errors, an invalid measurement, a probe that would fail.
    case critical
    /// A limit the service ran into.
    case warning
    /// Context that explains what was seen without being a fault.
    case info

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        self = Severity(rawValue: raw) ?? .warning
    }

    private var rank: Int {
        switch self {
        case .critical: return 0
        case .warning: return 1
        case .info: return 2
        }
    }

    /// Most severe first.
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// One thing the diagnosis found: what, the figures that show it, and what to try next.
///
/// Findings are statements a person can check: every one names the series, values and times
/// it rests on, so that a wrong finding is as easy to reject as a right one to act on.
public struct Finding: Codable, Equatable, Sendable {
    public var id: FindingID
    public var title: String
    public var statement: String
    public var evidence: [String]
    /// The next experiment to run.
    public var next: String
    public var severity: Severity
    /// Seconds into the run when the finding's evidence begins, for ordering and charts.
    /// (One word on purpose: experiment JSON converts keys to snake case and back.)
    public var since: Double?

    public init(
        id: FindingID,
        title: String,
        statement: String,
        evidence: [String],
        next: String,
        severity: Severity = .warning,
        since: Double? = nil
    ) {
        self.id = id
        self.title = title
        self.statement = statement
        self.evidence = evidence
        self.next = next
        self.severity = severity
        self.since = since
    }
}
