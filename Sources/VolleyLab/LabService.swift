import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// An answer from a route handler before the request path wraps it (logging, cache, metrics).
struct LabReply: Sendable {
    var status: HTTPResponse.Status
    var body: ByteBuffer

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> LabReply {
        LabReply(status: status, body: ByteBuffer(data: try LabService.encoder.encode(value)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, detail: String? = nil) -> LabReply {
        var object = ["error": message]
        if let detail { object["detail"] = detail }
        let data = (try? LabService.encoder.encode(object)) ?? Data("{}".utf8)
        return LabReply(status: status, body: ByteBuffer(data: data))
    }
}

/// The lab's request path and its bottlenecks. Every API request goes through `serve`, in the
/// order a Python web service's request does: a worker (or the backlog), synchronous log
/// lines, CPU work, the response cache, then the handler and its pooled connection.
final class LabService: Sendable {
    let configuration: LabConfiguration
    let pool: ConnectionPool
    let logger: SyncLogger
    let cache: ResponseCache?
    let workers: WorkerPool?
    let metrics = LabMetrics()
    private let inProgress = Atomic<Int>(0)
    /// The port actually bound (the configuration may say 0), for `/config`.
    let boundPort = Atomic<Int>(0)
    private let requestCounter = Atomic<Int>(0)

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    // Non-throwing on purpose (see SyncLogger.init): callers open the logger first.
    init(configuration: LabConfiguration, storage: any LabStorage, logger: SyncLogger) {
        self.configuration = configuration
        self.pool = ConnectionPool(
            storage: storage,
            size: configuration.poolSize,
            overflow: configuration.poolOverflow,
            timeout: configuration.poolTimeout,
            queryLatency: configuration.queryLatency
        )
        self.logger = logger
        self.cache = configuration.cache ? ResponseCache(ttl: configuration.cacheTTL) : nil
        self.workers =
            configuration.workers > 0
            ? WorkerPool(workers: configuration.workers, backlog: configuration.backlog) : nil
    }

    var snapshot: LabSnapshot {
        let workerStats = workers?.statistics ?? (busy: 0, queued: 0, rejected: 0)
        let log = logger.statistics
        let cacheStats = cache?.statistics ?? (hits: 0, misses: 0, entries: 0)
        return LabSnapshot(
            configuration: configuration,
            pool: pool.statistics,
            workersBusy: workerStats.busy,
            workerQueue: workerStats.queued,
            backlogRejected: workerStats.rejected,
            logLines: log.lines,
            logSeconds: log.seconds,
            cacheHits: cacheStats.hits,
            cacheMisses: cacheStats.misses,
            inProgress: inProgress.load(ordering: .relaxed)
        )
    }

    /// The request path. `route` is the route's template (`GET /businesses/id/{id}`), used
    /// for metrics and log lines; `cacheable` marks GETs the response cache may answer.
    func serve(
        _ request: Request,
        route: String,
        cacheable: Bool = false,
        handler: @Sendable () async throws -> LabReply
    ) async -> Response {
        let started = ContinuousClock.now
        let requestID =
            request.headers[HTTPField.Name("X-Request-ID")!]
            ?? "lab-\(requestCounter.wrappingAdd(1, ordering: .relaxed).newValue)"
        let reply: LabReply
        do {
            if let workers {
                reply = try await workers.run { await self.handle(request, route, cacheable, requestID, handler) }
            } else {
                reply = await handle(request, route, cacheable, requestID, handler)
            }
        } catch {
            reply = .error(.serviceUnavailable, "request cancelled")
        }
        let elapsed = ContinuousClock.now - started
        metrics.recordRequest(
            route: route,
            method: request.method.rawValue,
            status: reply.status.code,
            duration: elapsed
        )
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPField.Name("X-Request-ID")!] = requestID
        return Response(status: reply.status, headers: headers, body: .init(byteBuffer: reply.body))
    }

    private func handle(
        _ request: Request,
        _ route: String,
        _ cacheable: Bool,
        _ requestID: String,
        _ handler: @Sendable () async throws -> LabReply
    ) async -> LabReply {
        inProgress.add(1, ordering: .relaxed)
        defer { inProgress.subtract(1, ordering: .relaxed) }
        let started = ContinuousClock.now
        let lines = configuration.logLines
        if lines >= 2 {
            await logger.log(
                [
                    "level": "info", "event": "request.start", "method": request.method.rawValue,
                    "path": request.uri.description, "route": route,
                ],
                requestID: requestID
            )
        }
        if configuration.cpuPerRequest > .zero { CPUWork.burn(configuration.cpuPerRequest) }

        let cacheKey = request.uri.description
        var reply: LabReply
        if cacheable, request.method == .get, let cache, let body = cache.lookup(cacheKey) {
            reply = LabReply(status: .ok, body: body)
        } else {
            do {
                reply = try await handler()
                if cacheable, request.method == .get, reply.status == .ok { cache?.store(cacheKey, body: reply.body) }
            } catch let timeout as ConnectionPool.PoolTimeout {
                reply = .error(.internalServerError, "pool limit reached", detail: timeout.description)
            } catch let error as HTTPError {
                reply = .error(error.status, error.body ?? error.status.reasonPhrase)
            } catch is CancellationError {
                reply = .error(.serviceUnavailable, "request cancelled")
            } catch {
                reply = .error(.internalServerError, "internal error", detail: String(describing: error))
            }
        }

        if lines >= 3 {
            for step in 1...(lines - 2) {
                await logger.log(
                    ["level": "debug", "event": "handler.step", "step": String(step), "route": route],
                    requestID: requestID
                )
            }
        }
        if lines >= 1 {
            let ms = (ContinuousClock.now - started).labSeconds * 1000
            await logger.log(
                [
                    "level": reply.status.code >= 500 ? "error" : "info", "event": "request.end",
                    "status": String(reply.status.code), "duration_ms": String(format: "%.3f", ms),
                    "route": route,
                ],
                requestID: requestID
            )
        }
        return reply
    }

    // MARK: Handlers

    /// One unit of database work on a connection checked out from the pool for its duration.
    func database<T: Sendable>(_ work: @escaping @Sendable (any LabConnection) async throws -> T) async throws -> T {
        try await pool.withConnection { try await $0.run(work) }
    }
}

/// Real CPU work: hashing in a loop until the time is spent, for `--cpu-per-request`.
enum CPUWork {
    private static let sink = Atomic<UInt64>(0)

    static func burn(_ duration: Duration) {
        let clock = ContinuousClock()
        let deadline = clock.now + duration
        var state: UInt64 = 0xCBF2_9CE4_8422_2325
        repeat {
            for i in 0..<2_000 as Range<UInt64> {
                state = (state ^ i) &* 0x0000_0100_0000_01B3
            }
        } while clock.now < deadline
        sink.store(state, ordering: .relaxed)
    }
}
