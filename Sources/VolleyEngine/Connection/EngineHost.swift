import NIOCore
import NIOPosix
import VolleyCore

/// One event loop's share of a run, as ``EngineHost`` drives it: a URL run's ``LoopWorker``
/// or one scenario's ``ScenarioLoop``.
protocol HostedLoad: AnyObject, Sendable {
    var loop: any EventLoop { get }
    /// Completes when this share has nothing left to send and nothing in flight.
    var done: EventLoopFuture<Void> { get }
    /// The interval since the last call (gauges included); called on `loop`.
    func takeInterval() -> IntervalStats
}

/// The event loops of one run and what both engines do with them: start every share at one
/// time zero, merge their intervals once a second (with the generator's own CPU), wait for
/// the end, collect their recorders, and shut the loops down. The engines differ in what a
/// share does (a wrk2-style queue of requests, or k6-style VUs), not in how they are hosted.
struct EngineHost {
    let group: MultiThreadedEventLoopGroup
    let loops: [any EventLoop]

    init(threads: Int) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        loops = Array(group.makeIterator())
    }

    /// Merges every share's interval once a second until all are done, then once more for
    /// the final partial second; `eachSecond` runs after each merge (abort thresholds).
    func drive<Load: HostedLoad>(
        _ loads: [Load],
        startNanos: UInt64,
        eachSecond: (@Sendable () async -> Void)? = nil,
        keeper: IntervalKeeper? = nil,
        onInterval: @escaping @Sendable (TimelineEntry) -> Void
    ) async -> [TimelineEntry] {
        let allDone = EventLoopFuture.andAllSucceed(loads.map(\.done), on: group.next())
        let monitor = await GeneratorMonitor.start(loops: loads.map(\.loop))
        return await collectTimeline(
            gather: {
                var merged = IntervalStats()
                for load in loads {
                    if let s = try? await load.loop.submit(measuringLag { load.takeInterval() }).get() {
                        merged.merge(s)
                    }
                }
                await eachSecond?()
                return merged
            },
            startNanos: startNanos,
            until: allDone,
            monitor: monitor,
            keeper: keeper,
            onInterval: onInterval
        )
    }

    /// Reads `value` from every share on its own loop, in order (their recorders at the end).
    func collect<Load: HostedLoad, Value: Sendable>(
        _ loads: [Load],
        _ value: @escaping @Sendable (Load) -> Value
    ) async throws -> [Value] {
        var values: [Value] = []
        for load in loads {
            values.append(try await load.loop.submit { value(load) }.get())
        }
        return values
    }

    func shutdown() async throws {
        try await group.shutdownGracefully()
    }
}
