#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The wall clock (`CLOCK_REALTIME`) in nanoseconds since the Unix epoch: the one clock that
/// different machines share (through NTP), so start times and clock offsets between segments
/// are expressed in it. Durations inside one process keep using `ContinuousClock`.
public enum WallClock {
    /// Now, in nanoseconds since 1970-01-01T00:00:00Z.
    public static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    /// How long before the deadline the coarse sleep hands over to spinning: timer slack and
    /// scheduler wake-up latency on a loaded Linux box are in the 50 µs – 1 ms range, so 2 ms
    /// of spinning absorbs them for the cost of 2 ms of one core once per run.
    public static let spinWindowNanoseconds: Int64 = 2_000_000

    /// Sleeps until the wall clock reads `deadline` (ns), sleeping coarsely and then spinning
    /// for the last ``spinWindowNanoseconds`` so that processes waiting for the same deadline
    /// wake within a fraction of a millisecond of each other. Returns the wall-clock time at
    /// which it woke (≥ `deadline`). Throws `CancellationError` when the task is cancelled.
    @discardableResult
    public static func sleep(until deadline: Int64) async throws -> Int64 {
        while true {
            let remaining = deadline - now()
            if remaining <= spinWindowNanoseconds { break }
            // Re-read the wall clock after each sleep: it may have been stepped meanwhile.
            try await Task.sleep(for: .nanoseconds(remaining - spinWindowNanoseconds))
        }
        var current = now()
        while current < deadline {
            try Task.checkCancellation()
            current = now()
        }
        return current
    }
}
