import Foundation
import VolleyCore

// Rules about the measurement itself: was Volley the limit?
extension Diagnosis {
    static func generatorBound(_ v: RunView) -> Finding? {
        let loaded = v.loaded
        guard loaded.count >= 2 else { return nil }
        var evidence: [String] = []
        let loopCPU = loaded.compactMap(\.loopCPUMaxPercent)
        let hot = loopCPU.filter { $0 >= 90 }
        if hot.count >= 2, Double(hot.count) >= 0.3 * Double(loopCPU.count) {
            evidence.append(
                "Volley's busiest event loop used ≥ 90 % of a core in \(hot.count) of \(loopCPU.count) seconds "
                    + "(max \(Fmt.pct(loopCPU.max() ?? 0)))"
            )
        }
        let lags = loaded.compactMap(\.loopLagMs)
        let lagging = lags.filter { $0 >= 50 }
        if lagging.count >= 2, Double(lagging.count) >= 0.2 * Double(lags.count) {
            evidence.append(
                "a task waited up to \(Fmt.ms(lags.max() ?? 0)) in an event loop's queue (≥ 50 ms in \(lagging.count) seconds)"
            )
        }
        let waitedForConnections = loaded.contains { $0.waiting > 0 }
        if v.run.model == "open", !waitedForConnections, v.run.requests > 0,
            Double(v.run.sentLate) > 0.05 * Double(v.run.requests + v.run.unsent)
        {
            evidence.append(
                "\(v.run.sentLate) of \(v.run.requests + v.run.unsent) requests were sent more than 10 ms late "
                    + "with free connections at hand (schedule lag p99 \(Fmt.ms(v.run.scheduleLag?.p99Ms ?? 0)))"
            )
        }
        guard !evidence.isEmpty else { return nil }
        let host = loaded.compactMap(\.hostCPUPercent)
        if let median = Stats.median(host), median >= 90 {
            evidence.append(
                "the machine's CPUs were \(Fmt.pct(median)) busy (median): Volley and the target shared them"
            )
        }
        let start = loaded.first { ($0.loopCPUMaxPercent ?? 0) >= 90 || ($0.loopLagMs ?? 0) >= 50 }?.t
        return Finding(
            id: .generatorBound,
            title: "Generator-bound: results not valid",
            statement: "Volley itself was at its limit, so the latencies and rates it measured include its own "
                + "queueing; do not read this run as the server's capacity.",
            evidence: evidence,
            next: "Re-run with more --threads, fewer connections, or Volley on another machine than the target; "
                + "a valid run keeps every loop below 80 % of a core.",
            severity: .critical,
            since: start
        )
    }
}
