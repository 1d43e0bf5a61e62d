import Foundation
import Testing
import VolleyCore

@testable import VolleyAnalysis

/// `ab`'s decision from the rounds, and what `compare` may say about one pair of runs.
@Suite struct RoundComparisonTests {
    /// Student's t quantiles against the printed table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
    @Test func tQuantilesMatchTheTable() {
        let table: [(Double, Double, Double)] = [
            (0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 4, 2.776), (0.975, 10, 2.228), (0.975, 30, 2.042),
            (0.80, 2, 1.061), (0.80, 10, 0.879), (0.95, 5, 2.015),
        ]
        for (p, df, expected) in table {
            #expect(abs(StudentT.quantile(p, df: df) - expected) < 0.0006, "t(\(p), \(df))")
        }
        #expect(abs(StudentT.quantile(0.025, df: 3) + 3.182) < 0.0006)
        #expect(abs(StudentT.cdf(0, df: 7) - 0.5) < 1e-12)
        #expect(abs(StudentT.cdf(2.228, df: 10) - 0.975) < 1e-4)
    }

    /// A = 100, 100, 100; B = 110, 105, 115: d = ln(B/A), mean 0.09462, s = 0.04549,
    /// interval 0.09462 ± 4.3027 · 0.04549 / √3 → −1.82 % … +23.07 %, change +9.92 % (by hand).
    @Test func aPairedIntervalComputedByHand() throws {
        let m = RoundComparator.decide(
            "p50 ms",
            [100, 100, 100],
            [110, 105, 115],
            unit: .relative,
            higherIsBetter: false,
            minimumEffect: 0.02
        )
        #expect(abs(try #require(m.change) - 0.099242) < 1e-5)
        #expect(abs(try #require(m.low) + 0.018214) < 1e-5)
        #expect(abs(try #require(m.high) - 0.230750) < 1e-5)
        #expect(abs(try #require(m.spread) - 0.045490) < 1e-5)
        #expect(m.verdict == .noChange)  // the interval includes 0
    }

    @Test func twoRoundsCannotDecideAndSayHowManyAreNeeded() throws {
        let m = RoundComparator.decide(
            "req/s",
            [100, 104],
            [50, 49],
            unit: .relative,
            higherIsBetter: true,
            minimumEffect: 0.02
        )
        #expect(m.verdict == .insufficient)
        let note = try #require(m.note)
        #expect(note.contains("not enough rounds: 2 cannot decide at 95 %"), "\(note)")
        #expect(note.contains("needed for a change of"), "\(note)")
        #expect(m.roundsForFivePercent != nil)
        let single = RoundComparator.decide(
            "req/s",
            [100],
            [50],
            unit: .relative,
            higherIsBetter: true,
            minimumEffect: 0
        )
        #expect(single.verdict == .insufficient && single.spread == nil)
    }

    /// n = smallest n ≥ 3 with n ≥ ((t(0.975, n−1) + t(0.8, n−1)) · s / ln(1 + δ))². With s = 0.05:
    /// δ = 10 %: n = 4 gives (3.182 + 0.978)² · 0.2753 = 4.76 > 4, n = 5 gives 3.80 → 5.
    /// δ = 5 %: n = 10 gives 10.39 > 10, n = 11 gives 10.14 → 11.
    @Test func roundsNeededForAnEffect() {
        #expect(RoundComparator.roundsNeeded(spread: 0.05, effect: 0.10) == 5)
        #expect(RoundComparator.roundsNeeded(spread: 0.05, effect: 0.05) == 11)
        #expect(RoundComparator.roundsNeeded(spread: 0.001, effect: 0.10) == 3)
    }

    /// A normal deviate from the seeded generator (Box–Muller).
    static func gaussian(_ random: inout SplitMix64) -> Double {
        let u1 = (Double(random.next() >> 11) + 0.5) / 9_007_199_254_740_992
        let u2 = Double(random.next() >> 11) / 9_007_199_254_740_992
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    /// 1,000 simulated A/A experiments of 3 rounds, every run off by 5 % (log-normal) of noise
    /// between runs: at most 6 % are called better or worse, per metric.
    @Test func aaExperimentsAreRarelyCalledADifference() {
        var random = SplitMix64(seed: 16)
        var called = ["req/s": 0, "p50 ms": 0]
        for _ in 0..<1_000 {
            func runs() -> [Double] { (0..<3).map { _ in 100 * exp(0.05 * Self.gaussian(&random)) } }
            for (metric, higher) in [("req/s", true), ("p50 ms", false)] {
                let m = RoundComparator.decide(
                    metric,
                    runs(),
                    runs(),
                    unit: .relative,
                    higherIsBetter: higher,
                    minimumEffect: 0.02
                )
                if m.verdict == .better || m.verdict == .worse { called[metric]! += 1 }
            }
        }
        for (metric, count) in called { #expect(count <= 60, "\(metric): \(count) of 1000 A/A called a difference") }
    }

    /// The same noise with B's latency doubled: every experiment calls it worse.
    @Test func aTwofoldDifferenceIsAlwaysFound() {
        var random = SplitMix64(seed: 17)
        var found = 0
        for _ in 0..<1_000 {
            let a = (0..<3).map { _ in 10 * exp(0.05 * Self.gaussian(&random)) }
            let b = (0..<3).map { _ in 20 * exp(0.05 * Self.gaussian(&random)) }
            let m = RoundComparator.decide("p50 ms", a, b, unit: .relative, higherIsBetter: false, minimumEffect: 0.02)
            if m.verdict == .worse { found += 1 }
        }
        #expect(found == 1_000)
    }

    @Test func abRegressionsFollowTheVerdict() {
        func summary(_ rps: Double) -> RunSummary {
            var s = syntheticRun(seconds: 3, rps: 10, latencyMs: 10, seed: 1).0
            s.rps = rps
            return s
        }
        let two = RoundComparator.compare(a: [summary(100), summary(100)], b: [summary(50), summary(51)])
        #expect(two.regressions(beyond: 0.05).isEmpty)  // 2 rounds: no verdict, no regression
        let three = RoundComparator.compare(
            a: [summary(100), summary(101), summary(99)],
            b: [summary(50), summary(51), summary(50)]
        )
        #expect(three.regressions(beyond: 0.05).map(\.metric) == ["req/s"])
    }

    @Test func oneRunEachCannotTellWithoutAnAAFigure() throws {
        let (a, _) = syntheticRun(seconds: 10, rps: 200, latencyMs: 10, seed: 3)
        let (b, _) = syntheticRun(seconds: 10, rps: 100, latencyMs: 30, seed: 4)
        let within = RunComparator.compare(a, b)
        #expect(within.overall.first { $0.metric == "p50 ms" }?.verdict == .worse)
        let pair = RunComparator.singlePair(within, calibration: nil)
        for m in pair.overall { #expect(m.verdict == .cannotTell, "\(m.metric)") }
        #expect(pair.regressions(beyond: 0.05).isEmpty)
        // With an A/A figure of 5 % per pair from 3 rounds: ± 4.303 × 0.05 in log space.
        let calibration = NoiseCalibration(
            experiment: 7,
            rounds: 3,
            spread: ["req/s": 0.05, "p50 ms": 0.05, "p90 ms": 0.05, "p99 ms": 0.05, "errors": 0]
        )
        let judged = RunComparator.singlePair(within, calibration: calibration)
        let p50 = try #require(judged.overall.first { $0.metric == "p50 ms" })
        #expect(p50.verdict == .worse)
        let d = log(p50.b / p50.a)
        #expect(abs(try #require(p50.low) - (exp(d - 4.302653 * 0.05) - 1)) < 1e-5)
        #expect(judged.regressions(beyond: 0.05).map(\.metric).contains("p50 ms"))
        // A 10 % change is inside that floor.
        let (c, _) = syntheticRun(seconds: 10, rps: 220, latencyMs: 11, seed: 5)
        let small = RunComparator.singlePair(RunComparator.compare(a, c), calibration: calibration)
        #expect(small.overall.first { $0.metric == "p50 ms" }?.verdict == .noChange)
        // Runs too short for the per-second bootstrap still have whole-run values to judge.
        let (short, _) = syntheticRun(seconds: 2, rps: 100, latencyMs: 10, seed: 6)
        let (shortB, _) = syntheticRun(seconds: 2, rps: 100, latencyMs: 30, seed: 7)
        let shortWithin = RunComparator.compare(short, shortB)
        #expect(shortWithin.overall.first { $0.metric == "p50 ms" }?.verdict == .insufficient)
        let shortJudged = RunComparator.singlePair(shortWithin, calibration: calibration)
        #expect(shortJudged.overall.first { $0.metric == "p50 ms" }?.verdict == .worse)
        #expect(
            RunComparator.singlePair(shortWithin, calibration: nil).overall.allSatisfy { $0.verdict == .insufficient }
        )
    }

    @Test func differentLoadShapesAreNamed() {
        var (a, _) = syntheticRun(seconds: 10, rps: 200, latencyMs: 10, seed: 3)
        var b = a
        #expect(RunComparator.loadShapeWarnings(a, b).isEmpty)
        a.connections = 32
        b.connections = 64
        b.durationS = 20
        b.plan = "shop"
        let warnings = RunComparator.loadShapeWarnings(a, b)
        #expect(warnings.contains("connections differ: 32 vs 64"), "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("duration differs") })
        #expect(warnings.contains("plan differs: none vs shop"))
        a.plan = "shop"
        let edited = RunComparator.loadShapeWarnings(a, b, planSourceA: "x: 1", planSourceB: "x: 2")
        #expect(edited.contains { $0.contains("edited") })
    }

    @Test func aStepThatDidNotRunHasNoLatency() throws {
        var (a, _) = syntheticRun(seconds: 5, rps: 100, latencyMs: 10, seed: 3)
        var (b, _) = syntheticRun(seconds: 5, rps: 100, latencyMs: 10, seed: 4)
        var ran = Recorder()
        ran.recordResponse(
            status: 200,
            latencyNanos: 5_000_000,
            serviceNanos: 5_000_000,
            bytesIn: 1,
            requestID: "",
            completedAtNanos: 0
        )
        a.requestsByName = [
            NamedRequestStats(name: "GET /item", recorder: ran, duration: 5, skipped: 0, captureFailures: 0),
            NamedRequestStats(name: "GET /only-a", recorder: ran, duration: 5, skipped: 0, captureFailures: 0),
        ]
        var skipped = NamedRequestStats(
            name: "GET /item",
            recorder: Recorder(),
            duration: 5,
            skipped: 9,
            captureFailures: 0
        )
        skipped.skipReason = "${id} has no value"
        b.requestsByName = [skipped]
        let c = RunComparator.compare(a, b)
        let item = try #require(c.byName.first { $0.name == "GET /item" })
        #expect(item.skippedIn == ["b"] && item.metrics.isEmpty)
        #expect(item.skipReason == "${id} has no value")
        #expect(c.byName.first { $0.name == "GET /only-a" }?.skippedIn == ["b"])
    }
}
