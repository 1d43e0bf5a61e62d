import Foundation

/// Pure readers of /proc's text, so that their edge cases are tested on fixtures. In Core
/// because both the process probe and the engine's own CPU monitor read these files.
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
        /// The parent's pid: a `pid:` probe follows it down to the workers a master forked.
        public var parentPid: Int32

        public init(
            comm: String,
            state: Character,
            utime: UInt64,
            stime: UInt64,
            threads: Int,
            startTime: UInt64,
            rssPages: Int64,
            parentPid: Int32 = 0
        ) {
            self.comm = comm
            self.state = state
            self.utime = utime
            self.stime = stime
            self.threads = threads
            self.startTime = startTime
            self.rssPages = rssPages
            self.parentPid = parentPid
        }
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
            let rss = Int64(rest[21].trimmingCharacters(in: .whitespacesAndNewlines)),
            let parent = Int32(rest[1])
        else { return nil }
        return Stat(
            comm: comm,
            state: state,
            utime: utime,
            stime: stime,
            threads: threads,
            startTime: start,
            rssPages: rss,
            parentPid: parent
        )
    }

    /// The fields of /proc/PID/status the probe uses; a kernel thread has no VmRSS.
    public struct Status: Sendable, Equatable {
        public var rssBytes: Double?
        public var threads: Double?
        public var voluntarySwitches: Double?
        public var involuntarySwitches: Double?

        public init(
            rssBytes: Double? = nil,
            threads: Double? = nil,
            voluntarySwitches: Double? = nil,
            involuntarySwitches: Double? = nil
        ) {
            self.rssBytes = rssBytes
            self.threads = threads
            self.voluntarySwitches = voluntarySwitches
            self.involuntarySwitches = involuntarySwitches
        }
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

extension ProcText {
    /// The first line of /proc/stat ("cpu  user nice system idle iowait irq softirq steal …")
    /// → busy (all but idle and iowait) and total jiffies.
    public static func hostTimes(_ line: String) -> (busy: UInt64, total: UInt64)? {
        let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard fields.count >= 5 else { return nil }
        let counted = fields.prefix(8)  // guest time is already inside user and nice
        let total = counted.reduce(0, +)
        return (total - fields[3] - fields[4], total)
    }
}
