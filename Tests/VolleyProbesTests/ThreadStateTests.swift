import Testing
import VolleyProbes

/// The classifier on the strings /proc gives: wchan names as several kernel versions spell
/// them (6.18's `futex_do_wait` and `anon_pipe_write` were read on this machine), and the
/// syscall fallback with x86_64's and aarch64's numbers.
@Suite struct ThreadStateTests {
    func byWchan(_ wchan: String, state: Character = "S") -> ThreadState {
        ThreadState.classify(state: state, wchan: wchan, syscall: nil, architecture: .x86_64)
    }

    func bySyscall(
        _ syscall: String,
        _ architecture: ThreadState.Architecture,
        wchan: String = "0",
        socket: Bool = false
    ) -> ThreadState {
        ThreadState.classify(
            state: "S",
            wchan: wchan,
            syscall: syscall,
            architecture: architecture,
            fdIsSocket: { _ in socket }
        )
    }

    @Test func theStateLetterComesFirst() {
        // A thread just woken from a futex is on the run queue: running, whatever wchan says.
        #expect(byWchan("futex_do_wait", state: "R") == .running)
        #expect(byWchan("0", state: "D") == .ioWait)
        #expect(byWchan("blkdev_issue_flush", state: "D") == .ioWait)
    }

    @Test func kernelWaitFunctionsNameTheirClass() {
        for name in ["futex_do_wait", "futex_wait_queue", "futex_wait_queue_me", "futex_wait", "do_futex"] {
            #expect(byWchan(name) == .lockWait, "\(name)")
        }
        for name in ["hrtimer_nanosleep", "do_nanosleep", "clock_nanosleep", "common_nsleep_nanosleep"] {
            #expect(byWchan(name) == .sleep, "\(name)")
        }
        for name in [
            "io_schedule", "folio_wait_bit_common", "wait_on_page_bit_common", "jbd2_log_wait_commit", "bit_wait_io",
            "__lock_page",
        ] {
            #expect(byWchan(name) == .ioWait, "\(name)")
        }
        for name in [
            "pipe_write", "anon_pipe_write", "sk_stream_wait_memory", "unix_stream_sendmsg", "sock_alloc_send_pskb",
        ] {
            #expect(byWchan(name) == .writeWait, "\(name)")
        }
        for name in [
            "sk_wait_data", "tcp_recvmsg_locked", "unix_stream_read_generic", "do_sys_poll", "do_select",
            "core_sys_select", "ep_poll", "do_epoll_wait", "poll_schedule_timeout.constprop.0",
        ] {
            #expect(byWchan(name) == .netWait, "\(name)")
        }
        #expect(byWchan("inet_csk_accept") == .accept)
        #expect(byWchan("pipe_read") == .other)
        #expect(byWchan("do_wait") == .other)
    }

    @Test func theSyscallDecidesWhenWchanIsZeroOnX86_64() {
        let args = " 0x55d271f581c0 0x80 0x0 0x0 0x0 0x0 0x7ffe49067ee8 0x7f4309742503"
        #expect(bySyscall("202" + args, .x86_64) == .lockWait)
        #expect(bySyscall("449" + args, .x86_64) == .lockWait)
        #expect(bySyscall("230" + args, .x86_64) == .sleep)
        #expect(bySyscall("35" + args, .x86_64) == .sleep)
        #expect(bySyscall("1" + args, .x86_64) == .writeWait)
        #expect(bySyscall("20" + args, .x86_64) == .writeWait)
        #expect(bySyscall("44" + args, .x86_64) == .writeWait)
        #expect(bySyscall("46" + args, .x86_64) == .writeWait)
        #expect(bySyscall("45" + args, .x86_64) == .netWait)
        #expect(bySyscall("47" + args, .x86_64) == .netWait)
        for poll in ["7", "23", "232", "270", "271", "281", "441"] {
            #expect(bySyscall(poll + args, .x86_64) == .netWait, "\(poll)")
        }
        #expect(bySyscall("43" + args, .x86_64) == .accept)
        #expect(bySyscall("288" + args, .x86_64) == .accept)
        #expect(bySyscall("74" + args, .x86_64) == .ioWait)
        #expect(bySyscall("61" + args, .x86_64) == .other)  // wait4
    }

    @Test func theSyscallDecidesWhenWchanIsZeroOnAarch64() {
        let args = " 0xffff8000 0x80 0x0 0x0 0x0 0x0 0xffffe000 0xffff7000"
        #expect(bySyscall("98" + args, .aarch64) == .lockWait)
        #expect(bySyscall("115" + args, .aarch64) == .sleep)
        #expect(bySyscall("101" + args, .aarch64) == .sleep)
        #expect(bySyscall("64" + args, .aarch64) == .writeWait)
        #expect(bySyscall("66" + args, .aarch64) == .writeWait)
        #expect(bySyscall("206" + args, .aarch64) == .writeWait)
        #expect(bySyscall("207" + args, .aarch64) == .netWait)
        #expect(bySyscall("22" + args, .aarch64) == .netWait)
        #expect(bySyscall("73" + args, .aarch64) == .netWait)
        #expect(bySyscall("72" + args, .aarch64) == .netWait)
        #expect(bySyscall("202" + args, .aarch64) == .accept)
        #expect(bySyscall("242" + args, .aarch64) == .accept)
        // x86_64's futex number means accept on aarch64, and nothing on an unknown machine.
        #expect(bySyscall("202" + args, .x86_64) == .lockWait)
        #expect(bySyscall("202" + args, .unknown) == .other)
    }

    @Test func aReadIsANetworkWaitOnlyOnASocket() {
        // read(5, …) with wchan 0: the descriptor decides; a generic socket wait decides too.
        #expect(bySyscall("0 0x5 0x7f 0x10 0 0 0 0x1 0x2", .x86_64, socket: true) == .netWait)
        #expect(bySyscall("0 0x5 0x7f 0x10 0 0 0 0x1 0x2", .x86_64, socket: false) == .other)
        #expect(bySyscall("63 0x5 0x7f 0x10 0 0 0 0x1 0x2", .aarch64, socket: true) == .netWait)
        #expect(bySyscall("0 0x7 0x7f 0x10 0 0 0 0x1 0x2", .x86_64, wchan: "wait_woken") == .netWait)
        // 6.x kernels sleep in wait_woken for socket reads and writes alike.
        #expect(bySyscall("45 0x7 0x7f 0x10 0 0 0 0x1 0x2", .x86_64, wchan: "wait_woken") == .netWait)
        #expect(bySyscall("1 0x7 0x7f 0x10 0 0 0 0x1 0x2", .x86_64, wchan: "wait_woken") == .writeWait)
    }

    @Test func oddSyscallLinesAndMissingFiles() {
        #expect(bySyscall("running", .x86_64) == .running)
        #expect(bySyscall("-1 0x7ffe 0x7f43", .x86_64) == .other)  // blocked outside a syscall
        #expect(bySyscall("", .x86_64) == .other)
        #expect(ThreadState.classify(state: "S", wchan: nil, syscall: nil) == .other)
        #expect(ThreadState.classify(state: "I", wchan: "0\n", syscall: nil) == .other)
    }

    @Test func theEvidenceNamesWhatDecided() {
        let byName = ThreadState.classifyWithEvidence(state: "S", wchan: "futex_do_wait\n", syscall: nil)
        #expect(byName.state == .lockWait && byName.evidence == "futex_do_wait")
        let bySyscall = ThreadState.classifyWithEvidence(
            state: "S",
            wchan: "0",
            syscall: "202 0x1 0x2",
            architecture: .x86_64
        )
        #expect(bySyscall.state == .lockWait && bySyscall.evidence == "syscall futex")
        #expect(ThreadState.lockWait.series == "proc.threads.lock_wait")
        #expect(ThreadState.allCases.count == 8)
    }

    @Test func theSyscallFileIsNotReadWhenWchanDecides() {
        var reads = 0
        func syscall() -> String? {
            reads += 1
            return "202 0x1"
        }
        _ = ThreadState.classify(state: "S", wchan: "hrtimer_nanosleep", syscall: syscall(), architecture: .x86_64)
        _ = ThreadState.classify(state: "R", wchan: nil, syscall: syscall(), architecture: .x86_64)
        #expect(reads == 0)
        #expect(ThreadState.classify(state: "S", wchan: "0", syscall: syscall(), architecture: .x86_64) == .lockWait)
        #expect(reads == 1)
    }
}
