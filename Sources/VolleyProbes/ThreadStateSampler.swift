import Foundation
import VolleyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Takes snapshots of every thread of the probed processes about ten times a second and
/// keeps, per `ThreadState`, how many threads were in it, so that the process probe's
/// once-a-second reading can report the mean over its interval.
///
/// One reading a second would see a thread that holds a lock for 5 ms of every 6 ms "sleeping"
/// or "waiting" by chance; ten snapshots make the means worth charting. The snapshots run on a
/// thread of their own, not on the concurrency pool: they are blocking reads of /proc (two to
/// three files per thread) and the machine may have two cores. That thread keeps its own cost
/// down: it waits at least 19 times as long as a snapshot took (≤ 5 % of a core, however many
/// threads the service has), and stops by itself when nobody drained it for 5 s (a probe
/// dropped without `close()`).
final class ThreadStateSampler: @unchecked Sendable {
    // Safety: every stored `var` is read and written only while `condition` is locked; the
    // snapshot itself (the /proc reads) runs outside the lock on the sampling thread.
    private let condition = NSCondition()
    private let procRoot: String
    private let interval: Duration
    private var pids: [Int32] = []
    private var running = false
    private var stopping = false
    private var lastDrain = ContinuousClock.now
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []
    private var current = Tally()
    private var run = Tally()
    /// What decided each class over the run (wchan names, "syscall futex") and how often.
    private var evidence: [ThreadState: [String: Int]] = [:]
    private var cpuNanoseconds: UInt64 = 0
    private var busyNanoseconds: UInt64 = 0
    private var largestSnapshot = 0

    struct Tally {
        var snapshots = 0
        var threads: [ThreadState: Int] = [:]
    }

    /// Mean threads per state over some snapshots.
    struct Means: Equatable {
        var snapshots: Int
        var threads: [ThreadState: Double]
    }

    /// The whole run: means, the most common evidence of each state, and the sampler's cost.
    struct Summary {
        var means: Means
        var evidence: [ThreadState: [String: Int]]
        var cpuSeconds: Double
        var busySeconds: Double
        var largestSnapshot: Int
    }

    init(procRoot: String, interval: Duration = .milliseconds(100)) {
        self.procRoot = procRoot
        self.interval = interval
    }

    /// Sets the processes to look at (found again at each probe reading) and starts sampling
    /// if it is not running.
    func watch(_ pids: [Int32]) {
        condition.lock()
        self.pids = pids
        lastDrain = .now
        let start = !running && !stopping
        if start { running = true }
        condition.unlock()
        if start {
            let thread = Thread { [self] in loop() }
            thread.name = "volley-thread-states"
            thread.start()
        }
    }

    /// The means since the previous drain, and starts a new interval.
    func drain() -> Means {
        condition.lock()
        defer { condition.unlock() }
        lastDrain = .now
        let out = Self.means(current)
        current = Tally()
        return out
    }

    func summary() -> Summary {
        condition.lock()
        defer { condition.unlock() }
        return Summary(
            means: Self.means(run),
            evidence: evidence,
            cpuSeconds: Double(cpuNanoseconds) / 1e9,
            busySeconds: Double(busyNanoseconds) / 1e9,
            largestSnapshot: largestSnapshot
        )
    }

    /// Stops sampling and returns when the sampling thread has exited.
    func stop() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            condition.lock()
            guard running else {
                condition.unlock()
                done.resume()
                return
            }
            stopping = true
            exitWaiters.append(done)
            condition.signal()
            condition.unlock()
        }
    }

    static func means(_ tally: Tally) -> Means {
        guard tally.snapshots > 0 else { return Means(snapshots: 0, threads: [:]) }
        var out: [ThreadState: Double] = [:]
        for state in ThreadState.allCases {
            out[state] = Double(tally.threads[state] ?? 0) / Double(tally.snapshots)
        }
        return Means(snapshots: tally.snapshots, threads: out)
    }

    // MARK: - The sampling thread

    private func loop() {
        var reader = Reader()
        while true {
            condition.lock()
            if stopping || ContinuousClock.now - lastDrain > .seconds(5) {
                running = false
                stopping = false
                let waiters = exitWaiters
                exitWaiters = []
                condition.unlock()
                for waiter in waiters { waiter.resume() }
                return
            }
            let pids = self.pids
            condition.unlock()

            let cpuBefore = Self.threadCPUNanoseconds()
            let started = ContinuousClock.now
            let snapshot = Self.snapshot(pids, procRoot: procRoot, reader: &reader)
            let took = ContinuousClock.now - started
            let cpu = Self.threadCPUNanoseconds() &- cpuBefore

            condition.lock()
            current.snapshots += 1
            run.snapshots += 1
            for (state, label) in snapshot {
                current.threads[state, default: 0] += 1
                run.threads[state, default: 0] += 1
                evidence[state, default: [:]][label, default: 0] += 1
            }
            cpuNanoseconds &+= cpu
            busyNanoseconds &+=
                UInt64(max(0, took.components.seconds)) * 1_000_000_000
                + UInt64(max(0, took.components.attoseconds / 1_000_000_000))
            largestSnapshot = max(largestSnapshot, snapshot.count)
            let wait = max(interval - took, took * 19)
            if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: Self.seconds(wait))) }
            condition.unlock()
        }
    }

    /// Every thread of `pids`, classified. A thread or process that exits mid-read is skipped.
    ///
    /// The hot loop of the sampler (ten times a second, two or three files per thread): files
    /// are read into one reused buffer, and a wchan name is classified once per run, not once
    /// per thread and snapshot (a pool of 100 idle workers repeats one name 100 times).
    static func snapshot(_ pids: [Int32], procRoot: String, reader: inout Reader) -> [(ThreadState, String)] {
        var out: [(ThreadState, String)] = []
        for pid in pids {
            let base = "\(procRoot)/\(pid)"
            for tid in ProcFS.entries(base + "/task") ?? [] {
                let task = "\(base)/task/\(tid)"
                guard let state = reader.stateLetter(task + "/stat") else { continue }
                let wchan = state == "R" || state == "D" ? nil : reader.text(task + "/wchan")
                if let wchan, let known = reader.byWchan[wchan] {
                    out.append(known)
                    continue
                }
                let classified = ThreadState.classifyWithEvidence(
                    state: state,
                    wchan: wchan,
                    syscall: reader.text(task + "/syscall"),
                    fdIsSocket: { fd in ProcFS.link("\(base)/fd/\(fd)")?.hasPrefix("socket:") == true }
                )
                // Only names that decide by themselves are remembered: "0" and "wait_woken"
                // need each thread's syscall.
                if let wchan, !classified.evidence.hasPrefix("syscall"), classified.state != .other {
                    reader.byWchan[wchan] = classified
                }
                out.append(classified)
            }
        }
        return out
    }

    /// Reads small /proc files into one buffer, and remembers what wchan names mean.
    struct Reader {
        private var buffer = [UInt8](repeating: 0, count: 4096)
        var byWchan: [String: (ThreadState, String)] = [:]

        /// The file's bytes (up to 4 KiB: stat, wchan and syscall lines are shorter) as text.
        mutating func text(_ path: String) -> String? {
            let n = load(path)
            guard n > 0 else { return nil }
            return String(decoding: buffer[0..<n], as: UTF8.self)
        }

        /// The state letter of a stat line: the first field after the command's last ')'.
        mutating func stateLetter(_ path: String) -> Character? {
            let n = load(path)
            guard n > 0, let close = buffer[0..<n].lastIndex(of: UInt8(ascii: ")")), close + 2 < n else {
                return nil
            }
            return Character(Unicode.Scalar(buffer[close + 2]))
        }

        private mutating func load(_ path: String) -> Int {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return -1 }
            defer { close(fd) }
            var total = 0
            while total < buffer.count {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return n < 0 ? -1 : total }
                total += n
            }
            return total
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private static func threadCPUNanoseconds() -> UInt64 {
        var spec = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec) == 0 else { return 0 }
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
