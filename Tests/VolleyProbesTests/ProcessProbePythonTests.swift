import Foundation
import Testing
import VolleyCore
import VolleyProbes

/// Real Python processes, each with one behaviour, read through `pid:`: what Linux shows for
/// a GIL-bound process, a lock held across a sleep, sleeping threads and forked workers. Each
/// program exits by itself after about 5 s; the test kills it on the way out too.
@Suite(.serialized) struct ProcessProbePythonTests {
    typealias S = ProbeSeries.Process

    /// Runs `python3 -c code`, reads `pid:` once `ready`'s series has its value (within
    /// 3 s), waits `seconds`, reads again and hands the second reading and the notes to `body`.
    func probe(
        _ code: String,
        seconds: Double = 2,
        ready: (series: String, value: Double),
        body: ([String: Double], [String]) throws -> Void
    ) async throws {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", code]
        try python.run()
        defer {
            if python.isRunning { kill(python.processIdentifier, SIGKILL) }
            python.waitUntilExit()
        }
        let probe = ProcessProbe(.pid(python.processIdentifier))
        let start = ContinuousClock.now
        func now() -> Double {
            let d = start.duration(to: .now)
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        // `env` execs python3; its threads start within a few hundred ms.
        try await Task.sleep(for: .milliseconds(300))
        try await probe.check()
        var first = try await probe.sample(at: now())
        while first[ready.series] != ready.value, now() < 3 {
            try await Task.sleep(for: .milliseconds(100))
            first = try await probe.sample(at: now())
        }
        try await Task.sleep(for: .seconds(seconds))
        let second = try await probe.sample(at: now())
        let notes = await probe.notes()
        await probe.close()
        try body(second, notes)
    }

    @Test func eightSpinningThreadsInOneProcessAreOneCoreAndWaitOnTheGIL() async throws {
        let code = """
            import threading, time
            end = time.time() + 5
            def spin():
                x = 0
                while time.time() < end:
                    x += 1
            ts = [threading.Thread(target=spin) for _ in range(8)]
            for t in ts: t.start()
            for t in ts: t.join()
            """
        try await probe(code, ready: (S.threads, 9)) { reading, notes in
            let cpu = try #require(reading[S.busiestCPUPercent])
            #expect(cpu >= 40 && cpu <= 115, "busiest cpu \(cpu) for one GIL")
            #expect(reading[S.busiestPython] == 1)
            #expect(try #require(reading[S.busiestThreadsOnCPU]) >= 2)
            // Linux shows GIL waiters in a futex (pthread_cond_timedwait): futex_do_wait here.
            let lockWait = try #require(reading[S.threadsLockWait])
            #expect(lockWait >= 3, "lock_wait \(lockWait); \(reading); \(notes)")
            #expect(try #require(reading[S.threadsSampled]) >= 10)
            print("GIL: \(reading.filter { $0.key.hasPrefix("proc.busiest") || $0.key.hasPrefix("proc.threads.") })")
            print("GIL notes: \(notes)")
        }
    }

    @Test func aLockHeldAcrossASleepShowsWaitersOnAFutexAndTheHolderAsleep() async throws {
        let code = """
            import threading, time
            end = time.time() + 5
            lock = threading.Lock()
            def holder():
                while time.time() < end:
                    with lock:
                        time.sleep(0.005)
            def waiter():
                while time.time() < end:
                    with lock:
                        pass
            ts = [threading.Thread(target=holder)] + [threading.Thread(target=waiter) for _ in range(7)]
            for t in ts: t.start()
            for t in ts: t.join()
            """
        try await probe(code, ready: (S.threads, 9)) { reading, notes in
            let lockWait = try #require(reading[S.threadsLockWait])
            let sleep = try #require(reading[S.threadsSleep])
            let cpu = try #require(reading[S.busiestCPUPercent])
            #expect(lockWait >= 4, "lock_wait \(lockWait); \(notes)")
            #expect(sleep >= 0.5, "sleep \(sleep); \(notes)")
            #expect(cpu <= 30, "busiest cpu \(cpu) while every thread waits")
            print("lock: \(reading.filter { $0.key.hasPrefix("proc.busiest") || $0.key.hasPrefix("proc.threads.") })")
            print("lock notes: \(notes)")
        }
    }

    @Test func sleepingThreadsAreCountedAsSleepNotLockWait() async throws {
        // The main thread sleeps too instead of joining (a join waits on a lock).
        let code = """
            import threading, time
            end = time.time() + 5
            def nap():
                while time.time() < end:
                    time.sleep(0.05)
            for _ in range(4): threading.Thread(target=nap, daemon=True).start()
            time.sleep(5)
            """
        try await probe(code, ready: (S.threads, 5)) { reading, notes in
            let sleep = try #require(reading[S.threadsSleep])
            let lockWait = try #require(reading[S.threadsLockWait])
            #expect(sleep >= 3, "sleep \(sleep); \(notes)")
            #expect(lockWait < 1, "lock_wait \(lockWait); \(notes)")
        }
    }

    @Test func aPidProbeCountsTheWorkersItsProcessForked() async throws {
        let code = """
            import os, time
            end = time.time() + 5
            for _ in range(2):
                if os.fork() == 0:
                    x = 0
                    while time.time() < end:
                        x += 1
                    os._exit(0)
            while True:
                try:
                    os.wait()
                except ChildProcessError:
                    break
            """
        try await probe(code, ready: (S.count, 3)) { reading, _ in
            #expect(reading[S.count] == 3)
            // The parent only waits: the CPU is its children's (two spinning processes on a
            // 2-core machine that other builds share).
            let cpu = try #require(reading[S.cpuPercent])
            let busiest = try #require(reading[S.busiestCPUPercent])
            #expect(cpu >= 40, "cpu_percent \(cpu) for two spinning children")
            #expect(cpu >= busiest + 15, "cpu_percent \(cpu) vs the busiest child's \(busiest)")
            #expect(reading[S.busiestPython] == 1)
        }
    }

    @Test func aHundredThreadsCostLittleToSampleAndAReadingStaysFast() async throws {
        let code = """
            import threading, time
            end = time.time() + 5
            def nap():
                while time.time() < end:
                    time.sleep(0.01)
            for _ in range(100): threading.Thread(target=nap, daemon=True).start()
            time.sleep(5)
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", code]
        try python.run()
        defer {
            if python.isRunning { kill(python.processIdentifier, SIGKILL) }
            python.waitUntilExit()
        }
        try await Task.sleep(for: .milliseconds(500))
        let probe = ProcessProbe(.pid(python.processIdentifier))
        try await probe.check()
        var slowest = Duration.zero
        for t in 0..<3 {
            try await Task.sleep(for: .seconds(1))
            let started = ContinuousClock.now
            let reading = try await probe.sample(at: Double(t))
            slowest = max(slowest, started.duration(to: .now))
            #expect(reading[S.threads] == 101)
        }
        let notes = await probe.notes()
        await probe.close()
        #expect(slowest < .milliseconds(100), "a reading of 101 threads took \(slowest)")
        let cost = try #require(notes.first { $0.hasPrefix("thread states:") })
        // "thread states: 31 snapshots of up to 101 threads, 1.23 ms of CPU each"
        let ms = try #require(Double(cost.split(separator: " ").dropLast(4).last ?? ""))
        #expect(ms < 10, "\(cost)")
        print("cost: \(cost); slowest reading \(slowest)")
    }
}
