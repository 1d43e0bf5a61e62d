import Foundation
import Testing
import VolleyCore
import VolleyStore

/// `volley show` reads a saved run back: its phases must come back with it.
@Suite struct PhaseShowTests {
    @Test func showPrintsTheSavedPhases() throws {
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        var (summary, _) = SyntheticRun.make(seed: 21, seconds: 2)
        var r = Recorder(slowestCapacity: 0)
        for i in 0..<400 as Range<UInt64> {
            r.recordPhases(
                PhaseSample(
                    connectNanos: i % 100 == 0 ? 2_000_000 : nil,
                    sendNanos: 50_000,
                    waitNanos: 20_000_000,
                    receiveNanos: 40_000_000
                )
            )
        }
        summary.phases = PhaseSummary(r.phases)
        let store = try HistoryStore(directory: home)
        let id = try store.save(
            RunRecord(
                startedAt: Date(),
                label: "phases",
                kind: "url",
                target: summary.target,
                plan: nil,
                command: ["run", summary.target],
                environment: RunEnvironment(
                    host: "test",
                    cores: 2,
                    os: "linux",
                    volleyVersion: "0",
                    gitCommit: nil,
                    workingDirectory: "/"
                ),
                summary: summary,
                exitCode: 0
            ),
            histograms: nil
        )
        let show = try runVolley(["show", String(id)], home: home)
        #expect(show.status == 0)
        #expect(show.stdout.contains("Phases (ms)"))
        #expect(show.stdout.contains("connections reused: 99.00% (4 new for 400 requests)"))
        let json = try runVolley(["show", String(id), "--json"], home: home)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let phases = try #require(object["phases"] as? [String: Any])
        #expect(phases["new_connections"] as? Int == 4)
        #expect((phases["receive"] as? [String: Any])?["count"] as? Int == 400)
    }
}
