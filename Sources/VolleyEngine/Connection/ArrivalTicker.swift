import VolleyCore

/// Releases one event loop's share of an open-model schedule: arrivals `first`, `first +
/// stride`, `first + 2 × stride`… (loop i of n owns every n-th), as due times on the
/// monotonic clock.
///
/// Shared by the URL engine (each due time joins the wrk2-style queue) and the plan engine
/// (each starts an iteration, or is dropped when no VU is free, as k6 does): the two keep
/// their models, and their timers work alike. Arrivals closer together than
/// `coalescingNanos` are released by one timer: a timer per arrival made the loop
/// timer-bound near 50,000 req/s. The few microseconds an arrival may wait for its batch
/// count in its latency, which is measured from its due time.
struct ArrivalTicker {
    let schedule: ArrivalSchedule
    let stride: Int
    /// Time zero of the schedule, nanoseconds on the monotonic clock.
    let startNanos: UInt64
    private var nextIndex: Int
    /// The next arrival's due time; nil once the schedule is exhausted.
    private(set) var nextDue: UInt64?

    static let coalescingNanos: UInt64 = 20_000

    init(schedule: ArrivalSchedule, first: Int, stride: Int, startNanos: UInt64) {
        self.schedule = schedule
        self.stride = max(1, stride)
        self.startNanos = startNanos
        self.nextIndex = first
        self.nextDue = nil
        self.nextDue = due(first)
    }

    private func due(_ index: Int) -> UInt64? {
        schedule.dueTime(ofRequest: index).map { startNanos + UInt64(($0 * 1e9).rounded()) }
    }

    /// Hands every arrival due at or before `now` to `release`, in order.
    @inline(__always)
    mutating func release(upTo now: UInt64, _ release: (UInt64) -> Void) {
        while let d = nextDue, d <= now {
            release(d)
            nextIndex += stride
            nextDue = due(nextIndex)
        }
    }

    /// When the loop's timer should fire next (nil: no arrivals left): the next due time,
    /// but never sooner than `coalescingNanos` after `now`.
    func wakeUp(after now: UInt64) -> UInt64? {
        nextDue.map { max($0, now &+ Self.coalescingNanos) }
    }
}
