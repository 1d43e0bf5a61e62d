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
/// Every connection is a real SQLite connection (a GRDB `DatabaseQueue`) to the same WAL
/// file, and `queryLatency` is slept while the connection is held, as a remote database's
/// round trip would hold it.
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
        var idle: [DatabaseQueue] = []
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
    private let path: String
    private let slots: AsyncGate
    private let state = Mutex(State())

    init(path: String, size: Int, overflow: Int, timeout: Duration, queryLatency: Duration) {
        self.path = path
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
        let reused: DatabaseQueue? = state.withLock { s in
            s.checkouts += 1
            s.waitNanoseconds += (ContinuousClock.now - started).labNanoseconds
            if let connection = s.idle.popLast() { return connection }
            s.open += 1
            return nil
        }
        let connection: DatabaseQueue
        if let reused {
            connection = reused
        } else {
            do {
                connection = try LabDatabase.open(path: path)
            } catch {
                state.withLock { $0.open -= 1 }
                slots.release()
                throw error
            }
        }
        defer { checkIn(connection) }
        return try await body(PooledConnection(database: connection, pool: self))
    }

    /// Returns a connection: kept while fewer than `size` are idle, else closed (overflow).
    private func checkIn(_ connection: DatabaseQueue) {
        let keep: Bool = state.withLock { s in
            if s.idle.count < size {
                s.idle.append(connection)
                return true
            }
            s.open -= 1
            return false
        }
        if !keep { try? connection.close() }
        slots.release()
    }

    fileprivate func countQuery() { state.withLock { $0.queries += 1 } }

    /// Closes the idle connections (at server stop).
    func close() {
        let idle = state.withLock { s in
            defer { s.idle.removeAll() }
            s.open -= s.idle.count
            return s.idle
        }
        for connection in idle { try? connection.close() }
    }
}

/// A checked-out connection. Each query pays the pool's query latency.
struct PooledConnection: Sendable {
    let database: DatabaseQueue
    let pool: ConnectionPool

    func read<T: Sendable>(_ query: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await paceQuery()
        return try await database.read(query)
    }

    func write<T: Sendable>(_ update: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await paceQuery()
        return try await database.write(update)
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
