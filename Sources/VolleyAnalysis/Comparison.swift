import Histogram
import VolleyCore

/// better / worse / no significant change — the answer to "did it help?".
public enum Verdict: String, Sendable, Codable {
    case better
    case worse
    case noChange = "no significant change"
    case insufficient = "not enough data"
    /// One run each and no A/A figure: the change cannot be told from the machine's drift
    /// between runs (use `volley ab`, whose rounds measure it).
    case cannotTell = "cannot tell"
}

/// One metric of run B against run A.
public struct MetricComparison: Sendable, Codable, Equatable {
    public enum Unit: String, Sendable, Codable {
        /// `change` and the interval are relative: 0.05 = +5 %.
        case relative
        /// `change` and the interval are differences in percentage points (error rates).
        case points
    }

    public var metric: String
    public var a: Double
    public var b: Double
    public var change: Double
    public var low: Double?
    public var high: Double?
    public var unit: Unit
    public var verdict: Verdict
    /// How this metric's interval was computed (the method is always named).
    public var method: String
}

/// The comparison of a run against a baseline, overall and per request name.
public struct RunComparison: Sendable, Codable, Equatable {
    public var overall: [MetricComparison]
    public var byName: [NamedComparison]
    /// Differences smaller than this (relative, or points for error rates) are called noise.
    public var minimumEffect: Double
    public var confidence: Double
    /// The A/A figure the verdicts of a single pair were judged against; nil when there was
    /// none (then they are "cannot tell") or when this is a within-run comparison.
    public var calibration: NoiseCalibration? = nil
    /// The two runs' load shapes differ (connections, rate, plan, duration …).
    public var warnings: [String] = []

    /// Metrics that got worse by more than `limit` (relative; a quarter of it in points for
    /// error rates, as for the noise threshold).
    public func regressions(beyond limit: Double) -> [MetricComparison] {
        (overall + byName.flatMap(\.metrics)).filter {
            $0.verdict == .worse && abs($0.change) > ($0.unit == .points ? limit / 4 : limit)
        }
    }
}

public struct NamedComparison: Sendable, Codable, Equatable {
    public var name: String
    public var metrics: [MetricComparison]
    /// The sides ("a", "b") where this request name did not run (absent, or every step
    /// skipped): it has no latency there, so nothing is compared.
    public var skippedIn: [String]? = nil
    /// Why it was skipped (the plan's skip reason), when known.
    public var skipReason: String? = nil
}

/// Compares runs with statistics rather than by eye.
///
/// - Whole-run metrics (throughput, p50/p90/p99, error rate) use the **per-second values** of
///   each run and a **bootstrap**: seconds are resampled with replacement (2,000 times, fixed
///   seed so the output is reproducible) and the 2.5th–97.5th percentiles of the resampled
///   difference of means give the width of the 95 % interval, centred on the whole-run
///   difference. Resampling whole seconds keeps the correlation between neighbouring
///   requests, which per-request tests ignore.
/// - Per-request-name latency percentiles (plans) use the HDR histograms and the
///   distribution-free interval of a quantile (order statistics: the rank of the q-quantile of
///   n samples is Binomial(n, q)); a difference is significant when the intervals do not
///   overlap — conservative. Per-name error rates use a two-proportion z-test.
/// - A difference is called better or worse only when its interval excludes zero **and** it
///   is at least `minimumEffect` (default 2 %; for error rates a quarter of it in points, so
///   0.5 points); otherwise it is noise. Fewer than 3 full seconds in either run is "not enough data".
public enum RunComparator {
    public static func compare(
        _ a: RunSummary,
        _ b: RunSummary,
        histogramsA: RunHistograms? = nil,
        histogramsB: RunHistograms? = nil,
        minimumEffect: Double = 0.02,
        resamples: Int = 2_000,
        seed: UInt64 = 0x5EED
    ) -> RunComparison {
        let secondsA = fullSeconds(a.timeline)
        let secondsB = fullSeconds(b.timeline)
        var random = SplitMix64(seed: seed)
        var overall: [MetricComparison] = []
        let metrics: [(String, Bool, (TimelineEntry) -> Double?, Double, Double)] = [
            ("req/s", true, { $0.rps }, a.rps, b.rps),
            ("p50 ms", false, { $0.completed > 0 ? $0.latencyMs.p50 : nil }, a.latencyMs.p50, b.latencyMs.p50),
            ("p90 ms", false, { $0.completed > 0 ? $0.latencyMs.p90 : nil }, a.latencyMs.p90, b.latencyMs.p90),
            ("p99 ms", false, { $0.completed > 0 ? $0.latencyMs.p99 : nil }, a.latencyMs.p99, b.latencyMs.p99),
        ]
        for (name, higherIsBetter, value, wholeA, wholeB) in metrics {
            overall.append(
                bootstrap(
                    name,
                    secondsA.compactMap(value),
                    secondsB.compactMap(value),
                    wholeA: wholeA,
                    wholeB: wholeB,
                    higherIsBetter: higherIsBetter,
                    unit: .relative,
                    minimumEffect: minimumEffect,
                    resamples: resamples,
                    random: &random
                )
            )
        }
        let errorRate: (TimelineEntry) -> Double? = { e in
            let n = e.completed + e.failed
            return n > 0 ? Double(e.errors) / Double(n) : nil
        }
        overall.append(
            bootstrap(
                "errors",
                secondsA.compactMap(errorRate),
                secondsB.compactMap(errorRate),
                wholeA: a.errorRate,
                wholeB: b.errorRate,
                higherIsBetter: false,
                unit: .points,
                minimumEffect: minimumEffect,
                resamples: resamples,
                random: &random
            )
        )

        var byName: [NamedComparison] = []
        var names = (a.requestsByName ?? []).map(\.name)
        for other in b.requestsByName ?? [] where !names.contains(other.name) { names.append(other.name) }
        for name in names {
            let inA = a.requestsByName?.first { $0.name == name }
            let inB = b.requestsByName?.first { $0.name == name }
            guard let named = inA, let other = inB, named.requests > 0, other.requests > 0 else {
                // Never a latency for a step that did not run: a skipped step's 0 ms is no value.
                let skipped = [("a", inA), ("b", inB)].filter { ($0.1?.requests ?? 0) == 0 }.map(\.0)
                byName.append(
                    NamedComparison(
                        name: name,
                        metrics: [],
                        skippedIn: skipped,
                        skipReason: (inA?.requests == 0 ? inA : inB)?.skipReason
                    )
                )
                continue
            }
            var metricsByName: [MetricComparison] = [
                MetricComparison(
                    metric: "req/s",
                    a: named.rps,
                    b: other.rps,
                    change: relative(named.rps, other.rps),
                    low: nil,
                    high: nil,
                    unit: .relative,
                    verdict: .insufficient,
                    method: "no interval: per-name throughput has no per-second series"
                )
            ]
            let hA = histogramsA?.byName[named.name]
            let hB = histogramsB?.byName[named.name]
            for (label, q, valueA, valueB) in [
                ("p50 ms", 50.0, named.latencyMs.p50, other.latencyMs.p50),
                ("p90 ms", 90.0, named.latencyMs.p90, other.latencyMs.p90),
                ("p99 ms", 99.0, named.latencyMs.p99, other.latencyMs.p99),
            ] {
                metricsByName.append(
                    quantile(label, q, hA, hB, valueA: valueA, valueB: valueB, minimumEffect: minimumEffect)
                )
            }
            metricsByName.append(
                proportions(
                    "errors",
                    errorsA: Int((named.errorRate * Double(named.requests)).rounded()),
                    nA: named.requests,
                    errorsB: Int((other.errorRate * Double(other.requests)).rounded()),
                    nB: other.requests,
                    minimumEffect: minimumEffect
                )
            )
            byName.append(NamedComparison(name: named.name, metrics: metricsByName))
        }
        return RunComparison(overall: overall, byName: byName, minimumEffect: minimumEffect, confidence: 0.95)
    }

    /// Timeline entries that cover (almost) a whole second: the final partial second of a run
    /// would weigh as much as a full one.
    static func fullSeconds(_ timeline: [TimelineEntry]) -> [TimelineEntry] {
        var previous = 0.0
        var out: [TimelineEntry] = []
        for e in timeline {
            if e.t - previous >= 0.9 { out.append(e) }
            previous = e.t
        }
        return out
    }

    static func relative(_ a: Double, _ b: Double) -> Double {
        a != 0 ? b / a - 1 : (b == 0 ? 0 : .infinity)
    }

    static func verdict(
        change: Double,
        low: Double,
        high: Double,
        higherIsBetter: Bool,
        minimumEffect: Double
    ) -> Verdict {
        guard low > 0 || high < 0, abs(change) >= minimumEffect else { return .noChange }
        // (callers pass the points threshold for error rates)
        return (change > 0) == higherIsBetter ? .better : .worse
    }

    static func bootstrap(
        _ metric: String,
        _ xs: [Double],
        _ ys: [Double],
        wholeA: Double,
        wholeB: Double,
        higherIsBetter: Bool,
        unit: MetricComparison.Unit,
        minimumEffect: Double,
        resamples: Int,
        random: inout SplitMix64
    ) -> MetricComparison {
        let method = "bootstrap over per-second values (\(resamples) resamples)"
        let change = unit == .relative ? relative(wholeA, wholeB) : wholeB - wholeA
        guard xs.count >= 3, ys.count >= 3 else {
            return MetricComparison(
                metric: metric,
                a: wholeA,
                b: wholeB,
                change: change,
                low: nil,
                high: nil,
                unit: unit,
                verdict: .insufficient,
                method: method + "; fewer than 3 full seconds"
            )
        }
        var differences: [Double] = []
        differences.reserveCapacity(resamples)
        for _ in 0..<resamples {
            let meanA = resampledMean(xs, &random)
            let meanB = resampledMean(ys, &random)
            if unit == .relative {
                guard meanA > 0 else { continue }
                differences.append(meanB / meanA - 1)
            } else {
                differences.append(meanB - meanA)
            }
        }
        guard differences.count >= resamples / 2 else {
            // A baseline of zeros: no relative change can be stated.
            return MetricComparison(
                metric: metric,
                a: wholeA,
                b: wholeB,
                change: change,
                low: nil,
                high: nil,
                unit: unit,
                verdict: wholeA == wholeB ? .noChange : .insufficient,
                method: method
            )
        }
        differences.sort()
        // The interval's width comes from the per-second bootstrap; it is centred on the
        // whole-run difference, so that it matches the whole-run values printed beside it.
        let meanA = xs.reduce(0, +) / Double(xs.count)
        let meanB = ys.reduce(0, +) / Double(ys.count)
        let bootstrapCentre = unit == .relative ? relative(meanA, meanB) : meanB - meanA
        let shift = change.isFinite ? change - bootstrapCentre : 0
        let low = differences[Int(Double(differences.count - 1) * 0.025)] + shift
        let high = differences[Int(Double(differences.count - 1) * 0.975)] + shift
        return MetricComparison(
            metric: metric,
            a: wholeA,
            b: wholeB,
            change: change,
            low: low,
            high: high,
            unit: unit,
            verdict: verdict(
                change: change,
                low: low,
                high: high,
                higherIsBetter: higherIsBetter,
                minimumEffect: unit == .points ? minimumEffect / 4 : minimumEffect
            ),
            method: method
        )
    }

    static func resampledMean(_ values: [Double], _ random: inout SplitMix64) -> Double {
        var sum = 0.0
        for _ in 0..<values.count { sum += values[Int(random.next() % UInt64(values.count))] }
        return sum / Double(values.count)
    }

    /// The distribution-free 95 % interval of the q-quantile (ms) from a histogram.
    static func quantileInterval(_ h: Histogram<UInt64>, _ q: Double) -> (Double, Double)? {
        let n = Double(h.totalCount)
        guard n >= 20 else { return nil }
        let p = q / 100
        let spread = 1.96 * (n * p * (1 - p)).squareRoot()
        let lowRank = max(0, n * p - spread)
        let highRank = min(n, n * p + spread + 1)
        let low = Double(h.valueAtPercentile(lowRank / n * 100)) / 1000
        let high = Double(h.valueAtPercentile(min(100, highRank / n * 100))) / 1000
        return (low, high)
    }

    static func quantile(
        _ metric: String,
        _ q: Double,
        _ hA: Histogram<UInt64>?,
        _ hB: Histogram<UInt64>?,
        valueA: Double,
        valueB: Double,
        minimumEffect: Double
    ) -> MetricComparison {
        let method = "order-statistic intervals from the HDR histograms; significant when they do not overlap"
        let change = relative(valueA, valueB)
        guard let hA, let hB, let iA = quantileInterval(hA, q), let iB = quantileInterval(hB, q) else {
            return MetricComparison(
                metric: metric,
                a: valueA,
                b: valueB,
                change: change,
                low: nil,
                high: nil,
                unit: .relative,
                verdict: .insufficient,
                method: method + "; fewer than 20 samples or no histogram"
            )
        }
        // The interval of the relative change implied by the two intervals (conservative).
        let low = iA.1 > 0 ? iB.0 / iA.1 - 1 : -.infinity
        let high = iA.0 > 0 ? iB.1 / iA.0 - 1 : .infinity
        let separated = iB.0 > iA.1 || iB.1 < iA.0
        let verdict: Verdict =
            separated && abs(change) >= minimumEffect ? (change < 0 ? .better : .worse) : .noChange
        return MetricComparison(
            metric: metric,
            a: valueA,
            b: valueB,
            change: change,
            low: low,
            high: high,
            unit: .relative,
            verdict: verdict,
            method: method
        )
    }

    /// Two-proportion z-test for error rates; the interval is the 95 % Wald interval of the
    /// difference, in points.
    static func proportions(
        _ metric: String,
        errorsA: Int,
        nA: Int,
        errorsB: Int,
        nB: Int,
        minimumEffect: Double
    ) -> MetricComparison {
        let method = "two-proportion z-test"
        let pA = nA > 0 ? Double(errorsA) / Double(nA) : 0
        let pB = nB > 0 ? Double(errorsB) / Double(nB) : 0
        guard nA >= 20, nB >= 20 else {
            return MetricComparison(
                metric: metric,
                a: pA,
                b: pB,
                change: pB - pA,
                low: nil,
                high: nil,
                unit: .points,
                verdict: .insufficient,
                method: method + "; fewer than 20 requests"
            )
        }
        let se = (pA * (1 - pA) / Double(nA) + pB * (1 - pB) / Double(nB)).squareRoot()
        let low = pB - pA - 1.96 * se
        let high = pB - pA + 1.96 * se
        let v: Verdict =
            se == 0
            ? (pA == pB ? .noChange : (pB < pA ? .better : .worse))
            : verdict(change: pB - pA, low: low, high: high, higherIsBetter: false, minimumEffect: minimumEffect / 4)
        return MetricComparison(
            metric: metric,
            a: pA,
            b: pB,
            change: pB - pA,
            low: low,
            high: high,
            unit: .points,
            verdict: v,
            method: method
        )
    }
}
