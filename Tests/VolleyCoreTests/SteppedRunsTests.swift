import Testing
import VolleyCore

/// Runs read together: the loaded seconds of one run, and probe series laid end to end.
@Suite struct SteppedRunsTests {
    /// `seconds` seconds; requests complete in `loaded` only; one probe series valued t·10.
    func run(seconds: Int, loaded: ClosedRange<Int>, probe: String = "pid:1") -> RunSummary {
        var timeline: [TimelineEntry] = []
        for second in 1...seconds {
            var stats = IntervalStats()
            if loaded.contains(second) {
                stats.completed = 100
                _ = stats.latency.record(10_000)
            }
            timeline.append(TimelineEntry(t: Double(second), seconds: 1, stats: stats))
        }
        var s = RunSummary(
            target: "http://127.0.0.1/",
            method: "GET",
            model: .closed(connections: 4, limit: .duration(.seconds(Int64(seconds)))),
            threads: 1,
            recorder: Recorder(),
            duration: Double(seconds),
            timeline: timeline,
            interrupted: false
        )
        s.probes = [
            ProbeResult(
                probe: probe,
                series: ["proc.threads": (0...seconds).map { [Double($0), Double($0 * 10)] }],
                failedScrapes: 1,
                kind: "process"
            )
        ]
        return s
    }

    @Test func theLoadedSpanStartsASecondBeforeTheFirstAnsweredSecond() {
        #expect(run(seconds: 6, loaded: 3...5).loadedSpan == 2...5)
        #expect(run(seconds: 4, loaded: 1...4).loadedSpan == 0...4)
    }

    @Test func probesAreLaidEndToEndWithWhereEachRunStarts() throws {
        let (probes, starts) = RunSummary.probesEndToEnd([
            run(seconds: 3, loaded: 1...3), run(seconds: 2, loaded: 1...2),
            run(seconds: 2, loaded: 1...2, probe: "pid:2"),
        ])
        #expect(starts == [0, 3, 5])
        #expect(probes.map(\.probe) == ["pid:1", "pid:2"])
        // The second run's readings (t 0…2) follow the first's (t 0…3), shifted by 3 s.
        let first = try #require(probes.first?.series["proc.threads"])
        #expect(first.map { $0[0] } == [0, 1, 2, 3, 3, 4, 5])
        #expect(first.map { $0[1] } == [0, 10, 20, 30, 0, 10, 20])
        #expect(probes.first?.failedScrapes == 2)
        #expect(probes.last?.series["proc.threads"]?.first == [5, 0])
    }
}
