import Foundation
import VolleyCore

/// What one thread of a probed process was doing when it was looked at: on a CPU, or waiting,
/// and on what.
///
/// A service that exports nothing still shows, in `/proc/PID/task/TID/{stat,wchan,syscall}`,
/// where its threads wait: threads queued on a futex behind a lock (or the GIL), a thread
/// sleeping while it holds that lock, threads blocked writing a log to a full pipe, or idle
/// workers in `accept`. Sampled several times a second, that is an off-CPU picture of the
/// service without any agent in it.
public enum ThreadState: String, CaseIterable, Sendable {
    case running
    case lockWait = "lock_wait"
    case sleep
    case ioWait = "io_wait"
    case writeWait = "write_wait"
    case netWait = "net_wait"
    case accept
    case other

    /// The series holding the mean number of threads in this state.
    public var series: String {
        switch self {
        case .running: return ProbeSeries.Process.threadsRunning
        case .lockWait: return ProbeSeries.Process.threadsLockWait
        case .sleep: return ProbeSeries.Process.threadsSleep
        case .ioWait: return ProbeSeries.Process.threadsIOWait
        case .writeWait: return ProbeSeries.Process.threadsWriteWait
        case .netWait: return ProbeSeries.Process.threadsNetWait
        case .accept: return ProbeSeries.Process.threadsAccept
        case .other: return ProbeSeries.Process.threadsOther
        }
    }

    /// The instruction set whose system call numbers `/proc/…/syscall` reports.
    public enum Architecture: Sendable {
        case x86_64
        case aarch64
        /// Another one: the syscall fallback is not used, only `wchan`.
        case unknown

        /// The machine Volley runs on (a probe reads processes on its own machine).
        public static var current: Architecture {
            #if arch(x86_64)
            return .x86_64
            #elseif arch(arm64)
            return .aarch64
            #else
            return .unknown
            #endif
        }
    }

    /// One thread's state from its `stat` state letter, its `wchan` (the kernel function it
    /// sleeps in) and, when `wchan` does not tell (it reads "0" on some kernels and while a
    /// thread changes state, or names a generic wait such as `wait_woken`), its `syscall` file.
    ///
    /// `syscall` is an autoclosure so that the caller reads that file only when it is needed
    /// (it is the costliest of the three). `fdIsSocket` answers whether a `read` blocks on a
    /// socket (its first argument is the descriptor).
    public static func classify(
        state: Character,
        wchan: String?,
        syscall: @autoclosure () -> String?,
        architecture: Architecture = .current,
        fdIsSocket: (Int) -> Bool = { _ in false }
    ) -> ThreadState {
        classifyWithEvidence(
            state: state,
            wchan: wchan,
            syscall: syscall(),
            architecture: architecture,
            fdIsSocket: fdIsSocket
        ).state
    }

    /// `classify`, with what decided it: the wchan name ("futex_do_wait"), "syscall futex",
    /// or "state R" — what the notes quote as the most common wait of each kind.
    public static func classifyWithEvidence(
        state: Character,
        wchan: String?,
        syscall: @autoclosure () -> String?,
        architecture: Architecture = .current,
        fdIsSocket: (Int) -> Bool = { _ in false }
    ) -> (state: ThreadState, evidence: String) {
        if state == "R" { return (.running, "state R") }
        let name = wchan.map(normalized) ?? ""
        if state == "D" { return (.ioWait, name.isEmpty ? "state D" : name) }
        if let byName = fromWchan(name) { return (byName, name) }
        if let text = syscall(), let call = Syscall(text, architecture: architecture) {
            if call.name == "running" { return (.running, "syscall running") }
            let socketWait = genericSocketWaits.contains(name)
            if let bySyscall = fromSyscall(call, socketWait: socketWait, fdIsSocket: fdIsSocket) {
                return (bySyscall, "syscall \(call.name)")
            }
        }
        return (.other, name.isEmpty ? "state \(state)" : name)
    }

    /// `poll_schedule_timeout.constprop.0` → `poll_schedule_timeout`: compiler-made copies of
    /// a function carry a suffix after a dot.
    static func normalized(_ wchan: String) -> String {
        let trimmed = wchan.trimmingCharacters(in: .whitespacesAndNewlines)
        let base = trimmed.split(separator: ".", maxSplits: 1).first.map(String.init) ?? trimmed
        return base == "0" ? "" : base
    }

    /// Waits that tell a socket but not which way (reads wait in them on 6.x kernels).
    static let genericSocketWaits: Set<String> = [
        "wait_woken", "__skb_wait_for_more_packets", "skb_wait_for_more_packets",
    ]

    /// The class a kernel wait function names, or `nil` when it names none (the syscall then
    /// decides). Matched on stable parts of the names: they move between kernel versions
    /// (`futex_wait_queue_me` → `futex_wait_queue` → `futex_do_wait`, `pipe_write` →
    /// `anon_pipe_write`).
    static func fromWchan(_ name: String) -> ThreadState? {
        guard !name.isEmpty else { return nil }
        func any(_ parts: [String]) -> Bool { parts.contains { name.contains($0) } }
        if name.hasPrefix("futex") || name.hasPrefix("do_futex") || name.hasPrefix("__futex") { return .lockWait }
        if name.contains("nanosleep") { return .sleep }
        if any(["inet_csk_accept", "inet_csk_wait_for_connect"]) { return .accept }
        if any([
            "pipe_write", "sk_stream_wait_memory", "unix_stream_sendmsg", "sock_alloc_send_pskb", "unix_wait_for_peer",
            "n_tty_write",
        ]) {
            return .writeWait
        }
        if any([
            "sk_wait_data", "tcp_recvmsg", "unix_stream_read_generic", "unix_stream_data_wait", "do_sys_poll",
            "do_select", "core_sys_select", "ep_poll", "do_epoll_wait", "poll_schedule_timeout",
        ]) {
            return .netWait
        }
        if name.hasPrefix("io_schedule") || name.hasPrefix("jbd2")
            || any([
                "folio_wait", "wait_on_page", "__lock_page", "folio_lock", "bit_wait_io", "wait_on_buffer",
                "submit_bio_wait", "blk_mq_get_tag", "rq_qos_wait", "balance_dirty_pages", "wait_on_folio",
            ])
        {
            return .ioWait
        }
        return nil
    }

    static func fromSyscall(_ call: Syscall, socketWait: Bool, fdIsSocket: (Int) -> Bool) -> ThreadState? {
        switch call.name {
        case "futex", "futex_waitv": return .lockWait
        case "nanosleep", "clock_nanosleep": return .sleep
        case "accept", "accept4": return .accept
        case "write", "writev", "sendto", "sendmsg", "sendmmsg": return .writeWait
        case "recvfrom", "recvmsg", "recvmmsg", "poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait",
            "epoll_pwait2":
            return .netWait
        case "read", "readv":
            return socketWait || call.firstArgument.map(fdIsSocket) == true ? .netWait : nil
        case "fsync", "fdatasync", "sync_file_range", "io_getevents": return .ioWait
        default: return nil
        }
    }
}

/// A line of `/proc/PID/task/TID/syscall`: "202 0x55d2… 0x80 …" (the number and six
/// arguments, in hex), "running", or "-1 sp pc" (blocked outside a system call).
struct Syscall: Equatable {
    /// The call's name when Volley knows its number, else "syscall N"; "running" or "none".
    var name: String
    var firstArgument: Int?

    init?(_ text: String, architecture: ThreadState.Architecture) {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard let first = fields.first else { return nil }
        if first == "running" {
            name = "running"
            return
        }
        guard let number = Int(first) else { return nil }
        guard number >= 0 else {
            name = "none"
            return
        }
        name = Self.names(architecture)[number] ?? "syscall \(number)"
        if fields.count > 1 {
            let hex = fields[1].hasPrefix("0x") ? fields[1].dropFirst(2) : fields[1]
            firstArgument = Int(hex, radix: 16)
        }
    }

    /// The calls the classification needs, by number: /usr/include/asm/unistd_64.h (x86_64)
    /// and asm-generic/unistd.h (aarch64, which has no poll, select or epoll_wait).
    static func names(_ architecture: ThreadState.Architecture) -> [Int: String] {
        switch architecture {
        case .x86_64: return x86_64
        case .aarch64: return aarch64
        case .unknown: return [:]
        }
    }

    static let x86_64: [Int: String] = [
        0: "read", 1: "write", 7: "poll", 19: "readv", 20: "writev", 23: "select", 35: "nanosleep", 43: "accept",
        44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 74: "fsync", 75: "fdatasync", 202: "futex",
        208: "io_getevents", 230: "clock_nanosleep", 232: "epoll_wait", 270: "pselect6", 271: "ppoll",
        277: "sync_file_range", 281: "epoll_pwait", 288: "accept4", 299: "recvmmsg", 307: "sendmmsg",
        441: "epoll_pwait2", 449: "futex_waitv",
    ]

    static let aarch64: [Int: String] = [
        4: "io_getevents", 22: "epoll_pwait", 63: "read", 64: "write", 65: "readv", 66: "writev", 72: "pselect6",
        73: "ppoll", 82: "fsync", 83: "fdatasync", 84: "sync_file_range", 98: "futex", 101: "nanosleep",
        115: "clock_nanosleep", 202: "accept", 206: "sendto", 207: "recvfrom", 211: "sendmsg", 212: "recvmsg",
        242: "accept4", 243: "recvmmsg", 269: "sendmmsg", 441: "epoll_pwait2", 449: "futex_waitv",
    ]
}
