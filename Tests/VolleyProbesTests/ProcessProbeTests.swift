import Foundation
import Testing
import VolleyCore
import VolleyProbes

@Suite struct ProcTextTests {
    @Test func statIsReadFromTheLastParenthesis() throws {
        // A command name with spaces and parentheses of its own.
        let text =
            "4242 (my (odd) worker) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 7 0 "
            + "987654 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
        let stat = try #require(ProcText.stat(text))
        #expect(stat.comm == "my (odd) worker")
        #expect(stat.state == "S")
        #expect(stat.utime == 250)
        #expect(stat.stime == 75)
        #expect(stat.threads == 7)
        #expect(stat.startTime == 987_654)
        #expect(stat.rssPages == 2048)
    }

    @Test func aRealStatLineParses() throws {
        let text =
            "22801 (cat) R 22797 22797 10516 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 266837 3133440 382 "
            + "18446744073709551615 94498889416704 94498889436585 140731539902784 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 "
            + "94498889452592 94498889454208 94499898933248 140731539909326 140731539909346 140731539909346 "
            + "140731539910635 0"
        let stat = try #require(ProcText.stat(text))
        #expect(stat.comm == "cat")
        #expect(stat.threads == 1)
        #expect(stat.rssPages == 382)
        #expect(ProcText.stat("") == nil)
        #expect(ProcText.stat("1 (truncated) S 1 2") == nil)
    }

    @Test func theHostLineGivesBusyAndTotalJiffies() throws {
        // user nice system idle iowait irq softirq steal guest guest_nice
        let times = try #require(ProcText.hostTimes("cpu  100 5 50 800 40 3 2 0 7 0"))
        #expect(times.total == 1000)
        #expect(times.busy == 1000 - 800 - 40)
        #expect(ProcText.hostTimes("cpu  1 2") == nil)
    }

    @Test func statusGivesMemoryThreadsAndContextSwitches() {
        let status = ProcText.status(
            """
            Name:\tcat
            State:\tR (running)
            VmRSS:\t    1608 kB
            RssAnon:\t     112 kB
            Threads:\t3
            voluntary_ctxt_switches:\t17
            nonvoluntary_ctxt_switches:\t4
            """
        )
        #expect(status.rssBytes == Double(1608 * 1024))
        #expect(status.threads == 3)
        #expect(status.voluntarySwitches == 17)
        #expect(status.involuntarySwitches == 4)
        // A kernel thread has no VmRSS.
        #expect(ProcText.status("Name:\tkworker/0:1\nThreads:\t1\n").rssBytes == nil)
    }

    @Test func argv0IsTheNameAProcessWasStartedAs() {
        func cmdline(_ args: String...) -> [UInt8] { Array(args.joined(separator: "\0").utf8) + [0] }
        #expect(ProcText.argv0Name(cmdline("/usr/lib/postgresql/15/bin/postgres", "-D", "/data")) == "postgres")
        #expect(ProcText.argv0Name(cmdline("postgres: checkpointer ")) == "postgres")
        #expect(ProcText.argv0Name(cmdline("gunicorn", "app:wsgi")) == "gunicorn")
        #expect(ProcText.argv0Name([]) == nil)
    }

    @Test func selectorsAreParsedAndBadOnesRefused() throws {
        #expect(try ProcessSelector.parse("pid:1234") == .pid(1234))
        #expect(try ProcessSelector.parse("name:postgres") == .name("postgres"))
        #expect(throws: ProbeError.self) { try ProcessSelector.parse("pid:abc") }
        #expect(throws: ProbeError.self) { try ProcessSelector.parse("pid:-1") }
        #expect(throws: ProbeError.self) { try ProcessSelector.parse("name:") }
        #expect(try ProbeFactory.make("pid:1").kind == "process")
        #expect(try ProbeFactory.make("name:postgres").displayName == "name:postgres")
    }
}

/// A fake /proc in a temporary directory: exact numbers for the arithmetic.
@Suite struct ProcessProbeFixtureTests {
    static func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    static func process(
        root: String,
        pid: Int,
        comm: String,
        argv0: String,
        ticks: (user: Int, system: Int),
        start: Int = 100,
        switches: (Int, Int),
        fds: Int
    ) throws {
        let dir = "\(root)/\(pid)"
        try write(
            "\(pid) (\(comm)) S 1 1 1 0 -1 0 0 0 0 0 \(ticks.user) \(ticks.system) 0 0 20 0 2 0 \(start) 1000 10 0\n",
            "\(dir)/stat"
        )
        try write(
            "Name:\t\(comm)\nVmRSS:\t100 kB\nThreads:\t2\nvoluntary_ctxt_switches:\t\(switches.0)\n"
                + "nonvoluntary_ctxt_switches:\t\(switches.1)\n",
            "\(dir)/status"
        )
        try write(comm + "\n", "\(dir)/comm")
        try write(argv0 + "\0--flag\0", "\(dir)/cmdline")
        try? FileManager.default.removeItem(atPath: "\(dir)/fd")
        try FileManager.default.createDirectory(atPath: "\(dir)/fd", withIntermediateDirectories: true)
        for fd in 0..<fds { try write("", "\(dir)/fd/\(fd)") }
    }

    @Test func workersFoundByNameAreSummedAndRatedOverTheInterval() async throws {
        let root = NSTemporaryDirectory() + "volley-proc-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        // Two workers (one matched by comm, one only by argv[0]: comm is cut to 15 bytes), and
        // a process of another name.
        try Self.process(root: root, pid: 10, comm: "worker", argv0: "worker", ticks: (0, 0), switches: (0, 0), fds: 3)
        try Self.process(
            root: root,
            pid: 11,
            comm: "long-worker-nam",
            argv0: "/opt/bin/worker",
            ticks: (0, 0),
            switches: (10, 0),
            fds: 4
        )
        try Self.process(root: root, pid: 12, comm: "other", argv0: "other", ticks: (0, 0), switches: (0, 0), fds: 1)

        let probe = ProcessProbe(.name("worker"), procRoot: root)
        try await probe.check()
        let first = try await probe.sample(at: 0)
        #expect(first["proc.count"] == 2)
        #expect(first["proc.rss_bytes"] == Double(2 * 100 * 1024))
        #expect(first["proc.threads"] == 4)
        #expect(first["proc.open_files"] == 7)
        #expect(first["proc.cpu_percent"] == nil)

        // Two seconds later: 1.5 s of CPU between them (3 s of ticks / 2 s = 150 %).
        try Self.process(
            root: root,
            pid: 10,
            comm: "worker",
            argv0: "worker",
            ticks: (ticks, 0),
            switches: (30, 6),
            fds: 3
        )
        try Self.process(
            root: root,
            pid: 11,
            comm: "long-worker-nam",
            argv0: "/opt/bin/worker",
            ticks: (ticks, ticks),
            switches: (10, 2),
            fds: 4
        )
        // Worker 10 has two threads: their switches are summed (the process's status file
        // counts its main thread only).
        try Self.write("voluntary_ctxt_switches:\t30\nnonvoluntary_ctxt_switches:\t6\n", "\(root)/10/task/10/status")
        try Self.write("voluntary_ctxt_switches:\t10\nnonvoluntary_ctxt_switches:\t0\n", "\(root)/10/task/13/status")
        let second = try await probe.sample(at: 2)
        #expect(second["proc.cpu_percent"] == 150)
        #expect(second["proc.ctx_switches_voluntary_per_s"] == 20)
        #expect(second["proc.ctx_switches_involuntary_per_s"] == 4)
        #expect(second["proc.cores"] == Double(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

        // A pid reused by a new process (another start time) is not subtracted from the old one.
        try Self.process(
            root: root,
            pid: 11,
            comm: "long-worker-nam",
            argv0: "/opt/bin/worker",
            ticks: (0, 0),
            start: 999,
            switches: (0, 0),
            fds: 4
        )
        let third = try await probe.sample(at: 3)
        #expect(third["proc.cpu_percent"] == 0)
    }
}

/// The real /proc: this test process, a spawned child, a pid that does not exist.
@Suite(.serialized) struct ProcessProbeLiveTests {
    @Test func aThreadBurningCPUShowsAsMoreThanHalfACore() async throws {
        let probe = try ProbeFactory.make("pid:\(getpid())")
        try await probe.check()
        let start = ContinuousClock.now
        let first = try await probe.sample(at: 0)
        #expect(try #require(first["proc.rss_bytes"]) > 1_000_000)
        #expect(try #require(first["proc.threads"]) >= 2)
        #expect(try #require(first["proc.open_files"]) >= 3)
        #expect(first["proc.cores"] == Double(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

        // One thread of its own (not the test's cooperative pool) spins for a second.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                let until = ContinuousClock.now + .seconds(1)
                var x: UInt64 = 1
                while ContinuousClock.now < until { x = x &* 6_364_136_223_846_793_005 &+ 1 }
                if x == 42 { print("") }  // keeps the loop from being optimised away
                done.resume()
            }.start()
        }
        let elapsed = start.duration(to: .now)
        let second = try await probe.sample(
            at: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        )
        let cpu = try #require(second["proc.cpu_percent"])
        #expect(cpu > 50, "cpu_percent \(cpu) while one thread burned for 1 s")
        #expect(second["proc.ctx_switches_voluntary_per_s"] != nil)
        #expect(second["proc.ctx_switches_involuntary_per_s"] != nil)
    }

    @Test func aSpawnedChildIsFoundByNameAndItsExitIsSeen() async throws {
        // A copy of sleep under a name longer than comm's 15 bytes: found through argv[0].
        let dir = NSTemporaryDirectory() + "volley-proc-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let binary = dir + "/volley-probe-sleeper"
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: binary)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: binary)
        child.arguments = ["5"]
        try child.run()
        // SIGKILL, not terminate(): the test runner's children may inherit a blocked SIGTERM.
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL) } }

        let byName = try ProbeFactory.make("name:volley-probe-sleeper")
        // `run()` can return before the child has exec'd (it still has the test's name then):
        // give it up to 3 s to become the sleeper (a fresh CI machine once took longer than 2 ms).
        let deadline = ContinuousClock.now + .seconds(3)
        while (try? await byName.check()) == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await byName.check()
        let first = try await byName.sample(at: 0)
        #expect(first["proc.count"] == 1)
        #expect(try #require(first["proc.rss_bytes"]) > 0)

        // By pid, and the pid gone mid-run: the reading fails, it does not crash.
        let byPid = try ProbeFactory.make("pid:\(child.processIdentifier)")
        try await byPid.check()
        _ = try await byPid.sample(at: 0)

        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        let after = try await byName.sample(at: 1)
        #expect(after["proc.count"] == 0)
        #expect(after["proc.cpu_percent"] == 0)
        await #expect {
            _ = try await byPid.sample(at: 1)
        } throws: { error in
            String(describing: error).contains("is gone")
        }
    }

    @Test func aRealSleepIsFoundByItsCommName() async throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["5"]
        try child.run()
        defer {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        let probe = try ProbeFactory.make("name:sleep")
        try await probe.check()
        #expect(try #require(try await probe.sample(at: 0)["proc.count"]) >= 1)
    }

    @Test func aMissingPidOrNameFailsTheCheckClearly() async throws {
        await #expect {
            try await ProbeFactory.make("pid:2147483646").check()
        } throws: { error in
            String(describing: error)
                == "pid:2147483646: no process with pid 2147483646 (it is not running, or has exited)"
        }
        await #expect {
            try await ProbeFactory.make("name:no-such-volley-process").check()
        } throws: { error in
            String(describing: error).contains("no process named no-such-volley-process is running")
        }
    }
}
