import Synchronization
import Testing

@testable import VolleyLab

/// Shared state for test tasks (locals of non-copyable types cannot be captured).
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
}

@Suite struct AsyncGateTests {
    @Test func permitsAreHandedOutUpToTheLimit() {
        let gate = AsyncGate(permits: 2)
        #expect(gate.tryAcquire())
        #expect(gate.tryAcquire())
        #expect(!gate.tryAcquire())
        #expect(gate.held == 2)
        gate.release()
        #expect(gate.held == 1)
        #expect(gate.tryAcquire())
    }

    @Test func waitersAreServedFirstComeFirstServed() async throws {
        let gate = AsyncGate(permits: 1)
        #expect(gate.tryAcquire())
        let order = Shared<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<5 {
                group.addTask {
                    try await gate.acquire()
                    order.value.withLock { $0.append(i) }
                    gate.release()
                }
                // Let each waiter queue before the next one starts.
                while gate.waiting < i + 1 { await Task.yield() }
            }
            gate.release()
            try await group.waitForAll()
        }
        #expect(order.value.withLock { $0 } == [0, 1, 2, 3, 4])
        #expect(gate.held == 0)
    }

    @Test func aWaiterGivesUpAfterItsTimeoutAndLeavesTheLine() async throws {
        let gate = AsyncGate(permits: 1)
        #expect(gate.tryAcquire())
        let started = ContinuousClock.now
        await #expect(throws: AsyncGate.Failure.timedOut) {
            try await gate.acquire(timeout: .milliseconds(50))
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(50))
        #expect(waited < .seconds(5))
        #expect(gate.waiting == 0)
        // The permit still belongs to its holder, and returns to the gate on release.
        gate.release()
        #expect(gate.tryAcquire())
    }

    @Test func aCancelledWaiterDoesNotTakeAPermit() async throws {
        let gate = AsyncGate(permits: 1)
        #expect(gate.tryAcquire())
        let waiter = Task { try await gate.acquire() }
        while gate.waiting < 1 { await Task.yield() }
        waiter.cancel()
        await #expect(throws: AsyncGate.Failure.cancelled) { try await waiter.value }
        gate.release()
        #expect(gate.held == 0)
    }

    /// The race that once hung the lab: a release landing between a waiter's decision to
    /// wait and its continuation being stored. Many short holders must all get through.
    @Test func manyConcurrentHoldersAllFinish() async throws {
        let gate = AsyncGate(permits: 3)
        let counts = Shared((inside: 0, most: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    for _ in 0..<200 {
                        try await gate.acquire(timeout: .seconds(20))
                        counts.value.withLock {
                            $0.inside += 1
                            $0.most = max($0.most, $0.inside)
                        }
                        await Task.yield()
                        counts.value.withLock { $0.inside -= 1 }
                        gate.release()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(counts.value.withLock { $0.most } <= 3)
        #expect(gate.held == 0)
        #expect(gate.waiting == 0)
    }
}
