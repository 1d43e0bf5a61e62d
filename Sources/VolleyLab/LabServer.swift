import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import VolleyProbes

/// The lab, running: a Hummingbird HTTP/1.1 server on its own task, with the database seeded
/// and every knob applied. Start it in-process (tests, `volley demo`) or from `volley lab`.
public final class LabServer: Sendable {
    /// The configuration in force, with the port actually bound.
    public let configuration: LabConfiguration
    private let service: LabService
    private let task: Task<Void, any Error>
    private let group: ServiceGroup
    private let temporaryDirectory: URL?

    /// `http://host:port` of the running server.
    public var baseURL: String {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "http://\(host):\(configuration.port)"
    }

    /// The bottlenecks' state right now (what `/metrics` serves).
    public var snapshot: LabSnapshot { service.snapshot }

    private init(
        configuration: LabConfiguration,
        service: LabService,
        task: Task<Void, any Error>,
        group: ServiceGroup,
        temporaryDirectory: URL?
    ) {
        self.configuration = configuration
        self.service = service
        self.task = task
        self.group = group
        self.temporaryDirectory = temporaryDirectory
    }

    /// Seeds the database, binds, and returns once the server accepts connections.
    public static func start(
        _ requested: LabConfiguration,
        logLevel: Logger.Level = .error
    ) async throws -> LabServer {
        try requested.validate()
        var temporaryDirectory: URL?
        let storage: any LabStorage
        if let url = requested.databaseURL {
            let postgres = PostgresStorage(target: try PostgresTarget.parse(url))
            do {
                try await postgres.createAndSeed(configuration: requested)
            } catch {
                throw LabConfigurationError(
                    "cannot create the lab's tables: \(error)",
                    hint: "check that the server is up and the user may create tables in that database "
                        + "(scripts/start-postgres starts a throwaway one), or leave out --database for SQLite"
                )
            }
            storage = postgres
        } else {
            let databasePath: String
            if let path = requested.databasePath {
                databasePath = path
            } else {
                let directory = FileManager.default.temporaryDirectory
                    .appendingPathComponent("volley-lab-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                temporaryDirectory = directory
                databasePath = directory.appendingPathComponent("lab.sqlite").path
            }
            do {
                try LabDatabase.createAndSeed(path: databasePath, configuration: requested)
            } catch {
                if let temporaryDirectory { try? FileManager.default.removeItem(at: temporaryDirectory) }
                throw LabConfigurationError(
                    "cannot create the lab database at \(databasePath): \(error)",
                    hint: "pass --db with a writable path, or leave it out for a temporary file"
                )
            }
            storage = SQLiteStorage(path: databasePath)
        }
        let logger: SyncLogger
        do {
            logger = try SyncLogger.open(latencyPerLine: requested.syncLogLatency, path: requested.logFile)
        } catch {
            if let temporaryDirectory { try? FileManager.default.removeItem(at: temporaryDirectory) }
            throw error
        }
        let service = LabService(configuration: requested, storage: storage, logger: logger)
        let router = Router()
        service.addRoutes(to: router)

        var serverLogger = Logger(label: "volley.lab")
        serverLogger.logLevel = logLevel
        let (bound, boundContinuation) = AsyncThrowingStream<Int, any Error>.makeStream()
        let workers = service.workers
        let application = Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: workers.map { [BacklogHandler(pool: $0)] } ?? []
                )
            ),
            configuration: .init(
                address: .hostname(requested.host, port: requested.port),
                serverName: "volley-lab",
                backlog: 1024
            ),
            onServerRunning: { channel in
                boundContinuation.yield(channel.localAddress?.port ?? requested.port)
                boundContinuation.finish()
            },
            logger: serverLogger
        )
        // Graceful stop (idle keep-alive connections closed, requests in flight finished),
        // bounded so that a stuck client cannot hold the lab open.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: application)],
            gracefulShutdownSignals: [],
            cancellationSignals: [],
            logger: serverLogger
        )
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(2)
        let group = ServiceGroup(configuration: groupConfiguration)
        let task = Task {
            do {
                try await group.run()
                boundContinuation.finish()
            } catch {
                boundContinuation.finish(throwing: error)
                throw error
            }
        }
        var port: Int?
        do {
            for try await value in bound { port = value }
        } catch {
            service.close()
            if let temporaryDirectory { try? FileManager.default.removeItem(at: temporaryDirectory) }
            throw LabConfigurationError(
                "the lab cannot listen on \(requested.host):\(requested.port): \(error)",
                hint: "pick another --port, or 0 for any free one"
            )
        }
        guard let port else {
            service.close()
            throw LabConfigurationError("the lab stopped before it started listening")
        }
        var configuration = requested
        configuration.port = port
        service.boundPort.store(port, ordering: .relaxed)
        return LabServer(
            configuration: configuration,
            service: service,
            task: task,
            group: group,
            temporaryDirectory: temporaryDirectory
        )
    }

    /// Stops accepting, closes connections and removes the temporary database.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
        service.close()
        if let temporaryDirectory { try? FileManager.default.removeItem(at: temporaryDirectory) }
    }

    /// Serves until `stop` (the CLI calls it on Ctrl-C).
    public func wait() async {
        _ = await task.result
    }
}

extension LabService {
    func close() {
        pool.close()
        logger.close()
    }
}
