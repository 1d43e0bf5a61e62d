import Foundation
import GRDB
import Synchronization
import Testing

@testable import VolleyLab

/// A seeded lab database in a temporary directory, removed by `cleanUp`.
struct ScratchDatabase {
    let directory: URL
    var path: String { directory.appendingPathComponent("lab.sqlite").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("volley-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var c = LabConfiguration()
        c.businesses = 50
        c.books = 20
        c.authors = 5
        try LabDatabase.createAndSeed(path: path, configuration: c)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }
}

@Suite struct ConnectionPoolTests {
    @Test func overflowConnectionsOpenWhenBusyAndCloseOnReturn() async throws {
        let db = try ScratchDatabase()
        defer { db.cleanUp() }
        let pool = ConnectionPool(path: db.path, size: 2, overflow: 2, timeout: .seconds(5), queryLatency: .zero)
        let release = AsyncGate(permits: 1)
        #expect(release.tryAcquire())
        let holding = Shared(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await pool.withConnection { connection in
                        _ = try await connection.read { db in
                            try Int.fetchOne(db, sql: "SELECT count(*) FROM businesses")
                        }
                        holding.value.withLock { $0 += 1 }
                        try await release.acquire()
                        release.release()
                    }
                }
            }
            while holding.value.withLock({ $0 }) < 4 { await Task.yield() }
            let busy = pool.statistics
            #expect(busy.checkedOut == 4)
            #expect(busy.overflow == 2)
            release.release()
            try await group.waitForAll()
        }
        let after = pool.statistics
        // QueuePool keeps pool_size connections; the overflow ones were closed on return.
        #expect(after.checkedOut == 0)
        #expect(after.idle == 2)
        #expect(after.overflow == 0)
        #expect(after.checkouts == 4)
        #expect(after.queries == 4)
        pool.close()
    }

    @Test func aCheckoutBeyondSizePlusOverflowTimesOut() async throws {
        let db = try ScratchDatabase()
        defer { db.cleanUp() }
        let pool = ConnectionPool(
            path: db.path,
            size: 1,
            overflow: 0,
            timeout: .milliseconds(100),
            queryLatency: .zero
        )
        let release = AsyncGate(permits: 1)
        #expect(release.tryAcquire())
        let holder = Task {
            try await pool.withConnection { _ in
                try await release.acquire()
                release.release()
            }
        }
        while pool.statistics.checkedOut < 1 { await Task.yield() }
        let started = ContinuousClock.now
        await #expect(throws: ConnectionPool.PoolTimeout.self) {
            try await pool.withConnection { _ in }
        }
        #expect(ContinuousClock.now - started >= .milliseconds(100))
        #expect(pool.statistics.timeouts == 1)
        release.release()
        try await holder.value
        // Once the connection is back, checkouts succeed again.
        try await pool.withConnection { _ in }
        pool.close()
    }

    @Test func queryLatencyIsPaidWhileTheConnectionIsHeld() async throws {
        let db = try ScratchDatabase()
        defer { db.cleanUp() }
        let pool = ConnectionPool(
            path: db.path,
            size: 1,
            overflow: 0,
            timeout: .seconds(5),
            queryLatency: .milliseconds(30)
        )
        let started = ContinuousClock.now
        try await pool.withConnection { connection in
            _ = try await connection.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
            _ = try await connection.read { db in try Int.fetchOne(db, sql: "SELECT 2") }
        }
        #expect(ContinuousClock.now - started >= .milliseconds(60))
        pool.close()
    }
}
