import Foundation
import Testing
import VolleyCore
import VolleyStore

func temporaryHome() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("volley-store-\(UUID().uuidString)").path
}

func record(_ summary: RunSummary, label: String? = nil, at date: Date = Date()) -> RunRecord {
    RunRecord(
        startedAt: date,
        label: label,
        kind: "url",
        target: summary.target,
        plan: nil,
        command: ["run", "x"],
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
    )
}

@Suite struct HistoryStoreTests {
    @Test func aSavedRunComesBackWholeWithItsHistograms() throws {
        let home = temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = try HistoryStore(directory: home)
        let (summary, histograms) = SyntheticRun.make(seed: 7, seconds: 30)
        let id = try store.save(record(summary, label: "cache on"), histograms: histograms)
        let back = try store.load(id)
        #expect(back.record.summary == summary)
        #expect(back.record.label == "cache on")
        #expect(back.record.command == ["run", "x"])
        let h = try #require(back.histograms)
        #expect(h.latency.totalCount == histograms.latency.totalCount)
        #expect(h.latency.valueAtPercentile(99) == histograms.latency.valueAtPercentile(99))
        #expect(h.serviceTime.valueAtPercentile(50) == histograms.serviceTime.valueAtPercentile(50))
    }

    @Test func perNameHistogramsAreKept() throws {
        let home = temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = try HistoryStore(directory: home)
        let (summary, base) = SyntheticRun.make(seed: 1, seconds: 5)
        var histograms = base
        histograms.byName = ["GET /a": base.latency, "POST /b": base.serviceTime]
        let id = try store.save(record(summary), histograms: histograms)
        let back = try #require(try store.load(id).histograms)
        #expect(back.byName.keys.sorted() == ["GET /a", "POST /b"])
        #expect(back.byName["POST /b"]?.totalCount == base.serviceTime.totalCount)
    }

    @Test func listingFiltersByLabelTargetAndDate() throws {
        let home = temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = try HistoryStore(directory: home)
        let (summary, _) = SyntheticRun.make(seed: 2, seconds: 2)
        let day: TimeInterval = 86_400
        let now = Date()
        try store.save(record(summary, label: "cache off", at: now.addingTimeInterval(-3 * day)), histograms: nil)
        try store.save(record(summary, label: "cache on", at: now.addingTimeInterval(-1 * day)), histograms: nil)
        try store.save(record(summary, label: "100%_sure", at: now), histograms: nil)
        #expect(try store.list().map(\.label) == ["cache off", "cache on", "100%_sure"])
        #expect(try store.list(HistoryFilter(label: "cache")).count == 2)
        #expect(try store.list(HistoryFilter(label: "%")).map(\.label) == ["100%_sure"])
        #expect(try store.list(HistoryFilter(target: "synthetic")).count == 3)
        #expect(try store.list(HistoryFilter(target: "nowhere")).isEmpty)
        #expect(try store.list(HistoryFilter(since: now.addingTimeInterval(-2 * day))).count == 2)
        #expect(try store.list(HistoryFilter(until: now.addingTimeInterval(-2 * day))).count == 1)
        #expect(try store.list(HistoryFilter(limit: 2)).map(\.label) == ["cache on", "100%_sure"])
    }

    @Test func referencesResolveAndBadOnesSayWhy() throws {
        let home = temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = try HistoryStore(directory: home)
        #expect(throws: HistoryError.self) { try store.resolve("last") }
        let (summary, _) = SyntheticRun.make(seed: 3, seconds: 2)
        let first = try store.save(record(summary), histograms: nil)
        let second = try store.save(record(summary), histograms: nil)
        #expect(try store.resolve("last") == second)
        #expect(try store.resolve("last~1") == first)
        #expect(try store.resolve("#\(first)") == first)
        #expect(try store.resolve(String(second)) == second)
        for bad in ["last~2", "abc", "0", "#", "last~x", "999"] {
            #expect(throws: HistoryError.self, "\(bad)") { try store.resolve(bad) }
        }
    }

    @Test func deleteRemovesTheRunAndItsHistograms() throws {
        let home = temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = try HistoryStore(directory: home)
        let (summary, histograms) = SyntheticRun.make(seed: 4, seconds: 2)
        let id = try store.save(record(summary), histograms: histograms)
        #expect(try store.delete(id))
        #expect(try !store.delete(id))
        #expect(throws: HistoryError.self) { try store.load(id) }
        #expect(try store.integrityCheck() == "ok")
    }

    @Test func reopeningMigratesNothingTwiceAndKeepsRuns() throws {
        let home = temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let (summary, _) = SyntheticRun.make(seed: 5, seconds: 2)
        do {
            let store = try HistoryStore(directory: home)
            try store.save(record(summary), histograms: nil)
        }
        let again = try HistoryStore(directory: home)
        #expect(try again.list().count == 1)
    }

    @Test func anUnwritableHomeIsAClearError() {
        #expect(throws: HistoryError.self) { try HistoryStore(directory: "/proc/volley-cannot-write-here") }
    }
}
