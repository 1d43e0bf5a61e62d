import Histogram
import Testing
import VolleyCore

@testable import VolleyAnalysis

/// A run whose per-second values are drawn around the given means.
func syntheticRun(
    seconds: Int,
    rps: Double,
    latencyMs: Double,
    errorEvery: Int = 0,
    seed: UInt64,
    jitter: Double = 0.05
) -> (RunSummary, RunHistograms) {
    var random = SplitMix64(seed: seed)
    func noisy(_ x: Double) -> Double {
        x * (1 + jitter * (Double(random.next() % 2_001) / 1_000 - 1))
    }
    var recorder = Recorder()
    var timeline: [TimelineEntry] = []
    var n = 0
    for second in 1...seconds {
        var interval = IntervalStats()
        let count = Int(noisy(rps).rounded())
        for _ in 0..<count {
            n += 1
            let nanos = UInt64(noisy(latencyMs) * 1_000_000)
            let status = errorEvery > 0 && n % errorEvery == 0 ? 500 : 200
            recorder.recordResponse(
                status: status,
                latencyNanos: nanos,
                serviceNanos: nanos,
                bytesIn: 10,
                requestID: "",
                completedAtNanos: 0
            )
            interval.completed += 1
            if status >= 400 { interval.errors += 1 }
            _ = interval.latency.record(LatencyHistogram.micros(nanos))
        }
        timeline.append(TimelineEntry(t: Double(second), seconds: 1, stats: interval))
    }
    let summary = RunSummary(
        target: "http://127.0.0.1/",
        method: "GET",
        model: .closed(connections: 1, limit: .requests(1)),
        threads: 1,
        recorder: recorder,
        duration: Double(seconds),
        timeline: timeline,
        interrupted: false
    )
    return (summary, RunHistograms(latency: recorder.latency, serviceTime: recorder.serviceTime))
}

@Suite struct ComparisonTests {
    func metric(_ c: RunComparison, _ name: String) throws -> MetricComparison {
        try #require(c.overall.first { $0.metric == name })
    }

    @Test func twoRunsOfTheSameServiceAreNoise() throws {
        let (a, _) = syntheticRun(seconds: 20, rps: 200, latencyMs: 20, seed: 1)
        let (b, _) = syntheticRun(seconds: 20, rps: 200, latencyMs: 20, seed: 2)
        let c = RunComparator.compare(a, b)
        for name in ["req/s", "p50 ms", "p90 ms", "p99 ms", "errors"] {
            #expect(try metric(c, name).verdict == .noChange, "\(name)")
        }
    }

    @Test func moreThroughputAndLessLatencyAreBetter() throws {
        let (a, _) = syntheticRun(seconds: 15, rps: 200, latencyMs: 40, seed: 3)
        let (b, _) = syntheticRun(seconds: 15, rps: 260, latencyMs: 20, seed: 4)
        let c = RunComparator.compare(a, b)
        let rps = try metric(c, "req/s")
        #expect(rps.verdict == .better)
        #expect(abs(rps.change - 0.30) < 0.05)
        #expect(try #require(rps.low) > 0.2 && (try #require(rps.high)) < 0.4)
        #expect(try metric(c, "p50 ms").verdict == .better)
        // Reversed, the same differences are regressions.
        let back = RunComparator.compare(b, a)
        #expect(try metric(back, "req/s").verdict == .worse)
        #expect(try metric(back, "p99 ms").verdict == .worse)
        #expect(back.regressions(beyond: 0.05).map(\.metric).contains("p50 ms"))
    }

    @Test func aTinyButRealDifferenceIsStillCalledNoise() throws {
        let (a, _) = syntheticRun(seconds: 30, rps: 1000, latencyMs: 20, seed: 5, jitter: 0.001)
        let (b, _) = syntheticRun(seconds: 30, rps: 1010, latencyMs: 20, seed: 6, jitter: 0.001)
        let rps = try metric(RunComparator.compare(a, b), "req/s")
        #expect(try #require(rps.low) > 0)  // significant…
        #expect(rps.verdict == .noChange)  // …but below the 2 % minimum effect
    }

    @Test func errorRatesCompareInPoints() throws {
        let (a, _) = syntheticRun(seconds: 10, rps: 200, latencyMs: 10, errorEvery: 5, seed: 7)
        let (b, _) = syntheticRun(seconds: 10, rps: 200, latencyMs: 10, seed: 8)
        let errors = try metric(RunComparator.compare(a, b), "errors")
        #expect(errors.unit == .points)
        #expect(abs(errors.change + 0.2) < 0.01)
        #expect(errors.verdict == .better)
    }

    @Test func runsShorterThanThreeSecondsGetNoVerdict() throws {
        let (a, _) = syntheticRun(seconds: 2, rps: 100, latencyMs: 10, seed: 9)
        let (b, _) = syntheticRun(seconds: 2, rps: 300, latencyMs: 10, seed: 10)
        #expect(try metric(RunComparator.compare(a, b), "req/s").verdict == .insufficient)
    }

    @Test func theSameInputGivesTheSameIntervals() {
        let (a, _) = syntheticRun(seconds: 10, rps: 100, latencyMs: 10, seed: 11)
        let (b, _) = syntheticRun(seconds: 10, rps: 120, latencyMs: 12, seed: 12)
        #expect(RunComparator.compare(a, b) == RunComparator.compare(a, b))
    }

    @Test func perNameQuantilesUseTheHistograms() throws {
        var (a, hA) = syntheticRun(seconds: 5, rps: 200, latencyMs: 20, seed: 13)
        var (b, hB) = syntheticRun(seconds: 5, rps: 200, latencyMs: 10, seed: 14)
        a.requestsByName = [
            NamedRequestStats(name: "GET /x", recorder: recorder(hA), duration: 5, skipped: 0, captureFailures: 0)
        ]
        b.requestsByName = [
            NamedRequestStats(name: "GET /x", recorder: recorder(hB), duration: 5, skipped: 0, captureFailures: 0)
        ]
        hA.byName = ["GET /x": hA.latency]
        hB.byName = ["GET /x": hB.latency]
        let c = RunComparator.compare(a, b, histogramsA: hA, histogramsB: hB)
        let named = try #require(c.byName.first)
        #expect(named.name == "GET /x")
        #expect(named.metrics.first { $0.metric == "p50 ms" }?.verdict == .better)
        #expect(named.metrics.first { $0.metric == "errors" }?.verdict == .noChange)
    }

    func recorder(_ h: RunHistograms) -> Recorder {
        var r = Recorder()
        r.latency = h.latency
        r.completed = Int(h.latency.totalCount)
        r.statusCounts[200] = r.completed
        return r
    }

    @Test func proportionsTest() {
        let same = RunComparator.proportions(
            "errors",
            errorsA: 10,
            nA: 1000,
            errorsB: 11,
            nB: 1000,
            minimumEffect: 0.02
        )
        #expect(same.verdict == .noChange)
        let worse = RunComparator.proportions(
            "errors",
            errorsA: 10,
            nA: 1000,
            errorsB: 80,
            nB: 1000,
            minimumEffect: 0.02
        )
        #expect(worse.verdict == .worse)
        let few = RunComparator.proportions("errors", errorsA: 1, nA: 5, errorsB: 4, nB: 5, minimumEffect: 0.02)
        #expect(few.verdict == .insufficient)
    }
}
