import Foundation

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

/// Pure readers of /proc's text, so that their edge cases are tested on fixtures.
public enum ProcText {
    /// The fields of /proc/PID/stat the probe uses. CPU times are in clock ticks.
    public struct Stat: Sendable, Equatable {
        public var comm: String
        public var state: Character
        public var utime: UInt64
        public var stime: UInt64
        public var threads: Int
        /// Ticks after boot when the process started: tells a pid reused by another process
        /// from the one read before.
        public var startTime: UInt64
        public var rssPages: Int64
    }

    /// /proc/PID/stat. The command name is in parentheses and may itself hold spaces and
    /// parentheses, so the fields are counted from the last ')'.
    public static func stat(_ text: String) -> Stat? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // rest[0] is field 3 (state); field n is rest[n - 3].
        guard rest.count >= 22, let state = rest[0].first,
            let utime = UInt64(rest[11]), let stime = UInt64(rest[12]),
            let threads = Int(rest[17]), let start = UInt64(rest[19]),
            let rss = Int64(rest[21].trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return Stat(
            comm: comm,
            state: state,
            utime: utime,
            stime: stime,
            threads: threads,
            startTime: start,
            rssPages: rss
        )
    }

    /// The fields of /proc/PID/status the probe uses; a kernel thread has no VmRSS.
    public struct Status: Sendable, Equatable {
        public var rssBytes: Double?
        public var threads: Double?
        public var voluntarySwitches: Double?
        public var involuntarySwitches: Double?
    }

    /// /proc/PID/status, `Key:\tvalue` lines; sizes are given in kB there.
    public static func status(_ text: String) -> Status {
        var out = Status()
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            let value = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = value.first, let number = Double(first) else { continue }
            switch key {
            case "VmRSS": out.rssBytes = number * (value.count > 1 && value[1] == "kB" ? 1024 : 1)
            case "Threads": out.threads = number
            case "voluntary_ctxt_switches": out.voluntarySwitches = number
            case "nonvoluntary_ctxt_switches": out.involuntarySwitches = number
            default: break
            }
        }
        return out
    }

    /// The last path component of argv[0] in /proc/PID/cmdline (NUL-separated): the name a
    /// process was started as, which `comm` truncates to 15 bytes.
    public static func argv0Name(_ cmdline: [UInt8]) -> String? {
        let argv0 = cmdline.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false).first ?? []
        guard !argv0.isEmpty else { return nil }
        let path = String(decoding: argv0, as: UTF8.self)
        // Some servers rewrite argv[0] ("postgres: checkpointer"): the name is its first word.
        let word = path.split(separator: " ", maxSplits: 1).first.map(String.init) ?? path
        let base = word.split(separator: "/").last.map(String.init) ?? word
        return base.hasSuffix(":") ? String(base.dropLast()) : base
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
