import Foundation
import GRDB
import Synchronization

/// A database connection pool with SQLAlchemy's QueuePool semantics, because that pool's
/// exhaustion ("QueuePool limit of size 5 overflow 10 reached, connection timed out,
/// timeout 30.00") is the bottleneck our users met most.
///
/// - `size` connections are kept open once created;
/// - up to `overflow` more are opened when all are busy, and closed when returned while the
///   pool already holds `size` idle ones;
/// - beyond `size + overflow` a checkout waits, first come first served, up to `timeout`,
///   then fails with ``PoolTimeout``.
///
/// Every connection is a real one from the lab's `LabStorage`: a GRDB `DatabaseQueue` on the
/// same WAL file, or a PostgreSQL server connection (so that the server sees exactly the
/// connections the pool holds). `queryLatency` is slept while the connection is held, as a
/// remote database's round trip would hold it.
final class ConnectionPool: Sendable {
    struct Statistics: Sendable, Equatable {
        /// Connections handed out right now.
        var checkedOut: Int
        /// Open connections not in use.
        var idle: Int
        /// Open connections beyond `size` (negative while fewer than `size` are open, as in
        /// SQLAlchemy's `overflow()`).
        var overflow: Int
        /// Checkouts waiting for a connection.
        var waiting: Int
        var checkouts: Int
        var timeouts: Int
        /// Total time checkouts spent waiting, in seconds.
        var waitSeconds: Double
        var queries: Int
    }

    /// The error a checkout raises after waiting `timeout`.
    struct PoolTimeout: Error, CustomStringConvertible {
        var size: Int
        var overflow: Int
        var timeout: Duration

        /// SQLAlchemy's wording, so that the lab's 500s read like the field's.
        var description: String {
            let text = String(format: "%.2f", timeout.labSeconds)
            return "QueuePool limit of size \(size) overflow \(overflow) reached, "
                + "connection timed out, timeout \(text)"
        }
    }

    private struct State {
        var idle: [any LabConnection] = []
        var open = 0
        var checkouts = 0
        var timeouts = 0
        var waitNanoseconds: Int64 = 0
        var queries = 0
    }

    let size: Int
    let overflow: Int
    let timeout: Duration
    let queryLatency: Duration
    private let storage: any LabStorage
    private let slots: AsyncGate
    private let state = Mutex(State())

    init(storage: any LabStorage, size: Int, overflow: Int, timeout: Duration, queryLatency: Duration) {
        self.storage = storage
        self.size = size
        self.overflow = overflow
        self.timeout = timeout
        self.queryLatency = queryLatency
        self.slots = AsyncGate(permits: size + overflow)
    }

    var statistics: Statistics {
        let waiting = slots.waiting
        return state.withLock { s in
            Statistics(
                checkedOut: s.open - s.idle.count,
                idle: s.idle.count,
                overflow: s.open - size,
                waiting: waiting,
                checkouts: s.checkouts,
                timeouts: s.timeouts,
                waitSeconds: Double(s.waitNanoseconds) / 1e9,
                queries: s.queries
            )
        }
    }

    /// Runs `body` with a connection checked out for its whole duration, like a request that
    /// holds its session until it ends.
    func withConnection<T: Sendable>(
        _ body: (PooledConnection) async throws -> T
    ) async throws -> T {
        let started = ContinuousClock.now
        do {
            try await slots.acquire(timeout: timeout)
        } catch .timedOut {
            state.withLock {
                $0.timeouts += 1
                $0.waitNanoseconds += (ContinuousClock.now - started).labNanoseconds
            }
            throw PoolTimeout(size: size, overflow: overflow, timeout: timeout)
        } catch {
            throw CancellationError()
        }
        let reused: (any LabConnection)? = state.withLock { s in
            s.checkouts += 1
            s.waitNanoseconds += (ContinuousClock.now - started).labNanoseconds
            if let connection = s.idle.popLast() { return connection }
            s.open += 1
            return nil
        }
        let connection: any LabConnection
        if let reused {
            connection = reused
        } else {
            do {
                connection = try await storage.open()
            } catch {
                state.withLock { $0.open -= 1 }
                slots.release()
                throw error
            }
        }
        defer { checkIn(connection) }
        return try await body(PooledConnection(connection: connection, pool: self))
    }

    /// Returns a connection: kept while fewer than `size` are idle, else closed (overflow).
    private func checkIn(_ connection: any LabConnection) {
        let keep: Bool = state.withLock { s in
            if s.idle.count < size {
                s.idle.append(connection)
                return true
            }
            s.open -= 1
            return false
        }
        if !keep { connection.close() }
        slots.release()
    }

    /// A pool on the lab's SQLite file (the pool's own tests).
    convenience init(path: String, size: Int, overflow: Int, timeout: Duration, queryLatency: Duration) {
        self.init(
            storage: SQLiteStorage(path: path),
            size: size,
            overflow: overflow,
            timeout: timeout,
            queryLatency: queryLatency
        )
    }

    fileprivate func countQuery() { state.withLock { $0.queries += 1 } }

    /// A pool released without `close()` (a lab dropped without `stop()`) still closes its
    /// idle connections: PostgresNIO wants every connection closed before it is released.
    deinit {
        for connection in state.withLock({ $0.idle }) { connection.close() }
    }

    /// Closes the idle connections (at server stop).
    func close() {
        let idle = state.withLock { s in
            defer { s.idle.removeAll() }
            s.open -= s.idle.count
            return s.idle
        }
        for connection in idle { connection.close() }
    }
}

/// A checked-out connection. Each query pays the pool's query latency.
struct PooledConnection: Sendable {
    let connection: any LabConnection
    let pool: ConnectionPool

    /// One unit of work on the connection (one route's query), after the query latency.
    func run<T: Sendable>(_ work: (any LabConnection) async throws -> T) async throws -> T {
        try await paceQuery()
        return try await work(connection)
    }

    /// Raw GRDB access on a SQLite pool (tests of the pool itself).
    func read<T: Sendable>(_ query: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await paceQuery()
        return try await sqlite().read(query)
    }

    func write<T: Sendable>(_ update: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await paceQuery()
        return try await sqlite().write(update)
    }

    private func sqlite() throws -> DatabaseQueue {
        guard let connection = connection as? SQLiteLabConnection else {
            throw PostgresStorageError("raw SQLite access on a connection that is not SQLite")
        }
        return connection.database
    }

    private func paceQuery() async throws {
        pool.countQuery()
        if pool.queryLatency > .zero { try await Task.sleep(for: pool.queryLatency) }
    }
}

extension Duration {
    var labNanoseconds: Int64 {
        let (s, a) = components
        return s * 1_000_000_000 + a / 1_000_000_000
    }
}
