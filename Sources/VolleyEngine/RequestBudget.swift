import Synchronization

/// The shared count of requests left in a closed-model `-n` run.
///
/// One relaxed atomic decrement per request is the only cross-loop traffic on the hot
/// path; it lets fast loops take more of the work than slow ones (a static split would
/// leave connections idle at the end of the run) and keeps the total exact.
final class RequestBudget: Sendable {
    private let remaining: Atomic<Int>

    init(_ total: Int) {
        remaining = Atomic(total)
    }

    /// Takes one request; false once the budget is spent.
    func take() -> Bool {
        remaining.subtract(1, ordering: .relaxed).newValue >= 0
    }

    /// True while requests remain (a hint: another loop may take them first).
    var hasRemaining: Bool {
        remaining.load(ordering: .relaxed) > 0
    }
}

/// A FIFO of due times that reuses its storage: the open model's queue of requests waiting
/// for a free connection.
struct DueQueue {
    private var storage: [UInt64] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }

    mutating func append(_ value: UInt64) {
        storage.append(value)
    }

    mutating func popFirst() -> UInt64? {
        guard head < storage.count else { return nil }
        let v = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 4096 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return v
    }

    mutating func removeAll() -> Int {
        let n = count
        storage.removeAll(keepingCapacity: true)
        head = 0
        return n
    }
}
