import NIOCore
import Synchronization

/// A FIFO counting semaphore for async code, with an optional wait limit.
///
/// The lab's bottlenecks are all queues in front of a scarce resource (pool connections,
/// workers, the log handler's lock). Modelling them with one fair primitive keeps their
/// behaviour comparable: first come, first served, and a waiter that gives up leaves the
/// queue at once instead of holding its place.
final class AsyncGate: Sendable {
    /// Why an `acquire` did not get a permit.
    enum Failure: Error, Equatable {
        case timedOut
        case cancelled
    }

    private struct State {
        var available: Int
        var nextID: UInt64 = 0
        var order = CircularBuffer<UInt64>()
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        /// Tickets handed out whose continuation is not stored yet.
        var issued: Set<UInt64> = []
        /// Tickets that failed (timeout or cancellation) before their continuation was stored.
        var failedEarly: [UInt64: Failure] = [:]
    }

    private let state: Mutex<State>
    let permits: Int

    init(permits: Int) {
        precondition(permits > 0, "a gate needs at least one permit")
        self.permits = permits
        self.state = Mutex(State(available: permits))
    }

    /// Callers waiting for a permit right now.
    var waiting: Int { state.withLock { $0.waiters.count } }

    /// Permits held right now.
    var held: Int { state.withLock { permits - $0.available } }

    /// Takes a permit, waiting in line for at most `timeout` (forever when `nil`).
    func acquire(timeout: Duration? = nil) async throws(Failure) {
        if tryAcquire() { return }
        // The ticket names this wait for a timeout or cancellation that may fire before the
        // continuation is stored; whether a permit is free is decided only when it is stored.
        let id: UInt64 = state.withLock { s in
            let id = s.nextID
            s.nextID &+= 1
            s.issued.insert(id)
            return id
        }

        let timer = timeout.map { limit in
            Task { [weak self] in
                try? await Task.sleep(for: limit)
                if !Task.isCancelled { self?.fail(id, .timedOut) }
            }
        }
        defer { timer?.cancel() }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let outcome: Result<Bool, Failure> = state.withLock { s in
                        s.issued.remove(id)
                        if let failure = s.failedEarly.removeValue(forKey: id) { return .failure(failure) }
                        if s.available > 0 && s.waiters.isEmpty {
                            s.available -= 1
                            return .success(true)
                        }
                        s.order.append(id)
                        s.waiters[id] = continuation
                        return .success(false)
                    }
                    switch outcome {
                    case .failure(let failure): continuation.resume(throwing: failure)
                    case .success(true): continuation.resume()
                    case .success(false): break
                    }
                }
            } onCancel: {
                fail(id, .cancelled)
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .cancelled
        }
    }

    /// Takes a permit only if one is free and nobody is waiting.
    func tryAcquire() -> Bool {
        state.withLock { s in
            guard s.available > 0 && s.waiters.isEmpty else { return false }
            s.available -= 1
            return true
        }
    }

    /// Returns a permit: the longest waiter gets it, or it goes back to the pool.
    func release() {
        let next: CheckedContinuation<Void, any Error>? = state.withLock { s in
            while let id = s.order.popFirst() {
                if let continuation = s.waiters.removeValue(forKey: id) { return continuation }
            }
            s.available += 1
            return nil
        }
        next?.resume()
    }

    private func fail(_ id: UInt64, _ failure: Failure) {
        let continuation: CheckedContinuation<Void, any Error>? = state.withLock { s in
            if let continuation = s.waiters.removeValue(forKey: id) { return continuation }
            // Not stored yet: remember, so that the waiter sees it. Already granted: nothing.
            if s.issued.contains(id) && s.failedEarly[id] == nil { s.failedEarly[id] = failure }
            return nil
        }
        continuation?.resume(throwing: failure)
    }
}
