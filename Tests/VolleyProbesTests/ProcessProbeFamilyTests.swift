import Foundation
import Testing
import VolleyCore
import VolleyProbes

/// A fake /proc: a master, its child and grandchild (each with threads in known states), and
/// an unrelated process — exact numbers for descendants, the busiest process and the means.
@Suite struct ProcessProbeFamilyFixtureTests {
    typealias S = ProbeSeries.Process
    static let clock = Int(sysconf(Int32(_SC_CLK_TCK)))

    struct FakeThread {
        var tid: Int
        var state: Character = "S"
        var wchan = "0"
        var syscall = "-1 0x0 0x0"
        var ticks = 0
    }

    static func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    static func stat(
        pid: Int,
        comm: String,
        state: Character,
        parent: Int,
        ticks: Int,
        threads: Int,
        start: Int
    ) -> String {
        "\(pid) (\(comm)) \(state) \(parent) 1 1 0 -1 0 0 0 0 0 \(ticks) 0 0 0 20 0 \(threads) 0 \(start) 1000 10 0\n"
    }

    static func process(
        _ root: String,
        pid: Int,
        parent: Int,
        comm: String,
        ticks: Int,
        start: Int = 100,
        tasks: [FakeThread]
    ) throws {
        let dir = "\(root)/\(pid)"
        try write(
            stat(pid: pid, comm: comm, state: "S", parent: parent, ticks: ticks, threads: tasks.count, start: start),
            dir + "/stat"
        )
        try write("Name:\t\(comm)\nVmRSS:\t100 kB\nThreads:\t\(tasks.count)\n", dir + "/status")
        try write(comm + "\n", dir + "/comm")
        try write(comm + "\0", dir + "/cmdline")
        for task in tasks {
            let base = "\(dir)/task/\(task.tid)"
            try write(
                stat(
                    pid: task.tid,
                    comm: comm,
                    state: task.state,
                    parent: parent,
                    ticks: task.ticks,
                    threads: tasks.count,
                    start: start
                ),
                base + "/stat"
            )
            try write(task.wchan, base + "/wchan")
            try write(task.syscall + "\n", base + "/syscall")
        }
    }

    @Test func aPidProbeFollowsDescendantsAndReportsTheBusiestAndTheThreadStates() async throws {
        let root = NSTemporaryDirectory() + "volley-family-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sleepCall = ThreadState.Architecture.current == .aarch64 ? "115 0x0 0x0" : "230 0x0 0x0"
        let c = Self.clock

        // 20 (master) → 21 (worker) → 22 (its child); 23 is another process of the machine.
        func layout(workerTicks: Int, threadTicks: (Int, Int, Int), masterTicks: Int, masterStart: Int = 100) throws {
            try Self.process(
                root,
                pid: 20,
                parent: 1,
                comm: "gunicorn",
                ticks: masterTicks,
                start: masterStart,
                tasks: [
                    FakeThread(tid: 20, state: "R", ticks: masterTicks), FakeThread(tid: 24, wchan: "futex_do_wait"),
                ]
            )
            try Self.process(
                root,
                pid: 21,
                parent: 20,
                comm: "python3.11",
                ticks: workerTicks,
                tasks: [
                    FakeThread(tid: 21, syscall: sleepCall, ticks: threadTicks.0),  // wchan 0: the syscall decides
                    FakeThread(tid: 27, wchan: "inet_csk_accept", ticks: threadTicks.1),
                    FakeThread(tid: 28, wchan: "anon_pipe_write", ticks: threadTicks.2),
                ]
            )
            try Self.process(
                root,
                pid: 22,
                parent: 21,
                comm: "helper",
                ticks: 0,
                tasks: [FakeThread(tid: 22, wchan: "hrtimer_nanosleep")]
            )
            try Self.process(
                root,
                pid: 23,
                parent: 1,
                comm: "other",
                ticks: 0,
                tasks: [FakeThread(tid: 23, state: "R")]
            )
        }
        try layout(workerTicks: 0, threadTicks: (0, 0, 0), masterTicks: 0)

        let probe = ProcessProbe(.pid(20), procRoot: root)
        try await probe.check()
        try await Task.sleep(for: .milliseconds(350))
        let first = try await probe.sample(at: 0)
        #expect(first[S.count] == 3)
        #expect(first[S.threads] == 6)
        let sampled = try #require(first[S.threadsSampled])
        #expect(sampled >= 2 && sampled <= 6, "\(sampled) snapshots in 350 ms")
        // Every snapshot sees the same files: the means are exact. Process 23 is not family.
        #expect(first[S.threadsRunning] == 1)
        #expect(first[S.threadsLockWait] == 1)
        #expect(first[S.threadsSleep] == 2)
        #expect(first[S.threadsAccept] == 1)
        #expect(first[S.threadsWriteWait] == 1)
        #expect(first[S.threadsOther] == 0)
        #expect(first[S.busiestCPUPercent] == nil)

        // Two seconds later the worker used 2 s of CPU (100 %), the master 0.5 s.
        try layout(workerTicks: 2 * c, threadTicks: (c, c * 3 / 10, c / 10), masterTicks: c)
        let second = try await probe.sample(at: 2)
        #expect(second[S.cpuPercent] == 150)
        #expect(second[S.busiestCPUPercent] == 100)
        #expect(second[S.busiestPid] == 21)
        #expect(second[S.busiestThreads] == 3)
        #expect(second[S.busiestPython] == 1)
        // 1 s and 0.3 s of 2 s are ≥ 10 % of a core; 0.1 s is not.
        #expect(second[S.busiestThreadsOnCPU] == 2)

        let notes = await probe.notes()
        #expect(notes.contains("3 processes: 20 and its descendants"))
        let states = try #require(notes.first { $0.hasPrefix("thread states over the run") })
        #expect(
            states.contains("sleep 2.0 (hrtimer_nanosleep 50 %)")
                || states.contains("sleep 2.0 (syscall clock_nanosleep 50 %)")
        )
        #expect(states.contains("lock_wait 1.0 (futex_do_wait 100 %)"))

        // The master's pid taken by another process: the probe says so, its children or not.
        try layout(workerTicks: 2 * c, threadTicks: (c, c, c), masterTicks: c, masterStart: 999)
        await #expect {
            _ = try await probe.sample(at: 3)
        } throws: { error in
            String(describing: error).contains("exited and its pid now belongs to another process")
        }
        await probe.close()
    }
}
