import Foundation
import Histogram
import Testing
import VolleyCore

@testable import VolleyAnalysis

/// Issue 18's exactness proof on synthetic data: values split over segments, written as
/// bundles, read back and merged give the histogram — and the summary — of one machine that
/// recorded them all, bucket by bucket.
@Suite struct BundleMergeTests {
    /// Latency-like values in µs: mostly around a millisecond, a long tail to seconds.
    private func values(_ n: Int, seed: UInt64) -> [UInt64] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in
            let u = Double(rng.next() >> 11) / Double(1 << 53)
            let tail = Double(rng.next() % 1000) < 3 ? 1000.0 : 1.0
            // From 10,007 µs: where buckets are 8 µs wide, so the exact extremes matter.
            return UInt64(max(1, 10_007 + (200 + 1800 * u * u) * tail))
        }
    }

    private func recorder(_ latencies: [UInt64], status: Int = 200) -> Recorder {
        var r = Recorder(slowestCapacity: 0)
        for (i, us) in latencies.enumerated() {
            r.recordResponse(
                status: status,
                latencyNanos: us * 1000,
                serviceNanos: us * 1000,
                bytesIn: 100,
                requestID: "r\(i)",
                completedAtNanos: 0
            )
            r.recordSend(bytes: 50, lagNanos: nil)
            r.recordPhases(PhaseSample(sendNanos: 1000, waitNanos: us * 900, receiveNanos: us * 100))
        }
        return r
    }

    private func bundle(
        _ r: Recorder,
        segment: Int,
        of count: Int,
        startNanos: Int64 = 1_000_000_000_000,
        kind: String = "plan",
        runKey: String = "k",
        thresholds: [Threshold] = [],
        byName: [String: Recorder] = [:],
        timeline: [TimelineEntry] = []
    ) throws -> ResultBundle {
        var summary = RunSummary(
            target: "http://127.0.0.1:1",
            method: "GET",
            model: .closed(connections: 4, limit: .duration(.seconds(1))),
            threads: 1,
            recorder: r,
            duration: 1,
            timeline: timeline,
            interrupted: false
        )
        summary.segment = "\(segment)/\(count)"
        summary.requestsByName = byName.keys.sorted().map {
            NamedRequestStats(name: $0, recorder: byName[$0]!, duration: 1, skipped: 0, captureFailures: 0)
        }
        return ResultBundle(
            runKey: runKey,
            kind: kind,
            segment: try ExecutionSegment(index: segment, count: count),
            startedAtUnixNanos: startNanos,
            summary: summary,
            thresholds: thresholds,
            overall: r,
            byName: byName
        )
    }

    /// Through the file format: encoded to JSON and read back as `volley merge` reads it.
    private func throughFile(_ b: ResultBundle) throws -> BundleMerge.Input {
        BundleMerge.Input(try ResultBundle.decode(try b.encoded(), path: "seg-\(b.segmentIndex).json"), source: "seg")
    }

    @Test func splitEncodeDecodeMergeIsOneHistogramBucketByBucket() throws {
        let all = values(100_000, seed: 18)
        let whole = recorder(all)
        var parts: [[UInt64]] = [[], [], []]
        var rng = SplitMix64(seed: 7)
        for v in all { parts[Int(rng.next() % 3)].append(v) }
        let inputs = try parts.enumerated().map { i, p in try throughFile(try bundle(recorder(p), segment: i, of: 3)) }
        let merged = try BundleMerge.merge(inputs)
        let h = merged.histograms.latency
        #expect(h.totalCount == whole.latency.totalCount)
        #expect(h.min == whole.latency.min)
        #expect(h.maxRecorded == whole.latency.maxRecorded)
        let a = whole.latency.recordedValues().map { [$0.value, $0.count] }
        let b = h.recordedValues().map { [$0.value, $0.count] }
        #expect(a == b)
        for p in stride(from: 0.0, through: 100.0, by: 0.5) {
            #expect(h.valueAtPercentile(p) == whole.latency.valueAtPercentile(p), "p\(p)")
        }
        // The summary's figures: the same code on the same histogram, so equal to the last digit.
        let single = RunSummary(
            target: "t",
            method: "GET",
            model: .closed(connections: 4, limit: .duration(.seconds(1))),
            threads: 1,
            recorder: whole,
            duration: 1,
            timeline: [],
            interrupted: false
        )
        #expect(merged.summary.latencyMs == single.latencyMs)
        #expect(merged.summary.phases == single.phases)
        #expect(merged.summary.completed == 100_000)
        #expect(merged.summary.status == ["200": 100_000])
        #expect(merged.summary.bytesOut == single.bytesOut)
        #expect(merged.summary.distributed?.merged == [0, 1, 2])
    }

    @Test func aBundleHistogramKeepsTheExactExtremes() throws {
        var h = LatencyHistogram.make()
        for v: UInt64 in [123_457, 500_001, 99_999_999, 777_777] { _ = h.record(v) }
        let back = try BundleHistogram(h).histogram()
        #expect(h.lowestEquivalentForValue(123_457) != 123_457)
        #expect(back.min == 123_457)
        #expect(back.maxRecorded == 99_999_999)
        #expect(back.totalCount == 4)
        #expect(back.valueAtPercentile(100) == h.valueAtPercentile(100))
        // One value: min and max are the same count.
        var one = LatencyHistogram.make()
        _ = one.record(4321)
        let oneBack = try BundleHistogram(one).histogram()
        #expect(oneBack.totalCount == 1 && oneBack.min == 4321 && oneBack.maxRecorded == 4321)
        // Its hdr is the standard "HISTF…" string other HDR tools read.
        #expect(BundleHistogram(h).hdr.hasPrefix("HISTF"))
    }

    @Test func thresholdsAreJudgedOnTheWholeRunNotPerSegment() throws {
        // Segment 1 alone has 6 % slow requests (its p95 fails); the whole run has 3 % (passes).
        let fast = recorder(Array(repeating: 1000, count: 1000))
        let mixed = recorder(Array(repeating: 1000, count: 940) + Array(repeating: 500_000, count: 60))
        let t = Threshold(
            metric: .latencyPercentile(95),
            comparison: .lessThan,
            value: 50,
            expression: "p(95) < 50ms"
        )
        let seg1 = try bundle(mixed, segment: 1, of: 2, thresholds: [t])
        let alone = t.evaluate(overall: mixed, byName: [:], checkPasses: 0, checkFails: 0, duration: 1)
        #expect(!alone.passed)
        let merged = try BundleMerge.merge([
            try throughFile(try bundle(fast, segment: 0, of: 2, thresholds: [t])), try throughFile(seg1),
        ])
        #expect(merged.summary.thresholds?.count == 1)
        #expect(merged.summary.thresholds?.first?.passed == true)
        #expect(merged.summary.thresholds?.first?.actual == 1.0)
    }

    @Test func perNameRecordersMergeByName() throws {
        let a = recorder([1000, 2000])
        let b = recorder([3000], status: 503)
        let merged = try BundleMerge.merge([
            try throughFile(try bundle(a, segment: 0, of: 2, byName: ["GET /a": a])),
            try throughFile(try bundle(b, segment: 1, of: 2, byName: ["GET /a": b])),
        ])
        let named = try #require(merged.summary.requestsByName?.first)
        #expect(named.name == "GET /a")
        #expect(named.requests == 3)
        #expect(named.status == ["200": 2, "503": 1])
        #expect(merged.summary.errors == 1)
    }

    @Test func bundlesOfOtherRunsAreRefused() throws {
        let r = recorder([1000])
        let b0 = try throughFile(try bundle(r, segment: 0, of: 2))
        let other = try throughFile(try bundle(r, segment: 1, of: 2, runKey: "another"))
        #expect(throws: InputError.self) { try BundleMerge.merge([b0, other]) }
        let twice = try throughFile(try bundle(r, segment: 0, of: 2))
        let error = #expect(throws: InputError.self) { try BundleMerge.merge([b0, twice]) }
        #expect(error?.message.contains("given twice") == true)
        let missing = #expect(throws: InputError.self) { try BundleMerge.merge([b0]) }
        #expect(missing?.message.contains("segment 1 of 2 missing") == true)
        let partial = try BundleMerge.merge([b0], allowMissing: true, missingReasons: [1: "connection closed"])
        #expect(partial.summary.distributed?.missing == [1])
        #expect(partial.summary.distributed?.missingReasons?["1"] == "connection closed")
    }

    @Test func aDamagedOrForeignFileSaysWhatItIs() throws {
        #expect(throws: InputError.self) { try ResultBundle.decode(Data("hello".utf8), path: "x.json") }
        let foreign = try #require(
            #expect(throws: InputError.self) { try ResultBundle.decode(Data("{\"a\":1}".utf8), path: "x.json") }
        )
        #expect(foreign.message.contains("not a Volley result bundle"))
        var data = try bundle(recorder([1000]), segment: 0, of: 1).encoded()
        var text = String(decoding: data, as: UTF8.self)
        text = text.replacingOccurrences(of: "\"hdr\":\"HISTF", with: "\"hdr\":\"XISTF")
        data = Data(text.utf8)
        let input = BundleMerge.Input(try ResultBundle.decode(data, path: "x.json"), source: "x.json")
        let damaged = #expect(throws: InputError.self) { try BundleMerge.merge([input]) }
        #expect(damaged?.message.contains("histogram") == true)
    }

    @Test func timelinesAreRebinnedOnTheEarliestStart() throws {
        func entry(_ t: Double, completed: Int) -> TimelineEntry {
            var s = IntervalStats()
            s.completed = completed
            return TimelineEntry(t: t, seconds: 1, stats: s)
        }
        let r = recorder([1000])
        // Segment 1 started 4 ms after segment 0: its seconds still land in the same bins.
        let b0 = try bundle(r, segment: 0, of: 2, timeline: [entry(1, completed: 10), entry(2, completed: 20)])
        let b1 = try bundle(
            r,
            segment: 1,
            of: 2,
            startNanos: 1_000_004_000_000,
            timeline: [entry(1, completed: 1), entry(2, completed: 2), entry(2.5, completed: 3)]
        )
        let merged = try BundleMerge.merge([try throughFile(b0), try throughFile(b1)])
        let timeline = merged.summary.timeline
        #expect(timeline.map(\.completed) == [11, 22, 3])
        #expect(zip(timeline.map(\.t), [1, 2, 2.504]).allSatisfy { abs($0 - $1) < 1e-9 })
        #expect(abs((merged.summary.distributed?.startSkewMs ?? 0) - 4) < 1e-9)
    }
}
