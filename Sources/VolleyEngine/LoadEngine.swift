import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import VolleyCore

/// A run that could not start: nothing was sent.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    /// The transport class when the failure is one (DNS, TLS set-up).
    public var errorClass: TransportErrorClass?
    public var message: String
    public var hint: String?

    public var description: String {
        hint.map { "\(message) (hint: \($0))" } ?? message
    }
}

/// Runs one load test: starts an event loop per thread, hands each its share of the load,
/// merges their one-second snapshots for progress, and returns the summary.
///
/// Structured: `run` returns only when every loop has finished and the loops are shut down.
/// `interrupt()` may be called from any thread (a signal handler) while `run` is waiting.
public final class LoadEngine: Sendable {
    public let configuration: RunConfiguration
    private let state = Mutex<State>(State())

    private let options: EngineOptions

    private struct State {
        var workers: [LoopWorker] = []
        var interrupted = false
        var histograms: RunHistograms?
        var results: EngineResults?
    }

    public init(configuration: RunConfiguration, options: EngineOptions = EngineOptions()) {
        self.configuration = configuration
        self.options = options
    }

    /// What the finished run measured, for a result bundle; `nil` before `run` returns.
    public var results: EngineResults? { state.withLock { $0.results } }

    /// The merged histograms of the finished run, for the history; `nil` before `run` returns.
    public var histograms: RunHistograms? { state.withLock { $0.histograms } }

    /// Stops issuing requests; in-flight ones get the configured grace period. Idempotent.
    public func interrupt() {
        let workers = state.withLock { s -> [LoopWorker] in
            guard !s.interrupted else { return [] }
            s.interrupted = true
            return s.workers
        }
        let grace = configuration.interruptGrace
        for w in workers {
            w.loop.execute { w.interrupt(grace: grace) }
        }
    }

    /// Runs the load and returns its summary. `onInterval` receives each one-second
    /// timeline entry as it is merged (for live progress), on a background task.
    public func run(onInterval: @escaping @Sendable (TimelineEntry) -> Void = { _ in }) async throws -> RunSummary {
        let config = configuration
        let url = config.request.url
        let address: SocketAddress
        do {
            address = try AddressChoice.resolve(host: url.host, port: url.port, timeout: .seconds(1))
        } catch {
            throw EngineError(
                errorClass: .dns,
                message: "cannot resolve host \"\(url.host)\": \(error)",
                hint: "check the spelling, or use an address such as 127.0.0.1"
            )
        }
        var tls: TLSSetup?
        // Made on first use: a plain-HTTP run builds a context only if a redirect leads to HTTPS.
        let tlsSource = TLSContextSource(
            insecure: config.insecure,
            protocols: config.http.isHTTP2 ? (config.http1Fallback ? ["h2", "http/1.1"] : ["h2"]) : ["http/1.1"]
        )
        if url.isTLS {
            do {
                tls = TLSSetup(context: try tlsSource.context(), host: url.host)
            } catch {
                throw EngineError(errorClass: .tls, message: "cannot set up TLS: \(error)", hint: nil)
            }
        }

        let threads = config.threads
        let host = EngineHost(threads: threads)
        let encoder = RequestEncoder(spec: config.request, runPrefix: UInt32.random(in: 0...UInt32.max))
        var budget: RequestBudget?
        if case .closed(_, let limit) = config.model, let n = limit.requestCount {
            budget = RequestBudget(config.segment.share(of: n))
        }
        var workers: [LoopWorker] = []
        for (i, loop) in host.loops.enumerated() {
            workers.append(
                LoopWorker(
                    index: i,
                    loopCount: threads,
                    loop: loop,
                    configuration: config,
                    encoder: encoder,
                    address: address,
                    tls: tls,
                    budget: budget,
                    tlsSource: tlsSource
                )
            )
        }
        let alreadyInterrupted = state.withLock { s -> Bool in
            s.workers = workers
            return s.interrupted
        }
        // Warm-up (open model pre-connects), then one shared time zero for every loop.
        let warmups = workers.map { w in w.loop.flatSubmit { w.prepare() } }
        try await EventLoopFuture.andAllSucceed(warmups, on: host.group.next()).get()
        if let gate = options.startGate {
            do {
                _ = try await gate([:])
            } catch {
                try? await host.shutdown()
                throw EngineError(errorClass: nil, message: "the run did not start: \(error)", hint: nil)
            }
        }
        let startNanos = NIODeadline.now().uptimeNanoseconds
        let startedAtUnixNanos = WallClock.now()
        for w in workers { w.loop.execute { w.begin(startNanos: startNanos) } }
        if alreadyInterrupted { interrupt() }

        let keeper = options.keepIntervals ? IntervalKeeper() : nil
        let timeline = await host.drive(workers, startNanos: startNanos, keeper: keeper, onInterval: onInterval)
        let endNanos = NIODeadline.now().uptimeNanoseconds

        var merged = Recorder(slowestCapacity: config.slowestCount)
        for r in try await host.collect(workers, { $0.recorder }) { merged.merge(r) }
        state.withLock {
            $0.workers = []
            $0.histograms = RunHistograms(
                latency: merged.latency,
                serviceTime: merged.serviceTime,
                phases: merged.phases.byPhase
            )
            $0.results = EngineResults(
                overall: merged,
                byName: [:],
                groups: [:],
                intervals: keeper?.histograms ?? [],
                startedAtUnixNanos: startedAtUnixNanos
            )
        }
        try await host.shutdown()
        let interrupted = state.withLock { $0.interrupted }
        var summary = RunSummary(
            target: url.description,
            method: config.request.method,
            model: config.model,
            threads: threads,
            recorder: merged,
            duration: Double(endNanos - startNanos) / 1e9,
            timeline: timeline,
            interrupted: interrupted
        )
        if !config.segment.isWhole { summary.segment = config.segment.description }
        return summary
    }

}

/// Merges every loop's interval once a second until `done` completes, then once more for the
/// final partial second. Shared by URL runs and plan runs.
func collectTimeline(
    gather: @Sendable () async -> IntervalStats,
    startNanos: UInt64,
    until done: EventLoopFuture<Void>,
    monitor: GeneratorMonitor?,
    keeper: IntervalKeeper? = nil,
    onInterval: @escaping @Sendable (TimelineEntry) -> Void
) async -> [TimelineEntry] {
    let flag = DoneFlag()
    done.whenComplete { _ in flag.set() }
    var entries: [TimelineEntry] = []
    var tick: UInt64 = 1
    var lastNanos = startNanos
    while true {
        let target = startNanos + tick * 1_000_000_000
        var nowNanos = NIODeadline.now().uptimeNanoseconds
        while !flag.isSet && nowNanos < target {
            try? await Task.sleep(nanoseconds: min(target - nowNanos, 20_000_000))
            nowNanos = NIODeadline.now().uptimeNanoseconds
        }
        let isDone = flag.isSet
        let end = isDone ? max(nowNanos, lastNanos) : target
        let stats = await gather()
        let seconds = Double(end - lastNanos) / 1e9
        if !isDone || stats.completed + stats.failed > 0 || entries.isEmpty {
            var entry = TimelineEntry(t: Double(end - startNanos) / 1e9, seconds: seconds, stats: stats)
            if let cpu = monitor?.take() {
                entry.generatorCPUPercent = (cpu.total * 10).rounded() / 10
                entry.loopCPUMaxPercent = (cpu.busiest * 10).rounded() / 10
                entry.hostCPUPercent = cpu.host.map { ($0 * 10).rounded() / 10 }
            }
            entries.append(entry)
            keeper?.keep(stats.latency)
            onInterval(entry)
        }
        lastNanos = end
        tick += 1
        if isDone { break }
    }
    return entries
}

/// Wraps a loop's `takeInterval` so that the stats carry how long the task waited in the
/// loop's queue: the event-loop lag that every request on that loop also paid.
func measuringLag(_ take: @escaping @Sendable () -> IntervalStats) -> @Sendable () -> IntervalStats {
    let submitted = NIODeadline.now().uptimeNanoseconds
    return {
        var stats = take()
        stats.loopLagMicros = (NIODeadline.now().uptimeNanoseconds &- submitted) / 1000
        return stats
    }
}

/// Set once, read from any thread: whether every loop has finished.
final class DoneFlag: Sendable {
    private let value = Atomic<Bool>(false)

    func set() { value.store(true, ordering: .releasing) }

    var isSet: Bool { value.load(ordering: .acquiring) }
}
