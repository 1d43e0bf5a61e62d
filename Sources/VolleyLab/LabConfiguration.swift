import VolleyProbes

/// Everything that shapes the lab's behaviour: where it listens, how much data it seeds, and
/// the pathology knobs. One value, printed at start and served at `/config`, so that a result
/// can always be tied to the configuration that produced it.
public struct LabConfiguration: Sendable, Equatable, Codable {
    /// Loopback by default: the lab is a target for load, never something to expose.
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (tests and `volley demo`).
    public var port: Int = 8080
    /// The SQLite file; `nil` creates one in a temporary directory, removed at stop.
    public var databasePath: String? = nil
    /// A PostgreSQL server instead of SQLite (`postgres://user:password@host:port/db`): the
    /// same tables, seed and knobs, on a real server that a `--probe postgres://…` can watch.
    /// Its password never leaves the process: `/config`, the JSON form and the start-up lines
    /// show it redacted.
    public var databaseURL: String? = nil

    /// Seed sizes.
    public var businesses: Int = 10_000
    public var todos: Int = 100
    public var authors: Int = 100
    public var books: Int = 500

    /// SQLAlchemy QueuePool semantics: `poolSize` connections stay open, up to `poolOverflow`
    /// more are opened on demand and closed on return; beyond that a checkout waits up to
    /// `poolTimeout` and then fails with "pool limit reached" (HTTP 500).
    public var poolSize: Int = 5
    public var poolOverflow: Int = 10
    public var poolTimeout: Duration = .seconds(30)
    /// Added to every query while its connection is held: the network round trip and server
    /// time of a remote database, which is what makes a small pool the bottleneck.
    public var queryLatency: Duration = .zero

    /// Synchronous logging on the request path: each line holds the log handler's lock for
    /// this long, as a blocking write to a slow disk or pipe does.
    public var syncLogLatency: Duration = .zero
    /// Log lines written per request (structured JSON with the request's X-Request-ID).
    public var logLines: Int = 4
    /// Where the lines go; `nil` formats and discards them (the latency knob still applies).
    public var logFile: String? = nil

    /// GET response cache (200 responses, keyed by path and query).
    public var cache: Bool = false
    public var cacheTTL: Duration = .seconds(5)

    /// Worker model (gunicorn-style): at most `workers` requests in progress (0 = unlimited);
    /// up to `backlog` more wait; beyond that the connection is closed without a response.
    public var workers: Int = 0
    public var backlog: Int = 64

    /// Real CPU work per request (hashing), for CPU-bound services.
    public var cpuPerRequest: Duration = .zero

    public init() {}

    /// Checks the knobs together, so that a bad combination is refused before the server
    /// starts rather than behaving strangely under load.
    public func validate() throws(LabConfigurationError) {
        func positive(_ value: Int, _ flag: String, allowZero: Bool = false) throws(LabConfigurationError) {
            if value < 0 || (!allowZero && value == 0) {
                throw LabConfigurationError(
                    "--\(flag) must be \(allowZero ? "0 or more" : "at least 1"), got \(value)"
                )
            }
        }
        try positive(port, "port", allowZero: true)
        if port > 65_535 { throw LabConfigurationError("--port must be at most 65535, got \(port)") }
        try positive(businesses, "businesses")
        try positive(todos, "todos", allowZero: true)
        try positive(authors, "authors")
        try positive(books, "books", allowZero: true)
        try positive(poolSize, "pool-size")
        try positive(poolOverflow, "pool-overflow", allowZero: true)
        try positive(logLines, "log-lines", allowZero: true)
        try positive(workers, "workers", allowZero: true)
        try positive(backlog, "backlog", allowZero: true)
        for (value, flag) in [
            (poolTimeout, "pool-timeout"), (queryLatency, "query-latency"),
            (syncLogLatency, "sync-log-latency"), (cacheTTL, "cache-ttl"),
            (cpuPerRequest, "cpu-per-request"),
        ] where value < .zero {
            throw LabConfigurationError("--\(flag) must not be negative")
        }
        if let databaseURL {
            if databasePath != nil {
                throw LabConfigurationError(
                    "--db (a SQLite file) and --database postgres://… cannot be used together"
                )
            }
            do {
                _ = try PostgresTarget.parse(databaseURL)
            } catch {
                throw LabConfigurationError(
                    "--database: \(error.description)",
                    hint: "expected postgres://user:password@host:port/database"
                )
            }
        }
        if poolTimeout == .zero {
            throw LabConfigurationError(
                "--pool-timeout must be more than 0",
                hint: "QueuePool's timeout is how long a request waits for a connection; try 30s"
            )
        }
    }

    /// The configuration as the lines printed at start-up.
    public var summaryLines: [String] {
        func ms(_ d: Duration) -> String { LabConfiguration.format(d) }
        var lines: [String] = []
        lines.append("listen        \(host):\(port)")
        if let databaseURL {
            lines.append("database      PostgreSQL \(ProbeFactory.redact(databaseURL))")
        } else {
            lines.append("database      SQLite \(databasePath ?? "(temporary file)")")
        }
        lines.append(
            "seed          \(businesses) businesses, \(todos) todos, \(authors) authors, \(books) books"
        )
        lines.append(
            "pool          size \(poolSize) + overflow \(poolOverflow), timeout \(ms(poolTimeout)), "
                + "query latency \(ms(queryLatency))"
        )
        lines.append(
            "logging       \(logLines) lines/request, \(ms(syncLogLatency)) per line (synchronous)"
                + (logFile.map { " → \($0)" } ?? "")
        )
        lines.append("cache         \(cache ? "on, ttl \(ms(cacheTTL))" : "off")")
        lines.append(
            "workers       \(workers == 0 ? "unlimited" : "\(workers), backlog \(backlog)")"
        )
        lines.append("cpu/request   \(ms(cpuPerRequest))")
        return lines
    }

    /// Short human form of a duration: `250ms`, `1.5s`, `30s`, `0`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attos) = duration.components
        let totalMs = Double(seconds) * 1000 + Double(attos) / 1e15
        if totalMs == 0 { return "0" }
        if totalMs < 1 { return "\(Int((totalMs * 1000).rounded()))µs" }
        if totalMs < 1000 {
            return totalMs == totalMs.rounded() ? "\(Int(totalMs))ms" : String(format1: totalMs) + "ms"
        }
        let s = totalMs / 1000
        return s == s.rounded() ? "\(Int(s))s" : String(format1: s) + "s"
    }

    enum CodingKeys: String, CodingKey {
        case host, port
        case databasePath = "database_path"
        case databaseURL = "database_url"
        case businesses, todos, authors, books
        case poolSize = "pool_size"
        case poolOverflow = "pool_overflow"
        case poolTimeout = "pool_timeout_seconds"
        case queryLatency = "query_latency_seconds"
        case syncLogLatency = "sync_log_latency_seconds"
        case logLines = "log_lines"
        case logFile = "log_file"
        case cache
        case cacheTTL = "cache_ttl_seconds"
        case workers, backlog
        case cpuPerRequest = "cpu_per_request_seconds"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func seconds(_ key: CodingKeys) throws -> Duration {
            .milliseconds(Int64((try c.decode(Double.self, forKey: key) * 1000).rounded()))
        }
        host = try c.decode(String.self, forKey: .host)
        port = try c.decode(Int.self, forKey: .port)
        databasePath = try c.decodeIfPresent(String.self, forKey: .databasePath)
        databaseURL = try c.decodeIfPresent(String.self, forKey: .databaseURL)
        businesses = try c.decode(Int.self, forKey: .businesses)
        todos = try c.decode(Int.self, forKey: .todos)
        authors = try c.decode(Int.self, forKey: .authors)
        books = try c.decode(Int.self, forKey: .books)
        poolSize = try c.decode(Int.self, forKey: .poolSize)
        poolOverflow = try c.decode(Int.self, forKey: .poolOverflow)
        poolTimeout = try seconds(.poolTimeout)
        queryLatency = try seconds(.queryLatency)
        syncLogLatency = try seconds(.syncLogLatency)
        logLines = try c.decode(Int.self, forKey: .logLines)
        logFile = try c.decodeIfPresent(String.self, forKey: .logFile)
        cache = try c.decode(Bool.self, forKey: .cache)
        cacheTTL = try seconds(.cacheTTL)
        workers = try c.decode(Int.self, forKey: .workers)
        backlog = try c.decode(Int.self, forKey: .backlog)
        cpuPerRequest = try seconds(.cpuPerRequest)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(host, forKey: .host)
        try c.encode(port, forKey: .port)
        try c.encodeIfPresent(databasePath, forKey: .databasePath)
        try c.encodeIfPresent(databaseURL.map(ProbeFactory.redact), forKey: .databaseURL)
        try c.encode(businesses, forKey: .businesses)
        try c.encode(todos, forKey: .todos)
        try c.encode(authors, forKey: .authors)
        try c.encode(books, forKey: .books)
        try c.encode(poolSize, forKey: .poolSize)
        try c.encode(poolOverflow, forKey: .poolOverflow)
        try c.encode(poolTimeout.labSeconds, forKey: .poolTimeout)
        try c.encode(queryLatency.labSeconds, forKey: .queryLatency)
        try c.encode(syncLogLatency.labSeconds, forKey: .syncLogLatency)
        try c.encode(logLines, forKey: .logLines)
        try c.encodeIfPresent(logFile, forKey: .logFile)
        try c.encode(cache, forKey: .cache)
        try c.encode(cacheTTL.labSeconds, forKey: .cacheTTL)
        try c.encode(workers, forKey: .workers)
        try c.encode(backlog, forKey: .backlog)
        try c.encode(cpuPerRequest.labSeconds, forKey: .cpuPerRequest)
    }
}

/// A configuration the lab refuses to start with.
public struct LabConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String { message }
}

extension Duration {
    /// Seconds as a Double, for JSON and Prometheus (which count time in seconds).
    var labSeconds: Double {
        let (s, a) = components
        return Double(s) + Double(a) / 1e18
    }
}

extension String {
    /// One decimal, trailing ".0" kept out by the callers.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}
