import Foundation
import Histogram

/// One segment's results, written by `volley run --bundle FILE` and read by `volley merge`:
/// everything a summary is computed from, so that N segments merge into exactly the summary
/// one machine would have printed for the same requests.
///
/// Percentiles cannot be added, so the bundle keeps what the summary is computed from rather
/// than the summary's figures: every latency and phase histogram (overall, per request name,
/// per group, per one-second interval) in HdrHistogram's V2 compressed encoding — the
/// "HISTF…" strings every HDR implementation reads — and every counter. The segment's own
/// summary rides along for what is not added (the target, samples, probes).
///
/// The file is JSON (docs/distributed.md "The bundle format"); `format_version` changes
/// when a field changes meaning, and `volley merge` refuses versions it does not know.
public struct ResultBundle: Codable, Sendable, Equatable {
    public static let format = "volley-bundle"
    public static let formatVersion = 1

    public var format: String
    public var formatVersion: Int
    public var volleyVersion: String
    /// What makes two segments parts of the same run: a fingerprint of the plan's text (or of
    /// a URL run's load flags), the load's shape and the segment count (``RunKey``).
    public var runKey: String
    /// "url" or "plan".
    public var kind: String
    public var segmentIndex: Int
    public var segmentCount: Int
    /// The segment's time zero on its own wall clock (ns since 1970).
    public var startedAtUnixNanos: Int64
    /// This segment's clock minus segment 0's, measured at the rendezvous (ns); 0 without
    /// one. A start time on segment 0's clock is `startedAtUnixNanos - clockOffsetNanos`.
    public var clockOffsetNanos: Int64
    /// The round trip of the measurement that gave the offset (its uncertainty is half of it).
    public var clockRTTNanos: Int64?
    /// The segment's own summary: its share of the counts, its samples, its probes.
    public var summary: RunSummary
    /// The plan's thresholds (not its probe thresholds, judged where the probes ran), so that
    /// `volley merge` judges the merged run by the same rules without the plan file.
    public var thresholds: [BundleThreshold]
    public var overall: RecorderData
    /// Per request name (plans).
    public var byName: [String: RecorderData]
    /// Per group (plans): the durations of the group's blocks.
    public var groups: [String: BundleHistogram]
    /// One latency histogram per ``RunSummary/timeline`` entry, in the same order, so merged
    /// one-second percentiles are exact too.
    public var intervals: [BundleHistogram?]

    enum CodingKeys: String, CodingKey {
        case format
        case formatVersion = "format_version"
        case volleyVersion = "volley_version"
        case runKey = "run_key"
        case kind
        case segmentIndex = "segment_index"
        case segmentCount = "segment_count"
        case startedAtUnixNanos = "started_at_unix_ns"
        case clockOffsetNanos = "clock_offset_ns"
        case clockRTTNanos = "clock_rtt_ns"
        case summary, thresholds, overall
        case byName = "by_name"
        case groups, intervals
    }

    public init(
        runKey: String,
        kind: String,
        segment: ExecutionSegment,
        startedAtUnixNanos: Int64,
        clockOffsetNanos: Int64 = 0,
        clockRTTNanos: Int64? = nil,
        summary: RunSummary,
        thresholds: [Threshold],
        overall: Recorder,
        byName: [String: Recorder] = [:],
        groups: [String: Histogram<UInt64>] = [:],
        intervals: [BundleHistogram?] = []
    ) {
        format = Self.format
        formatVersion = Self.formatVersion
        volleyVersion = summary.volleyVersion
        self.runKey = runKey
        self.kind = kind
        segmentIndex = segment.index
        segmentCount = segment.count
        self.startedAtUnixNanos = startedAtUnixNanos
        self.clockOffsetNanos = clockOffsetNanos
        self.clockRTTNanos = clockRTTNanos
        self.summary = summary
        self.thresholds = thresholds.filter { !$0.isProbeThreshold }.map(BundleThreshold.init)
        self.overall = RecorderData(overall)
        self.byName = byName.mapValues(RecorderData.init)
        self.groups = groups.mapValues(BundleHistogram.init)
        self.intervals = intervals
    }

    /// The start on segment 0's clock (ns since 1970): what the segments' starts are compared on.
    public var startOnReferenceClock: Int64 { startedAtUnixNanos - clockOffsetNanos }

    /// The file's bytes (pretty enough to read, sorted keys so equal bundles are equal files).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// Reads a bundle, saying what is wrong with a file that is not one (`path` names it).
    public static func decode(_ data: Data, path: String) throws(InputError) -> ResultBundle {
        let probe: [String: Any]?
        probe = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        guard let probe else {
            throw InputError("\(path) is not a Volley result bundle (not JSON)", hint: Self.hint)
        }
        guard probe["format"] as? String == format else {
            throw InputError("\(path) is not a Volley result bundle (no \"format\": \"\(format)\")", hint: Self.hint)
        }
        guard let version = probe["format_version"] as? Int, version == formatVersion else {
            throw InputError(
                "\(path) is a bundle of format version \(probe["format_version"] ?? "?"); this volley reads version \(formatVersion)",
                hint: "merge with the volley version that wrote the bundles"
            )
        }
        do {
            return try JSONDecoder().decode(ResultBundle.self, from: data)
        } catch {
            throw InputError("\(path) is a damaged result bundle: \(Self.describe(error))", hint: Self.hint)
        }
    }

    static let hint = "bundles are written by volley run --bundle FILE (one per segment)"

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing \(Self.path(context.codingPath + [key]))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong value at \(Self.path(context.codingPath)): \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context):
            return "\(Self.path(context.codingPath)): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty
            ? "the top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

/// A histogram in a bundle: the V2 compressed encoding, plus the exact smallest and largest
/// values, which V2 rounds to their buckets but the summary's min, max and percentiles (a
/// percentile is clamped to them) read exactly.
public struct BundleHistogram: Codable, Sendable, Equatable {
    /// HdrHistogram V2 compressed, base64 ("HISTF…"), microseconds.
    public var hdr: String
    public var minMicros: UInt64
    public var maxMicros: UInt64

    enum CodingKeys: String, CodingKey {
        case hdr
        case minMicros = "min_us"
        case maxMicros = "max_us"
    }

    public init(_ histogram: Histogram<UInt64>) {
        hdr = HdrHistogramV2.encodeBase64(histogram)
        minMicros = histogram.totalCount > 0 ? histogram.min : 0
        maxMicros = histogram.maxRecorded
    }

    /// The histogram as it was recorded: every count in its bucket, the exact minimum and
    /// maximum restored, in Volley's latency layout (so it merges with any other).
    public func histogram() throws(InputError) -> Histogram<UInt64> {
        let decoded: Histogram<UInt64>
        do {
            decoded = try HdrHistogramV2.decode(base64: hdr)
        } catch {
            throw InputError("a histogram in the bundle cannot be read: \(error.description)", hint: nil)
        }
        var out = LatencyHistogram.make()
        guard decoded.totalCount > 0 else { return out }
        var buckets: [(value: UInt64, count: UInt64)] = []
        for bucket in decoded.recordedValues() where bucket.count > 0 {
            buckets.append((decoded.lowestEquivalentForValue(bucket.value), bucket.count))
        }
        guard let first = buckets.first, let last = buckets.last,
            decoded.lowestEquivalentForValue(minMicros) == first.value,
            decoded.lowestEquivalentForValue(maxMicros) == last.value
        else {
            throw InputError(
                "a histogram in the bundle is inconsistent: min \(minMicros) µs / max \(maxMicros) µs lie outside its recorded buckets",
                hint: "the bundle was edited or damaged; write it again with volley run --bundle"
            )
        }
        // Every count goes into its own bucket; those of the first and last buckets are
        // recorded at the exact extremes (the same buckets), so min and max come back exact.
        for (i, bucket) in buckets.enumerated() {
            guard bucket.value <= LatencyHistogram.highestMicroseconds else {
                throw InputError("a histogram in the bundle has values out of range", hint: nil)
            }
            var rest = bucket.count
            if i == buckets.count - 1 {
                _ = out.record(maxMicros)
                rest -= 1
            }
            if rest > 0 { _ = out.record(i == 0 ? minMicros : bucket.value, count: rest) }
        }
        return out
    }
}

/// A recorder's counters and histograms (``Recorder``), as a bundle keeps them. Samples of
/// error bodies and the slowest requests are kept by the segment's summary instead.
public struct RecorderData: Codable, Sendable, Equatable {
    public var latency: BundleHistogram?
    public var serviceTime: BundleHistogram?
    public var scheduleLag: BundleHistogram?
    /// Status code (as text) → responses.
    public var status: [String: Int]
    /// Transport error class → failures.
    public var transportErrors: [String: Int]
    public var completed: Int
    public var failed: Int
    public var errors: Int
    public var sent: Int
    public var sentLate: Int
    public var unsent: Int
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var bytesDecoded: UInt64
    public var decodeFailures: Int
    public var connectionsOpened: Int
    public var reconnects: Int
    public var retries: Int
    public var redirectsFollowed: Int
    public var redirectLimit: Int
    public var redirectUnusable: Int
    /// Phase name → histogram.
    public var phases: [String: BundleHistogram]
    public var phaseRequests: Int
    public var phaseNewConnections: Int

    enum CodingKeys: String, CodingKey {
        case latency
        case serviceTime = "service_time"
        case scheduleLag = "schedule_lag"
        case status
        case transportErrors = "transport_errors"
        case completed, failed, errors, sent
        case sentLate = "sent_late"
        case unsent
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case bytesDecoded = "bytes_decoded"
        case decodeFailures = "decode_failures"
        case connectionsOpened = "connections_opened"
        case reconnects, retries
        case redirectsFollowed = "redirects_followed"
        case redirectLimit = "redirect_limit"
        case redirectUnusable = "redirect_unusable"
        case phases
        case phaseRequests = "phase_requests"
        case phaseNewConnections = "phase_new_connections"
    }

    public init(_ r: Recorder) {
        func kept(_ h: Histogram<UInt64>) -> BundleHistogram? { h.totalCount > 0 ? BundleHistogram(h) : nil }
        latency = kept(r.latency)
        serviceTime = kept(r.serviceTime)
        scheduleLag = kept(r.scheduleLag)
        status = r.statusByCode
        transportErrors = r.transportErrorsByClass
        completed = r.completed
        failed = r.failed
        errors = r.errors
        sent = r.sent
        sentLate = r.sentLate
        unsent = r.unsent
        bytesIn = r.bytesIn
        bytesOut = r.bytesOut
        bytesDecoded = r.bytesDecoded
        decodeFailures = r.decodeFailures
        connectionsOpened = r.connectionsOpened
        reconnects = r.reconnects
        retries = r.retries
        redirectsFollowed = r.redirectsFollowed
        redirectLimit = r.redirectLimit
        redirectUnusable = r.redirectUnusable
        var phases: [String: BundleHistogram] = [:]
        for (phase, h) in r.phases.byPhase { phases[phase.rawValue] = BundleHistogram(h) }
        self.phases = phases
        phaseRequests = r.phases.requests
        phaseNewConnections = r.phases.newConnections
    }

    /// The recorder these figures came from (without its samples): what the engines would
    /// have merged, so the merged summary is computed by the same code as a single run's.
    public func recorder() throws(InputError) -> Recorder {
        var r = Recorder(slowestCapacity: 0)
        if let latency { r.latency = try latency.histogram() }
        if let serviceTime { r.serviceTime = try serviceTime.histogram() }
        if let scheduleLag { r.scheduleLag = try scheduleLag.histogram() }
        for (code, n) in status {
            guard let c = Int(code), c >= 0, c < r.statusCounts.count, n >= 0 else {
                throw InputError("the bundle counts an impossible status \"\(code)\"", hint: nil)
            }
            r.statusCounts[c] += n
        }
        for (name, n) in transportErrors {
            guard let c = TransportErrorClass(rawValue: name), n >= 0 else {
                throw InputError("the bundle counts an unknown transport error class \"\(name)\"", hint: nil)
            }
            r.transportCounts[c.index] += n
        }
        r.completed = completed
        r.failed = failed
        r.errors = errors
        r.sent = sent
        r.sentLate = sentLate
        r.unsent = unsent
        r.bytesIn = bytesIn
        r.bytesOut = bytesOut
        r.bytesDecoded = bytesDecoded
        r.decodeFailures = decodeFailures
        r.connectionsOpened = connectionsOpened
        r.reconnects = reconnects
        r.retries = retries
        r.redirectsFollowed = redirectsFollowed
        r.redirectLimit = redirectLimit
        r.redirectUnusable = redirectUnusable
        var timings = PhaseRecorder()
        for (name, h) in phases.sorted(by: { $0.key < $1.key }) {
            guard let phase = Phase(rawValue: name) else {
                throw InputError("the bundle has an unknown phase \"\(name)\"", hint: nil)
            }
            timings.setHistogram(try h.histogram(), for: phase)
        }
        timings.requests = phaseRequests
        timings.newConnections = phaseNewConnections
        r.phases = timings
        return r
    }
}

/// A threshold as a bundle keeps it: the parsed rule, so the merge judges without the plan.
public struct BundleThreshold: Codable, Sendable, Equatable {
    public var expression: String
    public var request: String?
    public var abortOnFail: Bool
    public var metric: Threshold.Metric
    public var comparison: Threshold.Comparison
    public var value: Double

    enum CodingKeys: String, CodingKey {
        case expression, request
        case abortOnFail = "abort_on_fail"
        case metric, comparison, value
    }

    public init(_ t: Threshold) {
        expression = t.expression
        request = t.requestName
        abortOnFail = t.abortOnFail
        metric = t.metric
        comparison = t.comparison
        value = t.value
    }

    public var threshold: Threshold {
        Threshold(
            metric: metric,
            comparison: comparison,
            value: value,
            requestName: request,
            abortOnFail: abortOnFail,
            expression: expression
        )
    }
}

extension PhaseRecorder {
    /// Puts a phase's whole histogram in place (a bundle's, being read back).
    public mutating func setHistogram(_ h: Histogram<UInt64>, for phase: Phase) {
        histograms[phase.index] = h
    }
}

/// What makes segments parts of one run: a 64-bit FNV-1a fingerprint (a mismatch detector,
/// not a secret: it is printed and stored) of the plan's text or the URL run's load flags.
public enum RunKey {
    public static func make(_ parts: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for part in parts {
            for byte in part.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0xff
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// How a merged run was made (``RunSummary/distributed``): which segments it holds, how far
/// apart they started, and their clocks.
public struct DistributedInfo: Codable, Sendable, Equatable {
    /// The segments the run was split into.
    public var segmentCount: Int
    /// The segments whose results are in this summary.
    public var merged: [Int]
    /// Segments with no results (a machine died): the counts are not the whole run's.
    public var missing: [Int]
    /// Why each missing segment is missing, when known ("connection closed before its results").
    public var missingReasons: [String: String]?
    /// The latest segment's time zero minus the earliest's, on segment 0's clock (ms).
    public var startSkewMs: Double
    /// Per merged segment: its clock minus segment 0's (ms), its start after the earliest
    /// (ms), and the round trip of the clock measurement (ms; nil without a rendezvous).
    public var segments: [SegmentTiming]

    enum CodingKeys: String, CodingKey {
        case segmentCount = "segment_count"
        case merged, missing
        case missingReasons = "missing_reasons"
        case startSkewMs = "start_skew_ms"
        case segments
    }

    public init(
        segmentCount: Int,
        merged: [Int],
        missing: [Int],
        missingReasons: [String: String]? = nil,
        startSkewMs: Double,
        segments: [SegmentTiming]
    ) {
        self.segmentCount = segmentCount
        self.merged = merged
        self.missing = missing
        self.missingReasons = missingReasons
        self.startSkewMs = startSkewMs
        self.segments = segments
    }
}

/// One segment's timing in a merged run.
public struct SegmentTiming: Codable, Sendable, Equatable {
    public var index: Int
    public var clockOffsetMs: Double
    public var clockRTTMs: Double?
    public var startOffsetMs: Double
    public var durationS: Double
    public var requests: Int

    enum CodingKeys: String, CodingKey {
        case index
        case clockOffsetMs = "clock_offset_ms"
        case clockRTTMs = "clock_rtt_ms"
        case startOffsetMs = "start_offset_ms"
        case durationS = "duration_s"
        case requests
    }

    public init(
        index: Int,
        clockOffsetMs: Double,
        clockRTTMs: Double?,
        startOffsetMs: Double,
        durationS: Double,
        requests: Int
    ) {
        self.index = index
        self.clockOffsetMs = clockOffsetMs
        self.clockRTTMs = clockRTTMs
        self.startOffsetMs = startOffsetMs
        self.durationS = durationS
        self.requests = requests
    }
}
