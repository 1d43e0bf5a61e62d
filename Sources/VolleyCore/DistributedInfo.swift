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
