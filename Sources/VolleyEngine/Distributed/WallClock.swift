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

    /// How long before the deadline the coarse sleep (a task sleep, with its timer slack)
    /// hands over to the kernel's absolute-time sleep on the wall clock.
    public static let spinWindowNanoseconds: Int64 = 2_000_000

    /// Sleeps until the wall clock reads `deadline` (ns), sleeping coarsely and then, for the
    /// last ``spinWindowNanoseconds``, in `clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME)`, so
    /// that processes waiting for the same deadline wake within a fraction of a millisecond
    /// of each other. Returns the wall-clock time at
    /// which it woke (≥ `deadline`). Throws `CancellationError` when the task is cancelled.
    @discardableResult
    public static func sleep(until deadline: Int64) async throws -> Int64 {
        while true {
            let remaining = deadline - now()
            if remaining <= spinWindowNanoseconds { break }
            // Re-read the wall clock after each sleep: it may have been stepped meanwhile.
            try await Task.sleep(for: .nanoseconds(remaining - spinWindowNanoseconds))
        }
        // The last stretch as one absolute-time sleep of the kernel's high-resolution timer
        // (blocking this thread for at most the window, once per run): every segment on a
        // machine is asleep at the deadline and woken by the same timer tick, where spinning
        // segments would fight over the cores exactly then (10 segments on 2 cores: 5–13 ms
        // apart spinning).
        try Task.checkCancellation()
        var target = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &target, nil) == EINTR {}
        var current = now()
        while current < deadline { current = now() }
        return current
    }
}
