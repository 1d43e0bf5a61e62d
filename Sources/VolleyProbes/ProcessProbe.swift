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
/// leaked memory or descriptors, or spent the load waiting.
///
/// `proc.cpu_percent` counts one core as 100; `proc.cores` is beside it, so a reader sees
/// 195 % on a 2-core machine for what it is: the machine is full.
public actor ProcessProbe: ProbeSource {
    public nonisolated let kind = "process"
    public nonisolated let displayName: String
    public nonisolated let selector: ProcessSelector
    private let procRoot: String
    private let ticks = ProcFS.clockTicks
    /// Per process (pid, start time): CPU ticks and context switches at the last reading.
    private var previous: [Key: Counters] = [:]
    private var previousT: Double?
    /// The process a `pid:` probe checked, so a pid reused by another process is noticed.
    private var checkedStart: UInt64?
    private var counts: [Int] = []

    struct Key: Hashable {
        var pid: Int32
        var start: UInt64
    }

    struct Counters {
        var cpuTicks: UInt64
        var voluntary: Double?
        var involuntary: Double?
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
        case .name(let name):
            let found = discover(name)
            guard !found.isEmpty else {
                throw ProbeError(
                    "\(displayName): no process named \(name) is running "
                        + "(matched against /proc/PID/comm and the basename of argv[0])"
                )
            }
            counts.append(found.count)
        }
    }

    public func sample(at t: Double) async throws -> [String: Double] {
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
            readings = [reading]
        case .name(let name):
            readings = discover(name).compactMap { read($0) }
            counts.append(readings.count)
        }

        var out: [String: Double] = [:]
        if case .name = selector { out["proc.count"] = Double(readings.count) }
        out["proc.cores"] = Double(ProcFS.onlineCPUs)
        out["proc.rss_bytes"] = readings.reduce(0) { $0 + $1.rssBytes }
        out["proc.threads"] = readings.reduce(0) { $0 + $1.threads }
        let files = readings.compactMap(\.openFiles)
        if !files.isEmpty || readings.isEmpty { out["proc.open_files"] = files.reduce(0, +) }

        // Rates over the processes seen at both readings: one that started or exited in
        // between has no interval to measure.
        if let previousT, t > previousT {
            let dt = t - previousT
            var cpu: UInt64 = 0
            var voluntary = 0.0
            var involuntary = 0.0
            for reading in readings {
                guard let before = previous[reading.key] else { continue }
                let now = reading.counters
                cpu += now.cpuTicks >= before.cpuTicks ? now.cpuTicks - before.cpuTicks : 0
                if let a = now.voluntary, let b = before.voluntary { voluntary += max(0, a - b) }
                if let a = now.involuntary, let b = before.involuntary { involuntary += max(0, a - b) }
            }
            out["proc.cpu_percent"] = Double(cpu) / ticks / dt * 100
            out["proc.ctx_switches_voluntary_per_s"] = voluntary / dt
            out["proc.ctx_switches_involuntary_per_s"] = involuntary / dt
        }
        previous = Dictionary(readings.map { ($0.key, $0.counters) }, uniquingKeysWith: { a, _ in a })
        previousT = t
        return out
    }

    public func notes() async -> [String] {
        var out = ["\(ProcFS.onlineCPUs) CPUs online; proc.cpu_percent counts one core as 100"]
        if case .name(let name) = selector, let lo = counts.min(), let hi = counts.max() {
            out.append(lo == hi ? "\(hi) processes named \(name)" : "\(lo)–\(hi) processes named \(name)")
        }
        return out
    }

    /// Pids whose comm equals `name`, or whose argv[0] basename does; zombies are left out
    /// (they hold no CPU, memory or files).
    private func discover(_ name: String) -> [Int32] {
        var out: [Int32] = []
        for entry in ProcFS.entries(procRoot) ?? [] {
            guard let pid = Int32(entry) else { continue }
            let base = "\(procRoot)/\(pid)"
            let comm = ProcFS.text(base + "/comm")?.trimmingCharacters(in: .newlines)
            var matches = comm == name
            if !matches, let cmdline = ProcFS.bytes(base + "/cmdline", limit: 4096) {
                matches = ProcText.argv0Name(cmdline) == name
            }
            if matches { out.append(pid) }
        }
        return out
    }

    /// Context switches summed over the process's threads: /proc/PID/status counts the main
    /// thread's only, which in a threaded server is the one that mostly sleeps. `nil` when the
    /// task directory cannot be read.
    private func taskSwitches(_ base: String) -> (voluntary: Double?, involuntary: Double?)? {
        guard let tasks = ProcFS.entries(base + "/task"), !tasks.isEmpty else { return nil }
        var voluntary: Double?
        var involuntary: Double?
        for task in tasks {
            guard let text = ProcFS.text("\(base)/task/\(task)/status") else { continue }
            let status = ProcText.status(text)
            if let n = status.voluntarySwitches { voluntary = (voluntary ?? 0) + n }
            if let n = status.involuntarySwitches { involuntary = (involuntary ?? 0) + n }
        }
        return (voluntary, involuntary)
    }

    /// One process's counters now, or `nil` when it is gone (or a zombie).
    private func read(_ pid: Int32) -> Reading? {
        let base = "\(procRoot)/\(pid)"
        guard let statText = ProcFS.text(base + "/stat"), let stat = ProcText.stat(statText), stat.state != "Z" else {
            return nil
        }
        let status = ProcFS.text(base + "/status").map(ProcText.status) ?? ProcText.Status()
        let switches = taskSwitches(base) ?? (status.voluntarySwitches, status.involuntarySwitches)
        return Reading(
            key: Key(pid: pid, start: stat.startTime),
            counters: Counters(
                cpuTicks: stat.utime + stat.stime,
                voluntary: switches.voluntary,
                involuntary: switches.involuntary
            ),
            rssBytes: status.rssBytes ?? Double(stat.rssPages) * ProcFS.pageSize,
            threads: status.threads ?? Double(stat.threads),
            openFiles: ProcFS.count(base + "/fd").map(Double.init)
        )
    }
}
