import VolleyCore
import VolleyProbes

/// The server-side readers of one run: probes and the health watch, started together on the
/// load's clock and stopped together into the summary, which then gets its diagnosis.
struct RunningProbes {
    var samplers: [ProbeSampler]
    var health: HealthWatcher?

    /// Stops every reader, adds their results to the summary, judges the plan's thresholds on
    /// probe series, and diagnoses the run.
    func stop(into summary: inout RunSummary, thresholds: [Threshold] = []) async {
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
        summary.findings = Diagnosis.diagnose(summary)
    }

    /// The run failed: stop the readers and drop what they read.
    func discard() async {
        for s in samplers { _ = await s.stop() }
        _ = await health?.stop()
    }
}
