import Foundation
import VolleyCore

/// One metric of an A/B experiment, decided from the rounds: each round gives one value per
/// side, and the spread between rounds — not the seconds inside a run — is the noise.
public struct RoundMetric: Sendable, Codable, Equatable {
    public var metric: String
    public var unit: MetricComparison.Unit
    /// The per-round values of each side, in round order.
    public var aRounds: [Double]
    public var bRounds: [Double]
    /// Relative: the geometric mean of B/A over the rounds − 1. Points: the mean of B − A.
    public var change: Double?
    public var low: Double?
    public var high: Double?
    public var verdict: Verdict
    /// The standard deviation of the per-round log ratios ln(B/A) (points: of B − A) — the
    /// between-run noise of one pair on this machine; what `compare` uses as its noise floor.
    public var spread: Double?
    /// Rounds needed to detect a ±5 % (±10 %) change with 80 % power at the spread seen.
    public var roundsForFivePercent: Int?
    public var roundsForTenPercent: Int?
    /// Why there is no verdict, when there is none.
    public var note: String?
}

/// An `ab` experiment's decision: a paired t-interval on the per-round log ratios.
public struct RoundComparison: Sendable, Codable, Equatable {
    public var rounds: Int
    public var method: String
    public var confidence: Double
    public var power: Double
    public var minimumEffect: Double
    public var metrics: [RoundMetric]

    /// Metrics called worse by more than `limit` (a quarter of it in points for error
    /// rates) — the same rule as ``RunComparison/regressions(beyond:)``; "not enough
    /// rounds" never counts.
    public func regressions(beyond limit: Double) -> [RoundMetric] {
        metrics.filter { m in
            guard m.verdict == .worse, let change = m.change else { return false }
            return abs(change) > (m.unit == .points ? limit / 4 : limit)
        }
    }
}

/// Decides an A/B experiment from its rounds.
///
/// Round i ran A and B back to back (ABBA order), so the pair (Aᵢ, Bᵢ) shares the machine's
/// state; the analysis is a **paired t-test on dᵢ = ln(Bᵢ/Aᵢ)** (points: Bᵢ − Aᵢ): mean d̄,
/// standard deviation s, interval d̄ ± t(0.975, n−1)·s/√n, reported as exp(·) − 1. Pairing
/// removes drift slower than a round; the alternating order turns a linear drift into
/// spread rather than bias. A change is better or worse only when the interval excludes zero
/// and it is at least `minimumEffect`. Fewer than 3 rounds give no verdict: with 2, t(0.975, 1)
/// is 12.7 and the spread rests on one difference.
///
/// Rounds needed for an effect δ (relative) with 80 % power, two-sided 5 %: the smallest n with
/// n ≥ ((t(0.975, n−1) + t(0.80, n−1)) · s / ln(1 + δ))², at least 3.
public enum RoundComparator {
    public static let method =
        "paired t-interval on per-round log ratios ln(B/A) (error rates: differences in points), ABBA rounds"

    public static func compare(
        a: [RunSummary],
        b: [RunSummary],
        minimumEffect: Double = 0.02
    ) -> RoundComparison {
        let n = min(a.count, b.count)
        let a = Array(a.prefix(n))
        let b = Array(b.prefix(n))
        let metrics: [(String, Bool, MetricComparison.Unit, (RunSummary) -> Double)] = [
            ("req/s", true, .relative, { $0.rps }),
            ("p50 ms", false, .relative, { $0.latencyMs.p50 }),
            ("p90 ms", false, .relative, { $0.latencyMs.p90 }),
            ("p99 ms", false, .relative, { $0.latencyMs.p99 }),
            ("errors", false, .points, { $0.errorRate }),
        ]
        return RoundComparison(
            rounds: n,
            method: method,
            confidence: 0.95,
            power: 0.8,
            minimumEffect: minimumEffect,
            metrics: metrics.map { name, higherIsBetter, unit, value in
                decide(
                    name,
                    a.map(value),
                    b.map(value),
                    unit: unit,
                    higherIsBetter: higherIsBetter,
                    minimumEffect: minimumEffect
                )
            }
        )
    }

    /// One metric from its per-round values (paired by index).
    public static func decide(
        _ metric: String,
        _ xs: [Double],
        _ ys: [Double],
        unit: MetricComparison.Unit,
        higherIsBetter: Bool,
        minimumEffect: Double
    ) -> RoundMetric {
        var result = RoundMetric(
            metric: metric,
            unit: unit,
            aRounds: xs,
            bRounds: ys,
            verdict: .insufficient
        )
        let n = min(xs.count, ys.count)
        if unit == .relative, zip(xs, ys).contains(where: { $0 <= 0 || $1 <= 0 }) {
            result.note = "a round had no value for this metric"
            return result
        }
        let d = (0..<n).map { unit == .relative ? log(ys[$0] / xs[$0]) : ys[$0] - xs[$0] }
        let back = { (x: Double) in unit == .relative ? exp(x) - 1 : x }
        guard n >= 1 else {
            result.note = "no finished round on both sides"
            return result
        }
        let mean = d.reduce(0, +) / Double(n)
        result.change = back(mean)
        guard n >= 2 else {
            result.note = "1 round: no between-round spread; run at least 3 rounds"
            return result
        }
        let s = (d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)).squareRoot()
        result.spread = s
        if unit == .relative {
            result.roundsForFivePercent = roundsNeeded(spread: s, effect: 0.05)
            result.roundsForTenPercent = roundsNeeded(spread: s, effect: 0.10)
        }
        let half = StudentT.quantile(0.975, df: Double(n - 1)) * s / Double(n).squareRoot()
        result.low = back(mean - half)
        result.high = back(mean + half)
        guard n >= 3 else {
            let size = max(abs(result.change ?? 0), unit == .relative ? 0.05 : minimumEffect / 4)
            let needed = unit == .relative ? roundsNeeded(spread: s, effect: size) : nil
            result.note =
                "not enough rounds: \(n) cannot decide at 95 %"
                + (needed.map { "; \($0) needed for a change of \(Self.percent(size)) given the noise seen" } ?? "")
            return result
        }
        let threshold = unit == .points ? minimumEffect / 4 : minimumEffect
        let excludesZero = mean - half > 0 || mean + half < 0
        if excludesZero, abs(back(mean)) >= threshold {
            result.verdict = (mean > 0) == higherIsBetter ? .better : .worse
        } else {
            result.verdict = .noChange
        }
        return result
    }

    /// The rounds a paired t-test needs to detect a relative change `effect` with 80 % power
    /// (two-sided 5 %) when one pair's log ratio has standard deviation `spread`; at least 3,
    /// at most 1,000.
    public static func roundsNeeded(spread: Double, effect: Double) -> Int {
        let delta = log(1 + effect)
        guard delta > 0 else { return 1_000 }
        // t quantiles exceed the normal ones, so n is at least the normal-theory answer.
        let normal = (1.959964 + 0.841621) * spread / delta
        let start = min(1_000, max(3, Int((normal * normal).rounded(.up))))
        for n in start...1_000 {
            let df = Double(n - 1)
            let k = (StudentT.quantile(0.975, df: df) + StudentT.quantile(0.8, df: df)) * spread / delta
            if Double(n) >= k * k { return n }
        }
        return 1_000
    }

    static func percent(_ x: Double) -> String {
        String(format: "%.1f %%", x * 100)
    }
}
