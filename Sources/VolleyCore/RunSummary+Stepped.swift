/// Runs read together: the seconds a run carried load, and several runs (a sweep's levels, a
/// matrix's cells) laid end to end on one time axis. The terminal, `volley show` and the
/// reports read probe series through these, so that what they show is what the diagnosis read.
extension RunSummary {
    /// From one second before the first second that completed or failed a request to the last
    /// such second: the seconds whose probe readings describe the service under load (the
    /// idle seconds before the first request and after the drain would pull a median down).
    public var loadedSpan: ClosedRange<Double> {
        let loaded = timeline.filter { $0.completed + $0.failed > 0 }
        let first = max(0, (loaded.first?.t ?? 0) - 1)
        return first...max(first, loaded.last?.t ?? durationS)
    }

    /// How long the run lasted on its own clock: the end of its timeline, or its duration when
    /// that is later. The next run of a series starts there.
    public var span: Double { max(durationS, timeline.last?.t ?? 0) }

    /// The probe series of `runs` laid end to end, each run's times shifted by the spans of the
    /// runs before it (one probe per kind and name; notes of the first run that had it), and
    /// where each run starts on that axis.
    public static func probesEndToEnd(_ runs: [RunSummary]) -> (probes: [ProbeResult], starts: [Double]) {
        var offset = 0.0
        var starts: [Double] = []
        var probes: [String: ProbeResult] = [:]
        var order: [String] = []
        for run in runs {
            starts.append(offset)
            for p in run.probes ?? [] {
                let key = (p.kind ?? "") + " " + p.probe
                if probes[key] == nil {
                    order.append(key)
                    probes[key] = ProbeResult(
                        probe: p.probe,
                        series: [:],
                        failedScrapes: 0,
                        kind: p.kind,
                        notes: p.notes
                    )
                }
                for (name, points) in p.series {
                    probes[key]?.series[name, default: []] += points.map { [$0[0] + offset, $0[1]] }
                }
                probes[key]?.failedScrapes += p.failedScrapes
            }
            offset += run.span
        }
        return (order.compactMap { probes[$0] }, starts)
    }
}
