import Foundation
import Histogram
import VolleyCore

/// Merges the result bundles of a run's segments into the one run they are parts of
/// (`volley merge`, and segment 0 at the end of a rendezvous): histograms added bucket by
/// bucket, counters summed, the timeline re-binned on the earliest start, and the summary and
/// thresholds computed by the same code as a single run's (``RunSummary``'s recorder
/// initialiser, ``Threshold/evaluate(overall:byName:checkPasses:checkFails:duration:)``).
public enum BundleMerge {
    /// A merged run.
    public struct Merged: Sendable {
        public var summary: RunSummary
        public var histograms: RunHistograms
        /// "url" or "plan".
        public var kind: String
        /// The earliest segment's time zero, on segment 0's clock.
        public var startedAt: Date
    }

    /// A bundle and where it came from (the path, for errors).
    public struct Input: Sendable {
        public var bundle: ResultBundle
        public var source: String

        public init(_ bundle: ResultBundle, source: String) {
            self.bundle = bundle
            self.source = source
        }
    }

    /// Merges `inputs`. Bundles of different runs, versions or segment counts, and the same
    /// segment twice, are refused. Missing segments are refused unless `allowMissing` (a
    /// segment died: what finished is kept, and the summary says what is missing).
    public static func merge(
        _ inputs: [Input],
        allowMissing: Bool = false,
        missingReasons: [Int: String] = [:]
    ) throws(InputError) -> Merged {
        let ordered = try validated(inputs, allowMissing: allowMissing)
        let bundles = ordered.map(\.bundle)
        let first = bundles[0]
        let reference = bundles.map(\.startOnReferenceClock).min()!
        let offsets = bundles.map { Double($0.startOnReferenceClock - reference) / 1e9 }

        var overall = Recorder(slowestCapacity: 0)
        var byName: [String: Recorder] = [:]
        var groups: [String: Histogram<UInt64>] = [:]
        for b in bundles {
            overall.merge(try b.overall.recorder())
            for (name, data) in b.byName.sorted(by: { $0.key < $1.key }) {
                byName[name, default: Recorder(slowestCapacity: 0)].merge(try data.recorder())
            }
            for (name, h) in b.groups.sorted(by: { $0.key < $1.key }) {
                groups[name, default: LatencyHistogram.make()].add(try h.histogram())
            }
        }
        let duration = zip(bundles, offsets).map { $0.summary.durationS + $1 }.max() ?? 0
        let timeline = try Timeline.rebin(bundles, offsets: offsets)
        let head = first.summary
        var summary = RunSummary(
            target: head.target,
            method: head.method,
            modelName: head.model,
            connections: head.connections,
            rate: head.rate,
            maxConnections: head.maxConnections,
            threads: bundles.reduce(0) { $0 + $1.summary.threads },
            recorder: overall,
            duration: duration,
            timeline: timeline,
            interrupted: bundles.contains { $0.summary.interrupted }
        )
        let summaries = bundles.map(\.summary)
        Samples.fill(&summary, from: summaries, offsets: offsets)
        summary.plan = head.plan
        summary.abortedBy = summaries.compactMap(\.abortedBy).first
        if first.kind == "plan" {
            summary.requestsByName = named(summaries, byName: byName, duration: duration)
            summary.checks = Counts.checks(summaries)
            summary.iterations = Counts.iterations(summaries)
            let groupStats = Counts.order(summaries.map { ($0.groups ?? []).map(\.name) }).compactMap { name in
                groups[name].map { GroupStats(name: name, histogram: $0) }
            }
            summary.groups = groupStats.isEmpty ? nil : groupStats
            summary.thresholds = judge(
                first.thresholds,
                summaries,
                overall: overall,
                byName: byName,
                duration: duration
            )
        }
        summary.probes = Samples.probes(summaries)
        summary.health = summaries.compactMap(\.health).first
        let indices = bundles.map(\.segmentIndex)
        summary.distributed = DistributedInfo(
            segmentCount: first.segmentCount,
            merged: indices,
            missing: (0..<first.segmentCount).filter { !indices.contains($0) },
            missingReasons: missingReasons.isEmpty
                ? nil : Dictionary(uniqueKeysWithValues: missingReasons.map { (String($0.key), $0.value) }),
            startSkewMs: (offsets.max() ?? 0) * 1000,
            segments: zip(bundles, offsets).map { b, offset in
                SegmentTiming(
                    index: b.segmentIndex,
                    clockOffsetMs: Double(b.clockOffsetNanos) / 1e6,
                    clockRTTMs: b.clockRTTNanos.map { Double($0) / 1e6 },
                    startOffsetMs: offset * 1000,
                    durationS: b.summary.durationS,
                    requests: b.summary.requests
                )
            }
        )
        summary.findings = Diagnosis.diagnose(summary)
        let histograms = RunHistograms(
            latency: overall.latency,
            serviceTime: overall.serviceTime,
            byName: byName.mapValues(\.latency),
            phases: overall.phases.byPhase
        )
        return Merged(
            summary: summary,
            histograms: histograms,
            kind: first.kind,
            startedAt: Date(timeIntervalSince1970: Double(reference) / 1e9)
        )
    }

    /// The bundles in segment order, once each, all of one run.
    static func validated(_ inputs: [Input], allowMissing: Bool) throws(InputError) -> [Input] {
        guard let first = inputs.first else {
            throw InputError("no bundle to merge", hint: "volley merge segment-0.json segment-1.json …")
        }
        let b0 = first.bundle
        var seen: [Int: String] = [:]
        for input in inputs {
            let b = input.bundle
            if b.volleyVersion != b0.volleyVersion {
                throw InputError(
                    "\(input.source) was written by volley \(b.volleyVersion), \(first.source) by volley \(b0.volleyVersion)",
                    hint: "run every segment with the same volley version"
                )
            }
            if b.runKey != b0.runKey || b.kind != b0.kind {
                throw InputError(
                    "\(input.source) is from another run than \(first.source) (run key \(b.runKey) ≠ \(b0.runKey): another plan, other load flags or another segment count)",
                    hint: "merge the bundles of one run: the same plan file and flags on every segment"
                )
            }
            if b.segmentCount != b0.segmentCount {
                throw InputError(
                    "\(input.source) is segment \(b.segmentIndex)/\(b.segmentCount), \(first.source) is of \(b0.segmentCount) segments",
                    hint: "merge the bundles of one run"
                )
            }
            guard b.segmentIndex >= 0, b.segmentIndex < b.segmentCount else {
                throw InputError("\(input.source) names segment \(b.segmentIndex) of \(b.segmentCount)", hint: nil)
            }
            if let other = seen[b.segmentIndex] {
                throw InputError(
                    "segment \(b.segmentIndex)/\(b.segmentCount) is given twice: \(other) and \(input.source)",
                    hint: "give each segment's bundle once"
                )
            }
            seen[b.segmentIndex] = input.source
        }
        let missing = (0..<b0.segmentCount).filter { seen[$0] == nil }
        if !missing.isEmpty && !allowMissing {
            throw InputError(
                "segment\(missing.count > 1 ? "s" : "") \(missing.map(String.init).joined(separator: ", ")) of \(b0.segmentCount) missing: the merged counts would not be the whole run's",
                hint:
                    "give every segment's bundle, or --allow-missing to merge what finished (the result says what is missing)"
            )
        }
        return inputs.sorted { $0.bundle.segmentIndex < $1.bundle.segmentIndex }
    }

    /// Per request name, in the order the segments listed them: the same initialiser as the
    /// engine's, on the merged recorder.
    static func named(
        _ summaries: [RunSummary],
        byName: [String: Recorder],
        duration: Double
    ) -> [NamedRequestStats] {
        let order = Counts.order(summaries.map { ($0.requestsByName ?? []).map(\.name) })
        return order.map { name in
            let parts = summaries.compactMap { $0.requestsByName?.first { $0.name == name } }
            var stats = NamedRequestStats(
                name: name,
                recorder: byName[name] ?? Recorder(slowestCapacity: 0),
                duration: duration,
                skipped: parts.reduce(0) { $0 + $1.skipped },
                captureFailures: parts.reduce(0) { $0 + $1.captureFailures }
            )
            stats.skipReason = parts.compactMap(\.skipReason).first
            stats.errorSamples = Samples.errors(parts.map(\.errorSamples))
            return stats
        }
    }

    /// The plan's thresholds judged on the merged recorders; probe thresholds (judged where
    /// the probes ran) carried over, failed if they failed on any segment.
    static func judge(
        _ thresholds: [BundleThreshold],
        _ summaries: [RunSummary],
        overall: Recorder,
        byName: [String: Recorder],
        duration: Double
    ) -> [ThresholdResult]? {
        let checks = Counts.checks(summaries)
        let passes = checks.reduce(0) { $0 + $1.passes }
        let fails = checks.reduce(0) { $0 + $1.fails }
        var results = thresholds.map {
            $0.threshold.evaluate(
                overall: overall,
                byName: byName,
                checkPasses: passes,
                checkFails: fails,
                duration: duration
            )
        }
        let own = Set(thresholds.map { "\($0.expression)|\($0.request ?? "")" })
        var probeResults: [ThresholdResult] = []
        for s in summaries {
            for t in s.thresholds ?? [] where !own.contains("\(t.expression)|\(t.request ?? "")") {
                if let i = probeResults.firstIndex(where: { $0.expression == t.expression && $0.request == t.request })
                {
                    if !t.passed && probeResults[i].passed { probeResults[i] = t }
                } else {
                    probeResults.append(t)
                }
            }
        }
        results += probeResults
        return results.isEmpty ? nil : results
    }
}
