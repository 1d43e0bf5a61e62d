import VolleyCore

/// The back-of-the-envelope our users did by hand, done with Little's law: how many requests
/// per second a number of workers can serve at a measured service time, and how many they
/// need for a target rate.
public struct CapacityEstimate: Sendable, Equatable, Codable {
    public var serviceTimeMs: Double
    public var workers: Int
    public var threads: Int
    public var instances: Int
    /// Requests that can be in service at once: instances × workers × threads.
    public var slots: Int
    /// slots ÷ service time.
    public var maxRate: Double
    public var targetRate: Double?
    /// target × service time: the requests in service at the target rate (Little's law).
    public var concurrencyNeeded: Double?
    /// Workers per instance needed for the target (with the same threads and instances).
    public var workersNeeded: Int?
    /// target ÷ maxRate.
    public var utilisation: Double?
    /// Database connections the slots can hold at once (one per request in service).
    public var databaseConnections: Int

    public init(
        serviceTimeMs: Double,
        workers: Int,
        threads: Int = 1,
        instances: Int = 1,
        targetRate: Double? = nil
    ) {
        self.serviceTimeMs = serviceTimeMs
        self.workers = workers
        self.threads = threads
        self.instances = instances
        slots = instances * workers * threads
        let seconds = serviceTimeMs / 1000
        maxRate = seconds > 0 ? Double(slots) / seconds : .infinity
        self.targetRate = targetRate
        if let targetRate {
            let concurrency = targetRate * seconds
            concurrencyNeeded = concurrency
            workersNeeded = Int((concurrency / Double(max(1, threads * instances))).rounded(.up))
            utilisation = maxRate.isFinite && maxRate > 0 ? targetRate / maxRate : 0
        }
        databaseConnections = slots
    }

    /// gunicorn's rule of thumb for synchronous workers.
    public static func suggestedWorkers(cores: Int) -> Int { 2 * cores + 1 }
}
