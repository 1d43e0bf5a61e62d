import Foundation
import VolleyCore

/// A realistic run built without sending anything: for the history's crash and concurrency
/// tests, which need many saves of full-size runs (10 minutes of timeline) quickly.
public enum SyntheticRun {
    public static func make(seed: UInt64, seconds: Int = 600) -> (RunSummary, RunHistograms) {
        var random = SplitMix(seed: seed)
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

    private struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
