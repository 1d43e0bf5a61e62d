import ArgumentParser
import VolleyCore
import VolleyLab

/// `volley lab`: the demo target, with its bottlenecks as flags.
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract:
            "Serve the lab: a small HTTP service on SQLite or PostgreSQL whose classic bottlenecks are knobs.",
        discussion: """
            APIs: /api/v1/todos (GET, POST; GET/PUT/DELETE /api/v1/todos/{id}), /businesses?id=…, \
            /businesses/id/{id}, /businesses/ref/{ref}, /businesses/ids, /books/, /authors/, \
            /health (liveness, no database), /ready (one query through the pool), /metrics \
            (Prometheus text) and /config.

            Each knob reproduces a bottleneck from the field:
              --pool-size 5 --pool-overflow 10 --pool-timeout 30s   SQLAlchemy QueuePool; a request
                                      that waits longer answers 500 "pool limit reached"
              --query-latency 2ms     added to every query while the connection is held
              --sync-log-latency 3ms --log-lines 4   synchronous logging on the request path
              --cache on --cache-ttl 5s              GET response cache
              --workers 3 --backlog 64               at most 3 requests in progress, 64 waiting;
                                      beyond that the connection closes without a response
              --cpu-per-request 1ms   real CPU work per request
              --database postgres://user:password@host:5432/db   a real PostgreSQL instead of
                                      SQLite: tables created if missing, emptied and seeded;
                                      each pooled connection is one server connection

            Example:
              volley lab --port 8080 --pool-size 2 --pool-overflow 0 --query-latency 20ms
              volley run http://127.0.0.1:8080/books/ -c 32 -d 10s
            """
    )

    @Option(help: "Address to listen on (loopback by default: the lab is a target, not a service).")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 8080

    @Option(name: .customLong("db"), help: "SQLite file to create and seed (default: a temporary file).")
    var databasePath: String?

    @Option(
        name: .customLong("database"),
        help: "PostgreSQL to use instead of SQLite, e.g. postgres://volley:volley@127.0.0.1:5432/volley."
    )
    var databaseURL: String?

    @Option(help: "Businesses to seed.")
    var businesses: Int = 10_000
    @Option(help: "Todos to seed.")
    var todos: Int = 100
    @Option(help: "Authors to seed.")
    var authors: Int = 100
    @Option(help: "Books to seed.")
    var books: Int = 500

    @Option(help: "Connections the pool keeps open (QueuePool pool_size).")
    var poolSize: Int = 5
    @Option(help: "Extra connections opened when the pool is busy (max_overflow).")
    var poolOverflow: Int = 10
    @Option(help: "How long a request waits for a connection before answering 500, e.g. 30s.")
    var poolTimeout: String = "30s"
    @Option(help: "Latency added to every database query, e.g. 2ms.")
    var queryLatency: String = "0ms"

    @Option(help: "Time each log line holds the log handler's lock, e.g. 3ms.")
    var syncLogLatency: String = "0ms"
    @Option(help: "Log lines per request.")
    var logLines: Int = 4
    @Option(help: "File the JSON log lines are appended to (default: formatted and discarded).")
    var logFile: String?

    @Option(help: "GET response cache: on or off.")
    var cache: String = "off"
    @Option(help: "How long a cached response is served, e.g. 5s.")
    var cacheTTL: String = "5s"

    @Option(help: "Requests in progress at most (0 = unlimited).")
    var workers: Int = 0
    @Option(help: "Requests waiting for a worker at most; beyond, connections close unanswered.")
    var backlog: Int = 64

    @Option(help: "Real CPU work per request, e.g. 1ms.")
    var cpuPerRequest: String = "0ms"

    func labConfiguration() throws -> LabConfiguration {
        var c = LabConfiguration()
        c.host = host
        c.port = port
        c.databasePath = databasePath
        c.databaseURL = databaseURL
        c.businesses = businesses
        c.todos = todos
        c.authors = authors
        c.books = books
        c.poolSize = poolSize
        c.poolOverflow = poolOverflow
        c.poolTimeout = try Self.duration(poolTimeout, flag: "pool-timeout")
        c.queryLatency = try Self.duration(queryLatency, flag: "query-latency")
        c.syncLogLatency = try Self.duration(syncLogLatency, flag: "sync-log-latency")
        c.logLines = logLines
        c.logFile = logFile
        switch cache.lowercased() {
        case "on", "true", "yes", "1": c.cache = true
        case "off", "false", "no", "0": c.cache = false
        default:
            throw CLIError(message: "--cache takes on or off, got '\(cache)'", hint: nil, code: .usage)
        }
        c.cacheTTL = try Self.duration(cacheTTL, flag: "cache-ttl")
        c.workers = workers
        c.backlog = backlog
        c.cpuPerRequest = try Self.duration(cpuPerRequest, flag: "cpu-per-request")
        do {
            try c.validate()
        } catch {
            throw CLIError(message: error.message, hint: error.hint, code: .usage)
        }
        return c
    }

    static func duration(_ text: String, flag: String) throws -> Duration {
        do {
            return try DurationText.parse(text)
        } catch let error as InputError {
            throw CLIError(message: "--\(flag): \(error.message)", hint: error.hint, code: .usage)
        }
    }

    func run() async throws {
        let requested = try labConfiguration()
        let server: LabServer
        do {
            server = try await LabServer.start(requested, logLevel: .warning)
        } catch let error as LabConfigurationError {
            throw CLIError(message: error.message, hint: error.hint, code: .failure)
        }
        Terminal.writeError(
            "volley lab listening on \(server.baseURL)\n"
                + server.configuration.summaryLines.map { "  " + $0 }.joined(separator: "\n")
                + "\n  endpoints: /api/v1/todos /businesses?id= /businesses/id/{id} /businesses/ref/{ref}"
                + " /businesses/ids /books/ /authors/ /health /ready /metrics /config\n"
                + "Ctrl-C to stop.\n"
        )
        let watcher = InterruptWatcher(message: "stopping the lab") {
            Task { await server.stop() }
        }
        watcher.start()
        await server.wait()
        watcher.stop()
        await server.stop()
    }
}
