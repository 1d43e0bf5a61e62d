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
