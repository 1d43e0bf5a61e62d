import Foundation
import VolleyCore

/// What a process probe (`pid:` / `name:`) saw of the service, reduced to what the rules
/// compare: CPU of the whole and of its busiest process, how many threads could serve
/// requests, and where the threads waited (sampled from /proc/PID/task/*).
struct ProcessView {
    let probe: ProbeResult
    let cores: Double
    /// Median CPU of every selected process together; one core = 100.
    let cpu: Double?
    /// Median CPU of the busiest single process (the whole when only one was read).
    let busiestCPU: Double?
    let busiestThreads: Double?
    /// The busiest process is a Python interpreter.
    let python: Bool
    /// Threads of the busiest process that each used ≥ 10 % of a core.
    let threadsOnCPU: Double?
    let processes: Double?
    let threads: Double?
    /// Mean threads in each state (`lock_wait`, `sleep`, `net_wait` …), median over seconds.
    let states: [String: Double]

    /// State → its series; the keys are the words evidence lines use.
    static let stateSeries: [(String, String)] = {
        let P = ProbeSeries.Process.self
        return [
            ("running", P.threadsRunning), ("lock_wait", P.threadsLockWait), ("sleep", P.threadsSleep),
            ("io_wait", P.threadsIOWait), ("write_wait", P.threadsWriteWait), ("net_wait", P.threadsNetWait),
            ("accept", P.threadsAccept), ("other", P.threadsOther),
        ]
    }()

    init?(_ probe: ProbeResult, _ v: RunView) {
        let P = ProbeSeries.Process.self
        self.probe = probe
        cpu = v.steadyMedian(probe, P.cpuPercent)
        // The cores of the machine the probe ran on, from its own series: never the cores of
        // the machine that reads the saved run later.
        guard cpu != nil, let cores = probe.values(P.cores).last else { return nil }
        self.cores = cores
        processes = v.steadyMedian(probe, P.count)
        threads = v.steadyMedian(probe, P.threads)
        let busiest = v.steadyMedian(probe, P.busiestCPUPercent)
        // Without the busiest-process series (older runs), a probe of one process is its own busiest.
        busiestCPU = busiest ?? ((processes ?? 1) <= 1 ? cpu : nil)
        busiestThreads =
            v.steadyMedian(probe, P.busiestThreads) ?? ((processes ?? 1) <= 1 ? threads : nil)
        python = (probe.values(P.busiestPython).max() ?? 0) > 0
        threadsOnCPU = v.steadyMedian(probe, P.busiestThreadsOnCPU)
        var states: [String: Double] = [:]
        for (name, series) in Self.stateSeries {
            if let m = v.steadyMedian(probe, series) { states[name] = m }
        }
        self.states = states
    }

    /// Threads that can each serve a request: a pre-fork server's workers (processes but
    /// the master) or its pool threads (threads beyond each process's main one), whichever
    /// is larger; a single process's threads but its main one.
    var capacity: Double? {
        guard let threads else { return nil }
        let n = processes ?? 1
        if n >= 2 { return max(n - 1, threads - n) }
        return max(1, threads - 1)
    }

    var hasThreadStates: Bool { !states.isEmpty }

    /// Threads that were doing a request's work off the CPU: sleeping, writing, on disk.
    var blockedInCall: Double { (states["sleep"] ?? 0) + (states["write_wait"] ?? 0) + (states["io_wait"] ?? 0) }

    /// "lock_wait 6.8, sleep 0.9, running 0.2" — the states that held a thread or more.
    var stateSummary: String {
        states.filter { $0.value >= 0.05 }.sorted { $0.value > $1.value }
            .map { "\($0.key) \(String(format: "%.1f", $0.value))" }.joined(separator: ", ")
    }

    var name: String { probe.probe }
}

extension RunView {
    var processes: [ProcessView] { probes(kind: "process").compactMap { ProcessView($0, self) } }
}
