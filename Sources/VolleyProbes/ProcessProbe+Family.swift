import Foundation
import VolleyCore

// MARK: - Which processes, and what they are

extension ProcessProbe {
    /// Pids whose comm equals `name`, or whose argv[0] basename does; zombies are left out
    /// (they hold no CPU, memory or files).
    func discover(_ name: String) -> [Int32] {
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

    /// The children of `pid`, their children and so on, from the parent pid in every
    /// /proc/PID/stat: a gunicorn or uwsgi master forks its workers (and may replace them), so
    /// `pid:$MASTER` must find them again at every reading. Scanning the whole of /proc costs
    /// about one small read per process on the machine; /proc/PID/task/TID/children would
    /// need CONFIG_PROC_CHILDREN and misses reparented grandchildren.
    ///
    /// Volley itself is left out (and so are its children): probing the shell it was started
    /// from (`pid:$$`) or a test runner must not count the load generator as the service.
    func descendants(of pid: Int32) -> [Int32] {
        let myself: Int32 = procRoot == "/proc" ? getpid() : -1
        var children: [Int32: [Int32]] = [:]
        for entry in ProcFS.entries(procRoot) ?? [] {
            guard let child = Int32(entry), child != pid, child != myself,
                let text = ProcFS.text("\(procRoot)/\(child)/stat"),
                let parent = Self.fields(text, 2).last.flatMap({ Int32($0) })
            else { continue }
            children[parent, default: []].append(child)
        }
        var out: [Int32] = []
        var seen: Set<Int32> = [pid]
        var queue = children[pid] ?? []
        while let next = queue.popLast() {
            guard seen.insert(next).inserted else { continue }
            out.append(next)
            queue += children[next] ?? []
        }
        return out.sorted()
    }

    /// Whether a process is a Python interpreter: its executable's basename (readable for
    /// one's own processes), its comm or its argv[0] basename starts with "python". The GIL
    /// rule needs it: one such process cannot run Python code on two cores at once.
    func isPython(_ pid: Int32) -> Bool {
        let base = "\(procRoot)/\(pid)"
        var names: [String] = []
        if let exe = ProcFS.link(base + "/exe") { names.append((exe as NSString).lastPathComponent) }
        if let comm = ProcFS.text(base + "/comm") { names.append(comm.trimmingCharacters(in: .whitespacesAndNewlines)) }
        if let cmdline = ProcFS.bytes(base + "/cmdline", limit: 4096), let argv0 = ProcText.argv0Name(cmdline) {
            names.append(argv0)
        }
        return names.contains { $0.lowercased().hasPrefix("python") }
    }

    /// Context switches summed over the process's threads (/proc/PID/status counts the main
    /// thread's only, which in a threaded server is the one that mostly sleeps), and each
    /// thread's CPU ticks. `nil` when the task directory cannot be read.
    func tasks(_ base: String) -> (voluntary: Double?, involuntary: Double?, ticks: [Int32: UInt64])? {
        guard let tasks = ProcFS.entries(base + "/task"), !tasks.isEmpty else { return nil }
        var voluntary: Double?
        var involuntary: Double?
        var ticks: [Int32: UInt64] = [:]
        for task in tasks {
            if let tid = Int32(task), let text = ProcFS.text("\(base)/task/\(task)/stat") {
                // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command.
                let fields = Self.fields(text, 13)
                if fields.count == 13, let user = UInt64(fields[11]), let system = UInt64(fields[12]) {
                    ticks[tid] = user + system
                }
            }
            guard let text = ProcFS.text("\(base)/task/\(task)/status") else { continue }
            let status = Self.switches(text)
            if let n = status.voluntarySwitches { voluntary = (voluntary ?? 0) + n }
            if let n = status.involuntarySwitches { involuntary = (involuntary ?? 0) + n }
        }
        return (voluntary, involuntary, ticks)
    }

    /// The context switches of a status file, read from its last whole lines, where kernels
    /// put them (a thread's status is 55 lines; a full parse of each thread's every second
    /// was most of a reading's time on a 100-thread process), or from all of it otherwise.
    static func switches(_ status: String) -> ProcText.Status {
        let tail = status.utf8.suffix(512)
        if tail.count < status.utf8.count, let newline = tail.firstIndex(of: UInt8(ascii: "\n")) {
            let parsed = ProcText.status(String(decoding: tail[tail.index(after: newline)...], as: UTF8.self))
            if parsed.voluntarySwitches != nil, parsed.involuntarySwitches != nil { return parsed }
        }
        return ProcText.status(status)
    }

    /// The first `count` fields of a stat line after the command's last ')' (field 3 on): a
    /// cheaper cut than `ProcText.stat` for the one or two numbers read from every process and
    /// every thread each second.
    static func fields(_ stat: String, _ count: Int) -> [Substring] {
        guard let close = stat.lastIndex(of: ")") else { return [] }
        return Array(stat[stat.index(after: close)...].split(separator: " ", maxSplits: count).prefix(count))
    }

    /// Threads that used at least 10 % of a core between two readings; a thread born in
    /// between counts all its ticks.
    func threadsOnCPU(now: Counters, before: Counters, seconds: Double) -> Int {
        let threshold = 0.10 * ticks * seconds
        return now.threadTicks.filter { tid, used in
            let start = before.threadTicks[tid] ?? 0
            return used >= start && Double(used - start) >= threshold
        }.count
    }

    // MARK: - Notes

    /// "thread states over the run (mean threads): lock_wait 6.8 (futex_do_wait 97 %), …" and
    /// what sampling them cost.
    static func threadNotes(_ summary: ThreadStateSampler.Summary) -> [String] {
        let means = summary.means
        guard means.snapshots > 0 else { return [] }
        let ranked = means.threads.filter { $0.value >= 0.05 }.sorted {
            $0.value != $1.value ? $0.value > $1.value : $0.key.rawValue < $1.key.rawValue
        }
        let parts = ranked.map { state, mean -> String in
            var part = "\(state.rawValue) \(format(mean))"
            if state != .running, let counts = summary.evidence[state],
                let top = counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key })
            {
                let share = Double(top.value) / Double(max(1, counts.values.reduce(0, +))) * 100
                part += " (\(top.key) \(Int(share.rounded())) %)"
            }
            return part
        }
        var out = [
            "thread states over the run (mean threads): " + (parts.isEmpty ? "none" : parts.joined(separator: ", "))
        ]
        let perSnapshot = summary.cpuSeconds / Double(means.snapshots) * 1000
        out.append(
            "thread states: \(means.snapshots) snapshots of up to \(summary.largestSnapshot) threads, "
                + "\(format(perSnapshot, digits: 2)) ms of CPU each"
        )
        return out
    }

    private static func format(_ value: Double, digits: Int = 1) -> String {
        String(format: "%.\(digits)f", value)
    }
}
