import Histogram
import VolleyCore

extension BundleMerge {
    /// The one-second timeline of a merged run.
    enum Timeline {
        /// Each segment's entries moved onto the earliest segment's time zero (`offsets`, s)
        /// and added into the one-second bin that holds most of their interval: counts and
        /// gauges summed, interval histograms merged, CPU summed over machines (the busiest
        /// loop and the busiest host as maxima).
        static func rebin(
            _ bundles: [ResultBundle],
            offsets: [Double]
        ) throws(InputError)
            -> [TimelineEntry]
        {
            struct Bin {
                var stats = IntervalStats()
                var end = 0.0
                var cpu: Double?
                var loopCPU: Double?
                var hostCPU: Double?
            }
            var bins: [Int: Bin] = [:]
            for (b, offset) in zip(bundles, offsets) {
                var previous = 0.0
                for (k, entry) in b.summary.timeline.enumerated() {
                    let middle = (previous + entry.t) / 2 + offset
                    previous = entry.t
                    let index = max(1, Int(middle.rounded(.down)) + 1)
                    var bin = bins[index] ?? Bin()
                    var s = IntervalStats()
                    s.completed = entry.completed
                    s.failed = entry.failed
                    s.errors = entry.errors
                    s.bytesIn = entry.bytesIn
                    s.bytesOut = entry.bytesOut
                    if k < b.intervals.count, let h = b.intervals[k] { s.latency = try h.histogram() }
                    s.inFlight = entry.inFlight
                    s.openConnections = entry.connections
                    s.vus = entry.vus
                    s.waiting = entry.waiting
                    s.serverErrors = entry.serverErrors ?? 0
                    s.sentLate = entry.sentLate ?? 0
                    s.scheduleLagMaxMicros = UInt64(max(0, (entry.scheduleLagMaxMs ?? 0) * 1000))
                    s.loopLagMicros = UInt64(max(0, (entry.loopLagMs ?? 0) * 1000))
                    bin.stats.merge(s)
                    bin.end = max(bin.end, entry.t + offset)
                    if let c = entry.generatorCPUPercent { bin.cpu = (bin.cpu ?? 0) + c }
                    if let c = entry.loopCPUMaxPercent { bin.loopCPU = max(bin.loopCPU ?? 0, c) }
                    if let c = entry.hostCPUPercent { bin.hostCPU = max(bin.hostCPU ?? 0, c) }
                    bins[index] = bin
                }
            }
            var out: [TimelineEntry] = []
            var last = 0.0
            for index in bins.keys.sorted() {
                let bin = bins[index]!
                let t = max(min(Double(index), bin.end), last)
                var entry = TimelineEntry(t: t, seconds: t - last, stats: bin.stats)
                entry.generatorCPUPercent = bin.cpu.map { ($0 * 10).rounded() / 10 }
                entry.loopCPUMaxPercent = bin.loopCPU
                entry.hostCPUPercent = bin.hostCPU
                out.append(entry)
                last = t
            }
            return out
        }
    }

    /// Counts that are summed, in the order the segments first listed their names.
    enum Counts {
        static func order(_ lists: [[String]]) -> [String] {
            var seen = Set<String>()
            var out: [String] = []
            for list in lists {
                for name in list where seen.insert(name).inserted { out.append(name) }
            }
            return out
        }

        static func checks(_ summaries: [RunSummary]) -> [CheckResult] {
            let names = order(summaries.map { ($0.checks ?? []).map(\.name) })
            return names.map { name in
                var merged = CheckResult(name: name, passes: 0, fails: 0)
                for s in summaries {
                    for c in s.checks ?? [] where c.name == name {
                        merged.passes += c.passes
                        merged.fails += c.fails
                    }
                }
                return merged
            }
        }

        static func iterations(_ summaries: [RunSummary]) -> IterationStats? {
            let all = summaries.compactMap(\.iterations)
            guard !all.isEmpty else { return nil }
            return IterationStats(
                completed: all.reduce(0) { $0 + $1.completed },
                interrupted: all.reduce(0) { $0 + $1.interrupted },
                dropped: all.reduce(0) { $0 + $1.dropped }
            )
        }
    }

    /// What is kept as examples rather than counted: bounded as on one machine.
    enum Samples {
        static func fill(_ summary: inout RunSummary, from summaries: [RunSummary], offsets: [Double]) {
            summary.errorSamples = errors(summaries.map(\.errorSamples))
            var transport: [String: String] = [:]
            for s in summaries { transport.merge(s.transportErrorSamples) { a, _ in a } }
            summary.transportErrorSamples = transport
            let captures = perRequest(summaries.flatMap { $0.captureFailureSamples ?? [] }, \.request)
            summary.captureFailureSamples = captures.isEmpty ? nil : captures
            let decodes = perRequest(summaries.flatMap { $0.decodeFailureSamples ?? [] }, \.request)
            summary.decodeFailureSamples = decodes.isEmpty ? nil : decodes
            let capacity = summaries.map(\.slowest.count).max() ?? 0
            var slowest: [SlowestEntry] = []
            for (s, offset) in zip(summaries, offsets) {
                for var entry in s.slowest {
                    entry.atS += offset
                    slowest.append(entry)
                }
            }
            slowest.sort { $0.latencyMs > $1.latencyMs }
            summary.slowest = Array(slowest.prefix(capacity))
        }

        /// Distinct excerpts per status, counts added, at most ``ResponseSamples/maxPerKey``.
        static func errors(_ all: [[String: [ErrorSample]]?]) -> [String: [ErrorSample]]? {
            var out: [String: [ErrorSample]] = [:]
            for samples in all {
                for (code, list) in samples ?? [:] {
                    var merged = out[code] ?? []
                    for sample in list {
                        if let i = merged.firstIndex(where: { $0.excerpt == sample.excerpt }) {
                            merged[i].count = (merged[i].count ?? 1) + (sample.count ?? 1)
                        } else if merged.count < ResponseSamples.maxPerKey {
                            merged.append(sample)
                        }
                    }
                    out[code] = merged
                }
            }
            return out.isEmpty ? nil : out
        }

        static func perRequest<T>(_ all: [T], _ key: (T) -> String) -> [T] {
            var kept: [String: Int] = [:]
            return all.filter { sample in
                kept[key(sample), default: 0] += 1
                return kept[key(sample)]! <= ResponseSamples.maxPerKey
            }
        }

        /// Every segment's probes; when several segments probed, each series says whose it is.
        static func probes(_ summaries: [RunSummary]) -> [ProbeResult]? {
            let probing = summaries.filter { !($0.probes ?? []).isEmpty }
            guard !probing.isEmpty else { return nil }
            if probing.count == 1 { return probing[0].probes }
            return probing.flatMap { s in
                (s.probes ?? []).map { p in
                    var p = p
                    p.probe = "\(p.probe) (segment \(s.segment ?? "?"))"
                    return p
                }
            }
        }
    }
}
