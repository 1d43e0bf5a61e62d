import Foundation
import VolleyCore

/// A realistic run built without sending anything: for the history's crash and concurrency
/// tests, which need many saves of full-size runs (10 minutes of timeline) quickly.
public enum SyntheticRun {
    public static func make(seed: UInt64, seconds: Int = 600) -> (RunSummary, RunHistograms) {
        var random = SplitMix64(seed: seed)
        var recorder = Recorder()
        var timeline: [TimelineEntry] = []
        var at: UInt64 = 0
        for second in 0..<seconds {
            var interval = IntervalStats()
            for _ in 0..<50 {
                let latency = 1_000_000 + random.next() % 50_000_000
                at += 20_000_000
                recorder.recordResponse(
                    status: random.next() % 20 == 0 ? 500 : 200,
                    latencyNanos: latency,
                    serviceNanos: latency / 2,
                    bytesIn: 512,
                    requestID: "synthetic-\(seed)-\(at)",
                    completedAtNanos: at
                )
                interval.completed += 1
                _ = interval.latency.record(LatencyHistogram.micros(latency))
            }
            timeline.append(TimelineEntry(t: Double(second + 1), seconds: 1, stats: interval))
        }
        let summary = RunSummary(
            target: "http://127.0.0.1:9/synthetic",
            method: "GET",
            model: .closed(connections: 10, limit: .duration(.seconds(seconds))),
            threads: 2,
            recorder: recorder,
            duration: Double(seconds),
            timeline: timeline,
            interrupted: false
        )
        return (summary, RunHistograms(latency: recorder.latency, serviceTime: recorder.serviceTime))
    }
}
