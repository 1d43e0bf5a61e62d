import Prometheus
import Synchronization

/// The lab's `/metrics`: request counters and latency histograms by route (kept by
/// swift-prometheus on the request path), plus the state of every bottleneck — pool, workers,
/// logging, cache — read at scrape time so that the numbers are exact, not sampled.
final class LabMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// Collectors by route, method and status, made once: the registry's own lookup builds
    /// the series name and label list on every call.
    private let collectors = Mutex<[String: (Counter, DurationHistogram)]>([:])

    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let key = "\(route) \(method) \(status)"
        let (counter, histogram) = collectors.withLock { made in
            if let pair = made[key] { return pair }
            let pair = (
                registry.makeCounter(
                    descriptor: .init(
                        namespace: "lab",
                        metricName: "http_requests",
                        unitName: "total",
                        helpText: "Requests answered, by route, method and status."
                    ),
                    labels: [("route", route), ("method", method), ("status", String(status))]
                ),
                registry.makeDurationHistogram(
                    descriptor: .init(
                        namespace: "lab",
                        metricName: "http_request_duration",
                        unitName: "seconds",
                        helpText: "Time from the request reaching the handler to its response."
                    ),
                    labels: [("route", route)],
                    buckets: Self.buckets
                )
            )
            made[key] = pair
            return pair
        }
        counter.increment()
        histogram.record(duration)
    }

    /// The exposition text: registry series first, then the bottlenecks' state.
    func render(_ state: LabSnapshot) -> String {
        var text = registry.emitToString()
        func series(_ name: String, _ type: String, _ help: String, _ value: Double) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            let rendered = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
            text += "\(name) \(rendered)\n"
        }
        let pool = state.pool
        series(
            "lab_db_pool_size",
            "gauge",
            "Connections the pool keeps open (QueuePool pool_size).",
            Double(state.configuration.poolSize)
        )
        series(
            "lab_db_pool_max_overflow",
            "gauge",
            "Extra connections allowed beyond the pool size.",
            Double(state.configuration.poolOverflow)
        )
        series("lab_db_pool_checked_out", "gauge", "Connections in use right now.", Double(pool.checkedOut))
        series("lab_db_pool_idle", "gauge", "Open connections not in use.", Double(pool.idle))
        series(
            "lab_db_pool_overflow",
            "gauge",
            "Open connections beyond the pool size (negative while fewer are open).",
            Double(pool.overflow)
        )
        series("lab_db_pool_waiting", "gauge", "Requests waiting for a connection.", Double(pool.waiting))
        series("lab_db_pool_checkouts_total", "counter", "Connections handed out.", Double(pool.checkouts))
        series(
            "lab_db_pool_timeouts_total",
            "counter",
            "Checkouts that gave up after the pool timeout (answered 500).",
            Double(pool.timeouts)
        )
        series(
            "lab_db_pool_wait_seconds_total",
            "counter",
            "Time requests spent waiting for a connection.",
            pool.waitSeconds
        )
        series("lab_db_queries_total", "counter", "Queries run.", Double(pool.queries))
        series("lab_workers", "gauge", "Worker limit (0 = unlimited).", Double(state.configuration.workers))
        series("lab_workers_busy", "gauge", "Requests being handled by a worker.", Double(state.workersBusy))
        series(
            "lab_worker_queue_depth",
            "gauge",
            "Requests in the backlog waiting for a worker.",
            Double(state.workerQueue)
        )
        series(
            "lab_backlog_rejected_total",
            "counter",
            "Connections closed without a response because the backlog was full.",
            Double(state.backlogRejected)
        )
        series("lab_log_lines_total", "counter", "Log lines written on the request path.", Double(state.logLines))
        series(
            "lab_log_seconds_total",
            "counter",
            "Time requests spent in synchronous logging, lock waits included.",
            state.logSeconds
        )
        series("lab_cache_hits_total", "counter", "GET responses served from the cache.", Double(state.cacheHits))
        series(
            "lab_cache_misses_total",
            "counter",
            "Cacheable GETs that went to the database.",
            Double(state.cacheMisses)
        )
        series("lab_requests_in_progress", "gauge", "Requests inside handlers right now.", Double(state.inProgress))
        return text
    }
}

/// The lab's bottlenecks at one instant, for `/metrics`, tests and `volley demo`.
public struct LabSnapshot: Sendable {
    public var configuration: LabConfiguration
    var pool: ConnectionPool.Statistics
    public var workersBusy: Int
    public var workerQueue: Int
    public var backlogRejected: Int
    public var logLines: Int
    public var logSeconds: Double
    public var cacheHits: Int
    public var cacheMisses: Int
    public var inProgress: Int

    public var poolCheckedOut: Int { pool.checkedOut }
    public var poolWaiting: Int { pool.waiting }
    public var poolTimeouts: Int { pool.timeouts }
    public var poolCheckouts: Int { pool.checkouts }
    public var poolWaitSeconds: Double { pool.waitSeconds }
    public var queries: Int { pool.queries }
}
