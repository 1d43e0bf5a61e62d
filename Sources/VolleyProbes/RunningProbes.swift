import VolleyCore

/// The server-side readers of one run: probes and the health watch, started together on the
/// load's clock and stopped together into the summary.
public struct RunningProbes: Sendable {
    public var samplers: [ProbeSampler]
    public var health: HealthWatcher?

    /// Starts every sampler (every `interval`) and the health watch on one clock: the
    /// load's time zero.
    public init(starting samplers: [ProbeSampler], health: HealthWatcher? = nil, interval: Duration = .seconds(1)) {
        let start = ContinuousClock.now
        for s in samplers { s.start(at: start, interval: interval) }
        health?.start(at: start)
        self.samplers = samplers
        self.health = health
    }

    /// Stops every reader, adds their results to the summary and judges the plan's thresholds
    /// on probe series. The diagnosis is the caller's (the command line's): probes gather
    /// evidence, they do not judge it.
    public func stop(into summary: inout RunSummary, thresholds: [Threshold] = []) async {
        if !samplers.isEmpty {
            var results: [ProbeResult] = []
            for s in samplers { results.append(await s.stop()) }
            summary.probes = results
        }
        if !thresholds.isEmpty {
            let probes = summary.probes ?? []
            summary.thresholds = (summary.thresholds ?? []) + thresholds.map { $0.evaluate(probes: probes) }
        }
        summary.health = await health?.stop()
    }

    /// Judges `thresholds` (probe thresholds with `abort_on_fail`) once a second on the
    /// readings so far, and calls `abort` with the first that fails. A series with no reading
    /// yet is not a failure while the run goes on. Cancel the task when the load ends.
    public func watchAborts(
        _ thresholds: [Threshold],
        every interval: Duration = .seconds(1),
        abort: @escaping @Sendable (String) -> Void
    ) -> Task<Void, Never>? {
        guard !thresholds.isEmpty, !samplers.isEmpty else { return nil }
        let samplers = self.samplers
        return Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                let readings = samplers.map { $0.snapshot() }
                for t in thresholds {
                    let result = t.evaluate(probes: readings)
                    if result.actual != nil && !result.passed {
                        abort(t.expression)
                        return
                    }
                }
            }
        }
    }

    /// The run failed: stop the readers and drop what they read.
    public func discard() async {
        for s in samplers { _ = await s.stop() }
        _ = await health?.stop()
    }
}
