import Testing
import VolleyCore

@testable import VolleyEngine

/// A plan's per-name recorders are Recorders, so phases recorded on them reach the per-name
/// summaries and thresholds through the same merges as latency.
@Suite struct ScenarioRecorderPhaseTests {
    private func sample(opens: Bool, waitMs: UInt64) -> PhaseSample {
        PhaseSample(
            connectNanos: opens ? 1_000_000 : nil,
            tlsNanos: opens ? 20_000_000 : nil,
            sendNanos: 10_000,
            waitNanos: waitMs * 1_000_000,
            receiveNanos: 1_000_000
        )
    }

    @Test func perNamePhasesSurviveTheLoopsMerge() throws {
        var names = NameTable()
        names.requests = ["GET /a", "GET /b", "GET /a"]  // ids 0 and 2 share a name
        var loops = [
            ScenarioRecorder(slowestCapacity: 0, names: names), ScenarioRecorder(slowestCapacity: 0, names: names),
        ]
        for (i, loop) in loops.indices.enumerated() {
            for n in 0..<10 {
                let s = sample(opens: n == 0, waitMs: UInt64(10 * (i + 1)))
                loops[loop].overall.recordPhases(s)
                loops[loop].withName(i == 0 ? 0 : 2) { $0.recordPhases(s) }
            }
        }
        var merged = ScenarioRecorder(slowestCapacity: 0, names: names)
        for l in loops { merged.merge(l) }
        #expect(merged.overall.phases.requests == 20)
        #expect(merged.byName[1] == nil, "a name never used allocates nothing")
        let byName = merged.recordersByName(names)
        let a = try #require(byName["GET /a"])
        #expect(a.phases.requests == 20)
        #expect(a.phases.newConnections == 2)
        #expect(a.phases.histogram(.tls)?.totalCount == 2)
        let stats = NamedRequestStats(name: "GET /a", recorder: a, duration: 1, skipped: 0, captureFailures: 0)
        #expect(stats.phases?.reuseRate == 0.9)
        #expect(stats.phases?.wait?.count == 20)
        let threshold = Threshold(
            metric: .phase(.wait, .max),
            comparison: .lessThan,
            value: 15,
            requestName: "GET /a",
            expression: "max of ttfb < 15ms"
        )
        let result = threshold.evaluate(
            overall: merged.overall,
            byName: byName,
            checkPasses: 0,
            checkFails: 0,
            duration: 1
        )
        #expect(result.passed == false)
        #expect(result.actual.map { ($0 - 20).magnitude < 0.05 } == true)
    }
}
