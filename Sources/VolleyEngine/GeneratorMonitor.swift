import NIOCore
import VolleyCore

#if canImport(Glibc)
import Glibc
#endif

/// Volley's own CPU, read per event-loop thread from /proc once a second.
///
/// A load generator at its limit reports the latency of its own queue, not the server's: the
/// busiest loop's CPU is the first figure to read before trusting a run (wrk and k6 leave this
/// to the user's `top`). Reading per thread, rather than for the whole process, keeps an
/// in-process server such as the demo's lab out of the generator's figure.
final class GeneratorMonitor: @unchecked Sendable {
    // Safety: only `take` touches `previous`, and `collectTimeline` calls it from one task.
    private let threadIDs: [Int32]
    private var previous: [UInt64]
    private var previousNanos: UInt64
    private let ticksPerSecond: Double

    /// `nil` where per-thread CPU cannot be read (not Linux, or /proc hidden).
    static func start(loops: [any EventLoop]) async -> GeneratorMonitor? {
        #if os(Linux)
        var ids: [Int32] = []
        for loop in loops {
            guard let id = try? await loop.submit({ currentThreadID() }).get() else { return nil }
            ids.append(id)
        }
        let monitor = GeneratorMonitor(threadIDs: ids)
        return monitor.previous.contains(where: { $0 == .max }) ? nil : monitor
        #else
        return nil
        #endif
    }

    private init(threadIDs: [Int32]) {
        self.threadIDs = threadIDs
        #if os(Linux)
        ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        #else
        ticksPerSecond = 100
        #endif
        previous = threadIDs.map { Self.ticks(thread: $0) ?? .max }
        previousNanos = NIODeadline.now().uptimeNanoseconds
    }

    /// CPU since the previous call: the sum over loops and the busiest loop (100 = one core),
    /// and how busy the whole machine was (100 = every core), which tells whether the
    /// generator and the target fought over the same CPUs.
    func take() -> (total: Double, busiest: Double, host: Double?)? {
        let now = NIODeadline.now().uptimeNanoseconds
        let seconds = Double(now &- previousNanos) / 1e9
        guard seconds > 0.05 else { return nil }
        var host: Double?
        if let times = Self.hostTimes(), let last = previousHost, times.total > last.total {
            host = Double(times.busy &- last.busy) / Double(times.total &- last.total) * 100
        }
        previousHost = Self.hostTimes()
        var total = 0.0
        var busiest = 0.0
        for (i, id) in threadIDs.enumerated() {
            guard let ticks = Self.ticks(thread: id) else { return nil }
            let used = Double(ticks &- previous[i]) / ticksPerSecond / seconds * 100
            previous[i] = ticks
            total += used
            busiest = max(busiest, used)
        }
        previousNanos = now
        return (total, busiest, host)
    }

    private var previousHost: (busy: UInt64, total: UInt64)? = GeneratorMonitor.hostTimes()

    /// The first line of /proc/stat: busy (all but idle and iowait) and total jiffies.
    static func hostTimes() -> (busy: UInt64, total: UInt64)? {
        #if os(Linux)
        guard let text = readSmallFile("/proc/stat"), let line = text.split(separator: "\n").first else { return nil }
        return ProcText.hostTimes(String(line))
        #else
        return nil
        #endif
    }

    /// utime + stime of one thread of this process, in clock ticks.
    static func ticks(thread: Int32) -> UInt64? {
        #if os(Linux)
        guard let text = readSmallFile("/proc/self/task/\(thread)/stat") else { return nil }
        return ProcText.stat(text).map { $0.utime + $0.stime }
        #else
        return nil
        #endif
    }

    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}

/// The kernel's id of the calling thread, from the /proc/thread-self link
/// ("<pid>/task/<tid>"): Glibc's `gettid` is not visible to Swift without _GNU_SOURCE.
func currentThreadID() -> Int32? {
    #if os(Linux)
    var buffer = [CChar](repeating: 0, count: 64)
    let n = readlink("/proc/thread-self", &buffer, 63)
    guard n > 0 else { return nil }
    let text = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return text.split(separator: "/").last.flatMap { Int32($0) }
    #else
    return nil
    #endif
}
