/// One segment of a ramping arrival rate: the rate moves linearly from `startRate` to
/// `endRate` over `duration` (k6's ramping-arrival-rate stage).
public struct RateStage: Equatable, Sendable, Codable {
    public var duration: Duration
    public var startRate: Double
    public var endRate: Double

    public init(duration: Duration, startRate: Double, endRate: Double) {
        self.duration = duration
        self.startRate = startRate
        self.endRate = endRate
    }

    /// Parses `10s:0->200,30s:200,10s:200->0`. A stage written with one rate holds it; the
    /// arrow form ramps. Rates accept the `RateText` forms (`200`, `200/s`, `30/m`).
    public static func parseList(_ text: String) throws -> [RateStage] {
        var stages: [RateStage] = []
        for raw in text.split(separator: ",") {
            let item = String(raw).trimmingSpaces()
            let parts = item.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else {
                throw InputError(
                    "invalid stage \"\(item)\"",
                    hint: "write DURATION:RATE or DURATION:FROM->TO, e.g. 10s:0->200,30s:200"
                )
            }
            let duration = try DurationText.parse(String(parts[0]))
            let rates = parts[1].split(separator: ">", maxSplits: 1)
            let start: Double
            let end: Double
            if rates.count == 2, rates[0].hasSuffix("-") {
                start = try RateText.parse(String(rates[0].dropLast()))
                end = try RateText.parse(String(rates[1]))
            } else if rates.count == 1 {
                start = try RateText.parse(String(rates[0]))
                end = start
            } else {
                throw InputError("invalid rate in stage \"\(item)\"", hint: "write FROM->TO, e.g. 0->200")
            }
            stages.append(RateStage(duration: duration, startRate: start, endRate: end))
        }
        guard !stages.isEmpty else {
            throw InputError("no stages given", hint: "write e.g. 10s:0->200,30s:200,10s:200->0")
        }
        return stages
    }
}

/// When each request of an open-model run is due: the inverse of the cumulative arrival
/// count of a piecewise-linear rate.
///
/// Pure and clock-free (vegeta's `Pacer` idea): request `i` (0-based) is due at the time `t`
/// where the integral of the rate from 0 to `t` reaches `i`. Every event loop walks its own
/// share of indices (`i ≡ loop mod loops`), so the union of all loops is exactly the
/// schedule, without any coordination on the hot path.
public struct ArrivalSchedule: Equatable, Sendable {
    public let stages: [RateStage]
    /// Cumulative arrivals at the start of each stage.
    private let startCounts: [Double]
    /// Start of each stage, seconds.
    private let startTimes: [Double]
    /// Total arrivals over all stages (fractional).
    public let totalArrivals: Double
    /// Total length of the schedule.
    public let totalDuration: Duration

    public init(stages: [RateStage]) {
        self.stages = stages
        var counts: [Double] = []
        var times: [Double] = []
        var count = 0.0
        var time = 0.0
        var total = Duration.zero
        for stage in stages {
            counts.append(count)
            times.append(time)
            let d = stage.duration.seconds
            count += (stage.startRate + stage.endRate) / 2 * d
            time += d
            total += stage.duration
        }
        self.startCounts = counts
        self.startTimes = times
        self.totalArrivals = count
        self.totalDuration = total
    }

    /// A constant rate for `duration`.
    public init(rate: Double, duration: Duration) {
        self.init(stages: [RateStage(duration: duration, startRate: rate, endRate: rate)])
    }

    /// The number of requests the schedule asks for: arrivals due strictly before the end.
    public var scheduledCount: Int {
        let whole = totalArrivals.rounded(.down)
        // An arrival exactly at the end belongs to the next run, not this one.
        return whole == totalArrivals ? Int(whole) : Int(whole) + 1
    }

    /// The due time of request `index` in seconds from the start, or nil if it falls at or
    /// after the end of the schedule.
    public func dueTime(ofRequest index: Int) -> Double? {
        let n = Double(index)
        guard n < totalArrivals else { return nil }
        // Find the last stage whose start count is <= n (stages are few: a linear scan).
        var k = startCounts.count - 1
        while k > 0 && startCounts[k] > n { k -= 1 }
        // Skip zero-rate stages that contribute nothing.
        while k < stages.count - 1 && startCounts[k + 1] <= n { k += 1 }
        let stage = stages[k]
        let d = stage.duration.seconds
        let remaining = n - startCounts[k]
        let r0 = stage.startRate
        let slope = d > 0 ? (stage.endRate - stage.startRate) / d : 0
        // Solve r0*t + slope/2*t^2 = remaining for t in [0, d].
        var t: Double
        if abs(slope) < 1e-12 {
            t = r0 > 0 ? remaining / r0 : 0
        } else {
            let disc = r0 * r0 + 2 * slope * remaining
            t = (-r0 + max(0, disc).squareRoot()) / slope
        }
        t = min(max(t, 0), d)
        return startTimes[k] + t
    }

    /// The intended rate at `time` seconds from the start (for progress and reports).
    public func rate(at time: Double) -> Double {
        for (k, stage) in stages.enumerated() {
            let d = stage.duration.seconds
            let local = time - startTimes[k]
            if local >= 0 && local < d {
                return stage.startRate + (stage.endRate - stage.startRate) * local / d
            }
        }
        return 0
    }
}
