import Foundation
import VolleyCore

/// What an A/A experiment (`volley ab` with the same target on both sides) measured: how much
/// one run differs from the next on this machine when nothing changed. It is the noise floor
/// of a comparison of two single runs.
public struct NoiseCalibration: Sendable, Codable, Equatable {
    /// The saved `ab` experiment it comes from (E<id>).
    public var experiment: Int64?
    public var rounds: Int
    /// Per metric ("req/s", "p50 ms", …, "errors"): the standard deviation of one pair's
    /// difference — of ln(B/A), or of B − A in points for error rates.
    public var spread: [String: Double]

    public init(experiment: Int64?, rounds: Int, spread: [String: Double]) {
        self.experiment = experiment
        self.rounds = rounds
        self.spread = spread
    }

    /// From an A/A experiment's rounds; nil with fewer than 3 rounds (one or two differences
    /// say too little about the spread).
    public init?(experiment: Int64?, _ rounds: RoundComparison) {
        guard rounds.rounds >= 3 else { return nil }
        var spread: [String: Double] = [:]
        for m in rounds.metrics { if let s = m.spread { spread[m.metric] = s } }
        self.init(experiment: experiment, rounds: rounds.rounds, spread: spread)
    }
}

extension RunComparator {
    /// Turns a within-run comparison of two single runs into what one pair can support.
    ///
    /// The per-second bootstrap describes each run's own spread, not the drift between runs,
    /// so it decides nothing here. With an A/A `calibration` the interval of each metric is
    /// the change ± t(0.975, rounds − 1) · spread (in log space for relative metrics): the
    /// prediction interval of one pair's difference when nothing changed; a change is better or
    /// worse when that interval excludes zero (error rates: and moves by at least a quarter of
    /// the minimum effect, in points). Without one, every verdict is "cannot tell"
    /// and the intervals stay the within-run ones.
    public static func singlePair(_ within: RunComparison, calibration: NoiseCalibration?) -> RunComparison {
        var out = within
        out.calibration = calibration
        // Whole-run values exist even when a run has too few full seconds for the bootstrap;
        // per-name metrics without an interval (few samples, no series) stay without a verdict.
        out.overall = within.overall.map {
            judgePair($0, calibration: calibration, minimumEffect: within.minimumEffect, wholeRun: true)
        }
        out.byName = within.byName.map { named in
            var named = named
            named.metrics = named.metrics.map {
                judgePair($0, calibration: calibration, minimumEffect: within.minimumEffect, wholeRun: false)
            }
            return named
        }
        return out
    }

    static func judgePair(
        _ m: MetricComparison,
        calibration: NoiseCalibration?,
        minimumEffect: Double,
        wholeRun: Bool
    ) -> MetricComparison {
        var m = m
        guard m.verdict != .insufficient || (wholeRun && calibration != nil) else { return m }
        guard let calibration, let spread = calibration.spread[m.metric], calibration.rounds >= 3 else {
            m.verdict = .cannotTell
            m.method += "; within-run spread only: one run each, drift between runs is not measured (use volley ab)"
            return m
        }
        let half = StudentT.quantile(0.975, df: Double(calibration.rounds - 1)) * spread
        let higherIsBetter = m.metric == "req/s"
        let source = calibration.experiment.map { "A/A experiment E\($0)" } ?? "an A/A experiment"
        m.method =
            "between-run noise from \(source) (\(calibration.rounds) rounds): change ± t(0.975, "
            + "\(calibration.rounds - 1)) × its spread"
        let d: Double
        switch m.unit {
        case .relative:
            guard m.a > 0, m.b > 0 else {
                m.verdict = .insufficient
                return m
            }
            d = log(m.b / m.a)
            m.low = exp(d - half) - 1
            m.high = exp(d + half) - 1
        case .points:
            d = m.b - m.a
            m.low = d - half
            m.high = d + half
        }
        // Error rates are often 0 in every A/A round (spread 0): a change in points must also
        // reach the minimum effect's quarter, as within a run.
        let large = m.unit == .relative || abs(d) >= minimumEffect / 4
        m.verdict =
            (d - half > 0 || d + half < 0) && large ? ((d > 0) == higherIsBetter ? .better : .worse) : .noChange
        return m
    }

    /// How the two runs' loads differ, one sentence each: a comparison across load shapes
    /// measures the load, not the change.
    public static func loadShapeWarnings(
        _ a: RunSummary,
        _ b: RunSummary,
        planSourceA: String? = nil,
        planSourceB: String? = nil
    ) -> [String] {
        var out: [String] = []
        func describe(_ x: Double?) -> String { x.map { String(format: "%g", $0) } ?? "—" }
        if a.model != b.model { out.append("load model differs: \(a.model) vs \(b.model)") }
        if a.connections != b.connections {
            out.append(
                "connections differ: \(describe(a.connections.map(Double.init))) vs "
                    + describe(b.connections.map(Double.init))
            )
        }
        if let ra = a.rate, let rb = b.rate, abs(ra - rb) > 0.01 * max(ra, rb) {
            out.append("rate differs: \(describe(ra))/s vs \(describe(rb))/s")
        }
        if a.maxConnections != b.maxConnections {
            out.append(
                "connection limit differs: \(describe(a.maxConnections.map(Double.init))) vs "
                    + describe(b.maxConnections.map(Double.init))
            )
        }
        if a.plan != b.plan {
            out.append("plan differs: \(a.plan ?? "none") vs \(b.plan ?? "none")")
        } else if let sa = planSourceA, let sb = planSourceB, sa != sb {
            out.append("plan \(a.plan ?? "") was edited between the runs (its file differs)")
        }
        let longer = max(a.durationS, b.durationS)
        if longer > 0, abs(a.durationS - b.durationS) > max(1, 0.1 * longer) {
            out.append(
                "duration differs: \(String(format: "%.1f", a.durationS)) s vs \(String(format: "%.1f", b.durationS)) s"
            )
        }
        return out
    }
}
