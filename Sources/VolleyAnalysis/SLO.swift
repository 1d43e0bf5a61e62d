import VolleyCore

/// A service-level objective such as `p99<500ms,errors<1%`: what `find-max` must keep.
public struct SLO: Sendable, Equatable, Codable, CustomStringConvertible {
    public struct Condition: Sendable, Equatable, Codable {
        /// p50, p90, p95, p99, p999, max, mean, or errors.
        public var metric: String
        /// The limit: milliseconds for latency, a fraction for errors.
        public var limit: Double
        public var inclusive: Bool
    }

    public var conditions: [Condition]

    public var description: String {
        conditions.map { c in
            let op = c.inclusive ? "<=" : "<"
            return c.metric == "errors" ? "errors\(op)\(trim(c.limit * 100))%" : "\(c.metric)\(op)\(trim(c.limit))ms"
        }.joined(separator: ",")
    }

    /// Parses `p99<500ms,errors<1%` (also `p(99) < 0.5s`, `error_rate<=0.01`, `avg<20ms`).
    public static func parse(_ text: String) throws -> SLO {
        var conditions: [Condition] = []
        for part in text.split(separator: ",") {
            let clause = String(part.filter { $0 != " " })
            let inclusive = clause.contains("<=")
            let pieces = clause.split(separator: "<", omittingEmptySubsequences: false).map {
                String($0.hasPrefix("=") ? $0.dropFirst() : $0[...])
            }
            guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty else {
                throw InputError(
                    "'\(part)' is not an SLO condition",
                    hint: "write metric<limit, e.g. p99<500ms,errors<1%"
                )
            }
            var metric = String(pieces[0].lowercased().filter { $0 != "(" && $0 != ")" })
            switch metric {
            case "error_rate", "errors", "error", "err": metric = "errors"
            case "avg", "mean": metric = "mean"
            case "med", "median": metric = "p50"
            case "p50", "p90", "p95", "p99", "p999", "p99.9", "max": metric = metric == "p99.9" ? "p999" : metric
            default:
                throw InputError(
                    "unknown SLO metric '\(pieces[0])'",
                    hint: "use p50, p90, p95, p99, p999, max, mean or errors"
                )
            }
            let value = pieces[1].lowercased()
            let limit: Double
            if metric == "errors" {
                if value.hasSuffix("%"), let v = Double(value.dropLast()) {
                    limit = v / 100
                } else if let v = Double(value) {
                    limit = v
                } else {
                    throw InputError("'\(pieces[1])' is not an error rate", hint: "e.g. errors<1% or errors<0.01")
                }
            } else {
                do {
                    limit = try DurationText.parse(value).seconds * 1000
                } catch {
                    throw InputError("'\(pieces[1])' is not a latency", hint: "e.g. p99<500ms or p99<1s")
                }
            }
            conditions.append(Condition(metric: metric, limit: limit, inclusive: inclusive))
        }
        guard !conditions.isEmpty else { throw InputError("an empty SLO", hint: "e.g. p99<500ms,errors<1%") }
        return SLO(conditions: conditions)
    }

    /// The measured value of each condition, and whether it holds.
    public func evaluate(_ s: RunSummary) -> [(condition: Condition, actual: Double, met: Bool)] {
        conditions.map { c in
            let actual: Double
            switch c.metric {
            case "errors": actual = s.errorRate
            case "p50": actual = s.latencyMs.p50
            case "p90": actual = s.latencyMs.p90
            case "p95": actual = s.latencyMs.p95
            case "p99": actual = s.latencyMs.p99
            case "p999": actual = s.latencyMs.p999
            case "max": actual = s.latencyMs.max
            default: actual = s.latencyMs.mean
            }
            return (c, actual, c.inclusive ? actual <= c.limit : actual < c.limit)
        }
    }

    private func trim(_ x: Double) -> String {
        x == x.rounded() ? String(Int(x)) : String(x)
    }
}

/// The search of `find-max`: grow the rate ×2 while the SLO holds, then bisect between the
/// last rate that held and the first that did not, until they are within `precision`.
public struct MaxRateSearch: Sendable {
    public var start: Double
    public var ceiling: Double
    public var precision: Double
    public var maxSteps: Int

    public private(set) var passed: Double?
    public private(set) var failed: Double?
    public private(set) var steps = 0

    public init(start: Double, ceiling: Double, precision: Double = 0.05, maxSteps: Int = 12) {
        self.start = start
        self.ceiling = ceiling
        self.precision = precision
        self.maxSteps = maxSteps
    }

    /// The next rate to try, or nil when the search is over.
    public func next() -> Double? {
        guard steps < maxSteps else { return nil }
        switch (passed, failed) {
        case (nil, nil): return start
        case (let p?, nil): return p >= ceiling ? nil : min(p * 2, ceiling)
        case (nil, let f?): return f <= 1 ? nil : max(1, f / 2)
        case (let p?, let f?): return (f - p) / p <= precision ? nil : ((p + f) / 2).rounded()
        }
    }

    public mutating func record(rate: Double, met: Bool) {
        steps += 1
        if met {
            passed = max(passed ?? 0, rate)
        } else {
            failed = min(failed ?? .infinity, rate)
        }
    }
}

/// One step of a `find-max` search.
public struct MaxRateStep: Sendable, Codable, Equatable {
    public var rate: Double
    public var achieved: Double
    public var p50Ms: Double
    public var p99Ms: Double
    public var errorRate: Double
    public var met: Bool
    /// The conditions that failed, in words.
    public var why: String
    public var runID: Int64?

    public init(
        rate: Double,
        achieved: Double,
        p50Ms: Double,
        p99Ms: Double,
        errorRate: Double,
        met: Bool,
        why: String,
        runID: Int64?
    ) {
        self.rate = rate
        self.achieved = achieved
        self.p50Ms = p50Ms
        self.p99Ms = p99Ms
        self.errorRate = errorRate
        self.met = met
        self.why = why
        self.runID = runID
    }
}

/// A whole `find-max` as the history keeps it.
public struct MaxRateResult: Sendable, Codable, Equatable {
    public var target: String
    public var slo: SLO
    public var steps: [MaxRateStep]
    /// The highest rate that met the SLO, and the lowest that did not.
    public var passed: Double?
    public var failed: Double?

    public init(target: String, slo: SLO, steps: [MaxRateStep], passed: Double?, failed: Double?) {
        self.target = target
        self.slo = slo
        self.steps = steps
        self.passed = passed
        self.failed = failed
    }
}

/// A whole `volley time` as the history keeps it: per repeat, the total and per-request time.
public struct TimingResult: Sendable, Codable, Equatable {
    public struct Repeat: Sendable, Codable, Equatable {
        public var totalMs: Double
        public var perRequestMs: Double
        public var p99Ms: Double
        public var runID: Int64?

        public init(totalMs: Double, perRequestMs: Double, p99Ms: Double, runID: Int64?) {
            self.totalMs = totalMs
            self.perRequestMs = perRequestMs
            self.p99Ms = p99Ms
            self.runID = runID
        }
    }

    public var url: String
    public var number: Int
    public var repeats: [Repeat]
    /// Per request: the best, mean and worst repeat.
    public var bestMs: Double
    public var meanMs: Double
    public var worstMs: Double

    public init(url: String, number: Int, repeats: [Repeat]) {
        self.url = url
        self.number = number
        self.repeats = repeats
        let per = repeats.map(\.perRequestMs)
        bestMs = per.min() ?? 0
        worstMs = per.max() ?? 0
        meanMs = per.isEmpty ? 0 : per.reduce(0, +) / Double(per.count)
    }
}
