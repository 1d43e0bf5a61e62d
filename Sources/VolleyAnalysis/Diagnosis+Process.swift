import Foundation
import VolleyCore

// Rules read from the service's processes without its help: /proc's CPU per process, the
// threads that can serve requests, and where they wait — matched against the width of the
// service measured by Little's law.
extension Diagnosis {
    /// One process at its one-core ceiling while the machine had CPU to spare: a Python
    /// interpreter's GIL (or one event loop) caps the service, and more threads cannot help.
    static func singleCoreProcess(_ v: RunView) -> Finding? {
        for p in v.processes {
            guard p.cores >= 2, let busiest = p.busiestCPU, busiest >= 85, busiest <= 125,
                (p.busiestThreads ?? 1) >= 2
            else { continue }
            // The machine itself full: then it is the machine's CPU, not one process's ceiling.
            if let idle = v.idleCores(p.cores), idle < 0.4 { continue }
            // Two workers or more (a pre-fork master and its children): one of them at one core
            // is not the service's ceiling. The others idle means its keep-alive connections
            // were pinned to it by the accept race — "run more workers" would be wrong advice.
            if let n = p.processes, n >= 3 { continue }
            let width = v.servedWidth
            guard width?.queued ?? v.throughputFlat else { continue }
            let who = p.python ? "one Python process" : "one process"
            var evidence = [
                "\(p.name): the busiest process used \(Fmt.pct(busiest)) of one core (median), with "
                    + "\(Fmt.num(p.busiestThreads ?? 0)) threads, on a machine of \(Fmt.num(p.cores)) cores"
            ]
            if let idle = v.idleCores(p.cores) {
                evidence.append(
                    "the machine had \(String(format: "%.1f", idle)) cores idle (median): the cap was the process's, not the machine's"
                )
            }
            if let on = p.threadsOnCPU, on >= 2 {
                evidence.append(
                    "\(Fmt.num(on.rounded())) threads took turns on the CPU, never more than one core together"
                )
            }
            if p.hasThreadStates { evidence.append("thread states (mean threads): \(p.stateSummary)") }
            if let width { evidence.append(width.evidence) }
            return Finding(
                id: .singleCoreProcess,
                title: p.python ? "One Python process capped at one core (the GIL)" : "One process capped at one core",
                statement: "The service ran its requests in \(who), which cannot use more than one core"
                    + (p.python ? " for Python code (one GIL)" : "") + ": its threads waited for each other "
                    + "while the machine's other cores stayed idle.",
                evidence: evidence,
                next: p.python
                    ? "Run more worker processes, not threads (gunicorn -w ≈ the cores, --threads for I/O only); "
                        + "profile the request with py-spy to cut its CPU; sweep again to see the knee move."
                    : "Run more processes (or a thread pool for the CPU work), profile the request path, then "
                        + "sweep again.",
                since: v.steady.first?.t
            )
        }
        return nil
    }

    /// Requests served one at a time by a service with threads to spare and an idle CPU:
    /// one call held under a lock (a synchronous log handler, a mutex around I/O) serializes
    /// them. Needs the process probe: without it the same width could be the GIL.
    static func blockingCall(_ v: RunView) -> Finding? {
        // About one at a time: the width is an upper bound (see `ServedWidth.matches`), so up
        // to 2.5, with threads to spare well beyond it.
        guard let width = v.servedWidth, width.queued, width.width <= 2.5 else { return nil }
        for p in v.processes {
            guard let capacity = p.capacity, capacity >= max(3, 2 * width.width + 1), let busiest = p.busiestCPU,
                busiest <= 60
            else { continue }
            // With thread states: the others must be seen waiting on a lock, and one busy in a call.
            if p.hasThreadStates {
                guard (p.states["lock_wait"] ?? 0) >= 1 else { continue }
            }
            var evidence = [
                width.evidence,
                "\(p.name) had about \(Fmt.num(capacity)) threads to serve requests, and its busiest process used "
                    + "\(Fmt.pct(busiest)) of one core: neither threads nor CPU were short",
            ]
            if p.hasThreadStates {
                evidence.append(
                    "thread states (mean threads): \(p.stateSummary) — the waiting threads sat on a lock (futex) "
                        + "while \(String(format: "%.1f", p.blockedInCall)) thread was inside a sleep, a write or disk I/O"
                )
            }
            return Finding(
                id: .blockingCall,
                title: "Requests serialized behind a blocking call",
                statement: "The service worked on about one request at a time although it had threads and CPU to "
                    + "spare: each request waited for a lock that another held across a slow call — typically a "
                    + "synchronous log handler writing under its lock, or a mutex around a network or disk call.",
                evidence: evidence,
                next: "Find the call held under a lock (py-spy dump / a thread dump during the load); for logging, "
                    + "hand records to a QueueHandler + QueueListener (or an async appender) so requests never wait "
                    + "on the log's I/O; then compare the two runs with `volley compare`.",
                since: v.steady.first?.t
            )
        }
        return nil
    }

    /// Every worker (or thread) busy, and the service's width equal to their number, while
    /// the CPU had room: the worker count is the cap.
    static func workersFromProcesses(_ v: RunView) -> Finding? {
        guard let width = v.servedWidth, width.queued else { return nil }
        for p in v.processes {
            guard let capacity = p.capacity, capacity >= 1, width.matches(capacity) else { continue }
            guard let cpu = p.cpu, cpu < 0.8 * p.cores * 100, (p.busiestCPU ?? cpu) < 85 else { continue }
            var evidence = [
                width.evidence,
                "\(p.name): \(Fmt.num(p.processes ?? 1)) processes, \(Fmt.num(p.threads ?? 0)) threads — about "
                    + "\(Fmt.num(capacity)) that serve requests, the width above",
                "CPU \(Fmt.pct(cpu)) of \(Fmt.num(p.cores * 100)) % (median): the workers waited, they did not compute",
            ]
            if p.hasThreadStates { evidence.append("thread states (mean threads): \(p.stateSummary)") }
            return Finding(
                id: .workersExhausted,
                title: "Every worker busy: \(Fmt.num(capacity)) at a time",
                statement: "The service served about \(Fmt.num(capacity)) requests at a time — as many as it has "
                    + "workers or threads — and the rest queued, with CPU to spare: the worker count capped throughput.",
                evidence: evidence,
                next: "Raise the workers or threads (gunicorn --workers, --threads with -k gthread, or an async "
                    + "worker for I/O-bound requests) while the database and CPU have room; sweep before and after.",
                since: v.steady.first?.t
            )
        }
        return nil
    }
}
