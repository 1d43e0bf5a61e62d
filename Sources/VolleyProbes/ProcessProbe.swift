import Foundation
import VolleyCore

/// Which processes a process probe reads: one pid, or every process with a name, found again
/// at each reading so that workers forked during the run are counted.
public enum ProcessSelector: Sendable, Equatable, CustomStringConvertible {
    case pid(Int32)
    case name(String)

    /// `pid:1234` or `name:postgres`; anything else is not a process selector.
    public static func parse(_ spec: String) throws(ProbeError) -> ProcessSelector {
        if spec.hasPrefix("pid:") {
            guard let pid = Int32(spec.dropFirst(4)), pid > 0 else {
                throw ProbeError("--probe \(spec): expected pid:N with N a process id")
            }
            return .pid(pid)
        }
        if spec.hasPrefix("name:") {
            let name = String(spec.dropFirst(5))
            guard !name.isEmpty, !name.contains("/") else {
                throw ProbeError("--probe \(spec): expected name:PROCESS, a command name such as name:postgres")
            }
            return .name(name)
        }
        throw ProbeError("--probe \(spec): expected pid:N or name:PROCESS")
    }

    public var description: String {
        switch self {
        case .pid(let pid): return "pid:\(pid)"
        case .name(let name): return "name:\(name)"
        }
    }
}

/// Reads processes from /proc once a second: CPU, memory, threads, open files and context
/// switches, so that a run shows whether the server process (or its workers) ran out of CPU,
/// leaked memory or descriptors, or spent the load waiting — and on what.
///
/// `proc.cpu_percent` counts one core as 100; `proc.cores` is beside it, so a reader sees
/// 195 % on a 2-core machine for what it is: the machine is full. `pid:N` reads N and its
/// descendants (a gunicorn master and the workers it forked), found again at each reading.
/// The busiest process is reported on its own (`proc.busiest.*`): one Python process cannot
/// use more than about one core, whatever the sum over workers says. Thread states
/// (`proc.threads.*`) are sampled ten times a second by a `ThreadStateSampler`.
public actor ProcessProbe: ProbeSource {
    public nonisolated let kind = "process"
    public nonisolated let displayName: String
    public nonisolated let selector: ProcessSelector
    let procRoot: String
    let ticks = ProcFS.clockTicks
    /// Per process (pid, start time): CPU ticks and context switches at the last reading.
    private var previous: [Key: Counters] = [:]
    private var previousT: Double?
    /// The process a `pid:` probe checked, so a pid reused by another process is noticed.
    private var checkedStart: UInt64?
    private var counts: [Int] = []
    private let threadStates: ThreadStateSampler

    struct Key: Hashable {
        var pid: Int32
        var start: UInt64
    }

    struct Counters {
        var cpuTicks: UInt64
        var voluntary: Double?
        var involuntary: Double?
        /// Thread id → utime + stime, for the threads that used a CPU in the interval.
        var threadTicks: [Int32: UInt64]
    }

    struct Reading {
        var key: Key
        var counters: Counters
        var rssBytes: Double
        var threads: Double
        var openFiles: Double?
    }

    /// `procRoot` is for tests that lay out a fake /proc.
    public init(_ selector: ProcessSelector, procRoot: String = "/proc") {
        self.selector = selector
        self.displayName = selector.description
        self.procRoot = procRoot
        self.threadStates = ThreadStateSampler(procRoot: procRoot)
    }

    public func check() async throws {
        guard ProcFS.isDirectory(procRoot) else {
            throw ProbeError("\(displayName): no /proc here; process probes read Linux's /proc")
        }
        switch selector {
        case .pid(let pid):
            guard let reading = read(pid) else {
                throw ProbeError("\(displayName): no process with pid \(pid) (it is not running, or has exited)")
            }
            checkedStart = reading.key.start
            threadStates.watch([pid] + descendants(of: pid))
        case .name(let name):
            let found = discover(name)
            guard !found.isEmpty else {
                throw ProbeError(
                    "\(displayName): no process named \(name) is running "
                        + "(matched against /proc/PID/comm and the basename of argv[0])"
                )
            }
            counts.append(found.count)
            threadStates.watch(found)
        }
    }

    public func sample(at t: Double) async throws -> [String: Double] {
        typealias S = ProbeSeries.Process
        let readings: [Reading]
        switch selector {
        case .pid(let pid):
            guard let reading = read(pid) else {
                throw ProbeError("\(displayName): process \(pid) is gone (it exited during the run)")
            }
            if let checkedStart, reading.key.start != checkedStart {
                throw ProbeError("\(displayName): process \(pid) exited and its pid now belongs to another process")
            }
            checkedStart = reading.key.start
            readings = [reading] + descendants(of: pid).compactMap { read($0) }
        case .name(let name):
            readings = discover(name).compactMap { read($0) }
        }
        counts.append(readings.count)
        let states = threadStates.drain()
        threadStates.watch(readings.map(\.key.pid))

        var out: [String: Double] = [:]
        out[S.count] = Double(readings.count)
        out[S.cores] = Double(ProcFS.onlineCPUs)
        out[S.rssBytes] = readings.reduce(0) { $0 + $1.rssBytes }
        out[S.threads] = readings.reduce(0) { $0 + $1.threads }
        let files = readings.compactMap(\.openFiles)
        if !files.isEmpty || readings.isEmpty { out[S.openFiles] = files.reduce(0, +) }
        out[S.threadsSampled] = Double(states.snapshots)
        if states.snapshots > 0 {
            for (state, mean) in states.threads { out[state.series] = mean }
        }

        // Rates over the processes seen at both readings: one that started or exited in
        // between has no interval to measure.
        if let previousT, t > previousT {
            let dt = t - previousT
            var cpu: UInt64 = 0
            var voluntary = 0.0
            var involuntary = 0.0
            var busiest: (reading: Reading, ticks: UInt64, before: Counters)?
            for reading in readings {
                guard let before = previous[reading.key] else { continue }
                let now = reading.counters
                let used = now.cpuTicks >= before.cpuTicks ? now.cpuTicks - before.cpuTicks : 0
                cpu += used
                if busiest == nil || used > busiest!.ticks { busiest = (reading, used, before) }
                if let a = now.voluntary, let b = before.voluntary { voluntary += max(0, a - b) }
                if let a = now.involuntary, let b = before.involuntary { involuntary += max(0, a - b) }
            }
            out[S.cpuPercent] = Double(cpu) / ticks / dt * 100
            out[S.voluntarySwitchesPerSecond] = voluntary / dt
            out[S.involuntarySwitchesPerSecond] = involuntary / dt
            if let busiest {
                out[S.busiestCPUPercent] = Double(busiest.ticks) / ticks / dt * 100
                out[S.busiestThreads] = busiest.reading.threads
                out[S.busiestPid] = Double(busiest.reading.key.pid)
                out[S.busiestPython] = isPython(busiest.reading.key.pid) ? 1 : 0
                out[S.busiestThreadsOnCPU] = Double(
                    threadsOnCPU(now: busiest.reading.counters, before: busiest.before, seconds: dt)
                )
            }
        }
        previous = Dictionary(readings.map { ($0.key, $0.counters) }, uniquingKeysWith: { a, _ in a })
        previousT = t
        return out
    }

    public func notes() async -> [String] {
        var out = ["\(ProcFS.onlineCPUs) CPUs online; proc.cpu_percent counts one core as 100"]
        if let lo = counts.min(), let hi = counts.max() {
            let range = lo == hi ? "\(hi)" : "\(lo)–\(hi)"
            let processes = hi == 1 ? "process" : "processes"
            switch selector {
            case .name(let name): out.append("\(range) \(processes) named \(name)")
            case .pid(let pid): out.append("\(range) \(processes): \(pid) and its descendants")
            }
        }
        out += Self.threadNotes(threadStates.summary())
        return out
    }

    public func close() async {
        await threadStates.stop()
    }

    /// One process's counters now, or `nil` when it is gone (or a zombie).
    func read(_ pid: Int32) -> Reading? {
        let base = "\(procRoot)/\(pid)"
        guard let statText = ProcFS.text(base + "/stat"), let stat = ProcText.stat(statText), stat.state != "Z" else {
            return nil
        }
        let status = ProcFS.text(base + "/status").map(ProcText.status) ?? ProcText.Status()
        let tasks = self.tasks(base)
        return Reading(
            key: Key(pid: pid, start: stat.startTime),
            counters: Counters(
                cpuTicks: stat.utime + stat.stime,
                voluntary: tasks?.voluntary ?? status.voluntarySwitches,
                involuntary: tasks?.involuntary ?? status.involuntarySwitches,
                threadTicks: tasks?.ticks ?? [:]
            ),
            rssBytes: status.rssBytes ?? Double(stat.rssPages) * ProcFS.pageSize,
            threads: status.threads ?? Double(stat.threads),
            openFiles: ProcFS.count(base + "/fd").map(Double.init)
        )
    }
}
