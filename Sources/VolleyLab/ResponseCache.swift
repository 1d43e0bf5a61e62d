import NIOCore
import Synchronization

/// A GET response cache with a time to live, keyed by path and query — the "cache on" knob.
/// It sits after the worker gate and before the database, as a per-process cache in a web
/// framework does: a hit still needs a worker, but no pool connection and no query.
final class ResponseCache: Sendable {
    struct Entry: Sendable {
        var body: ByteBuffer
        var expires: ContinuousClock.Instant
    }

    let ttl: Duration
    /// Bounded so a plan that walks every id cannot grow the lab without limit.
    let capacity: Int
    private let entries = Mutex([String: Entry]())
    private let counters = Mutex((hits: 0, misses: 0))

    init(ttl: Duration, capacity: Int = 50_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    var statistics: (hits: Int, misses: Int, entries: Int) {
        let (hits, misses) = counters.withLock { ($0.hits, $0.misses) }
        return (hits, misses, entries.withLock { $0.count })
    }

    func lookup(_ key: String) -> ByteBuffer? {
        let now = ContinuousClock.now
        let body: ByteBuffer? = entries.withLock { e in
            guard let entry = e[key] else { return nil }
            if entry.expires <= now {
                e[key] = nil
                return nil
            }
            return entry.body
        }
        counters.withLock {
            if body == nil { $0.misses += 1 } else { $0.hits += 1 }
        }
        return body
    }

    func store(_ key: String, body: ByteBuffer) {
        let now = ContinuousClock.now
        entries.withLock { e in
            if e.count >= capacity {
                e = e.filter { $0.value.expires > now }
                if e.count >= capacity { e.removeAll(keepingCapacity: true) }
            }
            e[key] = Entry(body: body, expires: now + ttl)
        }
    }
}
