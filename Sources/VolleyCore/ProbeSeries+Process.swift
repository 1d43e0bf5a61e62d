extension ProbeSeries.Process {
    // MARK: - The busiest process

    /// The highest CPU of one selected process over the interval (one core = 100): a Python
    /// process (one GIL) cannot go much past 100 however many cores the machine has, so the
    /// GIL rule reads this, not the sum over workers.
    public static let busiestCPUPercent = "proc.busiest.cpu_percent"
    /// Threads of the busiest process.
    public static let busiestThreads = "proc.busiest.threads"
    /// Which process was the busiest (its pid), so a reader can look at it.
    public static let busiestPid = "proc.busiest.pid"
    /// 1 when the busiest process is a Python interpreter (its executable, comm or argv[0]
    /// starts with "python"), else 0: the GIL rule applies only then.
    public static let busiestPython = "proc.busiest.python"
    /// Threads of the busiest process that each used at least 10 % of a core in the interval:
    /// many of them while the process sums to about one core is the GIL's signature.
    public static let busiestThreadsOnCPU = "proc.busiest.threads_on_cpu"

    // MARK: - Thread states, sampled several times a second

    /// Mean threads on a CPU or runnable (state R).
    public static let threadsRunning = "proc.threads.running"
    /// Mean threads waiting on a futex: a lock, a condition variable, the GIL.
    public static let threadsLockWait = "proc.threads.lock_wait"
    /// Mean threads in nanosleep / clock_nanosleep.
    public static let threadsSleep = "proc.threads.sleep"
    /// Mean threads in uninterruptible sleep (state D) or waiting on disk I/O.
    public static let threadsIOWait = "proc.threads.io_wait"
    /// Mean threads blocked writing to a full pipe or socket (a log handler whose reader is
    /// slow, a client that does not read).
    public static let threadsWriteWait = "proc.threads.write_wait"
    /// Mean threads waiting for the network: a socket read, poll, select, epoll.
    public static let threadsNetWait = "proc.threads.net_wait"
    /// Mean threads waiting in accept: idle workers with nothing to serve.
    public static let threadsAccept = "proc.threads.accept"
    /// Mean threads in any other state or wait.
    public static let threadsOther = "proc.threads.other"
    /// How many snapshots of the threads were taken in the interval (the means' weight).
    public static let threadsSampled = "proc.threads.sampled"
}
