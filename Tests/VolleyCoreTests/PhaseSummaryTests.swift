import Foundation
import Testing
import VolleyCore

/// Within the histograms' 0.1 % (three significant digits): HDR reports a bucket's top.
func near(_ value: Double?, _ expected: Double) -> Bool {
    guard let value else { return false }
    return abs(value - expected) <= expected * 0.001
}

@Suite struct PhaseSummaryTests {
    private static let ms: UInt64 = 1_000_000

    /// 12 connections opened (TLS 30 ms, connect 2 ms, no lookup) for 1,200 requests whose
    /// waits are 1…100 ms, receives 4 ms.
    private func recorder() -> Recorder {
        var r = Recorder()
        for i in 0..<1200 as Range<UInt64> {
            let opens = i % 100 == 0
            r.recordResponse(
                status: 200,
                latencyNanos: 50 * Self.ms,
                serviceNanos: nil,
                bytesIn: 10,
                requestID: "r",
                completedAtNanos: i
            )
            r.recordPhases(
                PhaseSample(
                    connectNanos: opens ? 2 * Self.ms : nil,
                    tlsNanos: opens ? 30 * Self.ms : nil,
                    sendNanos: 100_000,
                    waitNanos: (1 + i % 100) * Self.ms,
                    receiveNanos: 4 * Self.ms
                )
            )
        }
        return r
    }

    private func summary(_ r: Recorder) -> RunSummary {
        RunSummary(
            target: "http://127.0.0.1:1/",
            method: "GET",
            model: .closed(connections: 12, limit: .requests(1200)),
            threads: 1,
            recorder: r,
            duration: 1,
            timeline: [],
            interrupted: false
        )
    }

    @Test func summaryReadsEachPhaseFromItsHistogram() throws {
        let phases = try #require(summary(recorder()).phases)
        #expect(phases.requests == 1200)
        #expect(phases.newConnections == 12)
        #expect(phases.reuseRate == 0.99)
        #expect(phases.dns == nil)
        let wait = try #require(phases.wait)
        #expect(wait.count == 1200)
        #expect(near(wait.p50Ms, 50))
        #expect(near(wait.p90Ms, 90))
        #expect(near(wait.p95Ms, 95))
        #expect(near(wait.p99Ms, 99))
        #expect(near(wait.maxMs, 100))
        #expect(abs(wait.meanMs - 50.5) < 0.1)
        #expect(phases.tls?.count == 12)
        #expect(near(phases.tls?.p99Ms, 30))
        #expect(near(phases.connect?.maxMs, 2))
        #expect(near(phases.receive?.p50Ms, 4))
        #expect(near(phases.send?.maxMs, 0.1))
    }

    @Test func noPhasesNoSummary() {
        #expect(summary(Recorder()).phases == nil)
        let named = NamedRequestStats(
            name: "GET /",
            recorder: Recorder(slowestCapacity: 0),
            duration: 1,
            skipped: 0,
            captureFailures: 0
        )
        #expect(named.phases == nil)
    }

    @Test func perNameStatsCarryTheirPhases() throws {
        let named = NamedRequestStats(name: "GET /", recorder: recorder(), duration: 1, skipped: 0, captureFailures: 0)
        let phases = try #require(named.phases)
        #expect(phases.newConnections == 12)
        #expect(near(phases.wait?.p99Ms, 99))
    }

    @Test func jsonKeys() throws {
        let data = try JSONEncoder().encode(summary(recorder()))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let phases = try #require(object["phases"] as? [String: Any])
        #expect(
            Set(phases.keys) == [
                "requests", "new_connections", "reuse_rate", "connect", "tls", "send", "wait", "receive",
            ]
        )
        let wait = try #require(phases["wait"] as? [String: Any])
        #expect(Set(wait.keys) == ["count", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"])
        #expect(near(wait["p95_ms"] as? Double, 95))
        #expect(phases["reuse_rate"] as? Double == 0.99)
    }

    @Test func aSummarySavedBeforePhasesStillDecodes() throws {
        var json = String(decoding: try JSONEncoder().encode(summary(Recorder())), as: UTF8.self)
        #expect(!json.contains("\"phases\""))
        json = json.replacingOccurrences(of: "\"reconnects\":0,", with: "")
        let decoded = try JSONDecoder().decode(RunSummary.self, from: Data(json.utf8))
        #expect(decoded.phases == nil)
        let withPhases = summary(recorder())
        let roundTrip = try JSONDecoder().decode(RunSummary.self, from: JSONEncoder().encode(withPhases))
        #expect(roundTrip.phases == withPhases.phases)
    }
}
