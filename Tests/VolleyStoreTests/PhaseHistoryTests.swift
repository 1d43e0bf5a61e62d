import Foundation
import Testing
import VolleyCore
import VolleyStore

@Suite struct PhaseHistoryTests {
    /// A synthetic run given phases, overall and for one request name.
    static func runWithPhases() -> RunSummary {
        var (summary, _) = SyntheticRun.make(seed: 11, seconds: 3)
        var phases = Recorder(slowestCapacity: 0)
        for i in 0..<500 as Range<UInt64> {
            phases.recordPhases(
                PhaseSample(
                    dnsNanos: i == 0 ? 4_000_000 : nil,
                    connectNanos: i % 50 == 0 ? 1_500_000 : nil,
                    tlsNanos: i % 50 == 0 ? 25_000_000 : nil,
                    sendNanos: 80_000,
                    waitNanos: (5 + i % 20) * 1_000_000,
                    receiveNanos: 3_000_000
                )
            )
        }
        let stats = NamedRequestStats(name: "GET /a", recorder: phases, duration: 3, skipped: 0, captureFailures: 0)
        summary.phases = stats.phases
        summary.requestsByName = [stats]
        return summary
    }

    @Test func aSavedRunKeepsItsPhases() throws {
        let home = temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = try HistoryStore(directory: home)
        let summary = Self.runWithPhases()
        #expect(summary.phases?.newConnections == 10)
        let id = try store.save(record(summary), histograms: nil)
        let back = try store.load(id).record.summary
        #expect(back.phases == summary.phases)
        #expect(back.requestsByName?.first?.phases == summary.phases)
        #expect(back == summary)
    }

    @Test func aSavedRunKeepsItsPhaseHistogramsExactly() throws {
        let home = temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = try HistoryStore(directory: home)
        var (summary, histograms) = SyntheticRun.make(seed: 13, seconds: 2)
        var recorder = Recorder(slowestCapacity: 0)
        for i in 0..<300 as Range<UInt64> {
            recorder.recordPhases(
                PhaseSample(
                    connectNanos: i % 30 == 0 ? 1_200_000 : nil,
                    sendNanos: 50_000,
                    waitNanos: (3 + i % 17) * 1_000_000,
                    receiveNanos: 700_000
                )
            )
        }
        histograms.phases = recorder.phases.byPhase
        summary.phases = PhaseSummary(recorder.phases)
        let id = try store.save(record(summary), histograms: histograms)
        let back = try #require(try store.load(id).histograms)
        #expect(Set(back.phases.keys) == [.connect, .send, .wait, .receive])
        for (phase, h) in histograms.phases {
            let loaded = try #require(back.phases[phase])
            #expect(loaded.totalCount == h.totalCount)
            for p in [50.0, 90, 99, 100] {
                #expect(loaded.valueAtPercentile(p) == h.valueAtPercentile(p), "\(phase) p\(p)")
            }
        }
    }

    @Test func aRunSavedBeforePhasesLoadsWithout() throws {
        let home = temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = try HistoryStore(directory: home)
        let (summary, _) = SyntheticRun.make(seed: 12, seconds: 2)
        #expect(summary.phases == nil)
        let id = try store.save(record(summary), histograms: nil)
        #expect(try store.load(id).record.summary.phases == nil)
    }
}
