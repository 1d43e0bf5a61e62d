import VolleyCore

/// One load level of a stepped experiment (a concurrency or a rate), as the knee finder
/// needs it.
public struct LevelResult: Sendable, Codable, Equatable {
    /// The offered load: connections (closed model) or requests per second (open model).
    public var level: Double
    /// Successful responses per second (2xx and 3xx): failures must not count as capacity.
    public var goodput: Double
    public var p50Ms: Double
    public var p99Ms: Double
    /// Failed requests and error statuses over all requests.
    public var errorRate: Double

    public init(level: Double, goodput: Double, p50Ms: Double, p99Ms: Double, errorRate: Double) {
        self.level = level
        self.goodput = goodput
        self.p50Ms = p50Ms
        self.p99Ms = p99Ms
        self.errorRate = errorRate
    }
}

/// Where throughput stopped growing.
public struct Knee: Sendable, Codable, Equatable {
    /// The lowest level whose goodput no later level beats by more than the threshold.
    public var level: Double
    public var goodput: Double
    /// The best goodput seen at any level, and where.
    public var peakLevel: Double
    public var peakGoodput: Double
    /// Median latency at the knee and at the highest level: what the extra load bought.
    public var p50AtKnee: Double
    public var p50AtTop: Double
    /// The first level with more than 1 % errors, if any.
    public var firstErrorLevel: Double?
}

/// Finds the knee of a throughput curve: the level beyond which adding load no longer adds
/// throughput, only latency. Deliberately simple and explainable — "no higher level did more
/// than 10 % better" — because the demo and the sweep print the reason in words. (The
/// scalability fit of later experiments refines this; it does not replace the plain reading.)
public enum KneeFinder {
    /// `nil` when throughput was still growing at the highest level (no knee reached), or
    /// with fewer than two levels.
    public static func find(_ results: [LevelResult], growthThreshold: Double = 0.10) -> Knee? {
        let sorted = results.sorted { $0.level < $1.level }
        guard sorted.count >= 2, let top = sorted.last else { return nil }
        guard let peak = sorted.max(by: { $0.goodput < $1.goodput }) else { return nil }
        for (i, candidate) in sorted.enumerated().dropLast() {
            let laterBest = sorted[(i + 1)...].map(\.goodput).max() ?? 0
            if laterBest <= candidate.goodput * (1 + growthThreshold) {
                return Knee(
                    level: candidate.level,
                    goodput: candidate.goodput,
                    peakLevel: peak.level,
                    peakGoodput: peak.goodput,
                    p50AtKnee: candidate.p50Ms,
                    p50AtTop: top.p50Ms,
                    firstErrorLevel: sorted.first { $0.errorRate > 0.01 }?.level
                )
            }
        }
        return nil
    }
}
