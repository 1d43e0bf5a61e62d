import VolleyCore

/// One run of a sweep at one level, reduced to what the sweep table and its analysis need.
public struct SweepRun: Sendable, Codable, Equatable {
    public var level: Double
    public var repeatIndex: Int
    public var rps: Double
    /// Successful (2xx/3xx) responses per second.
    public var goodput: Double
    public var meanMs: Double
    public var p50Ms: Double
    public var p95Ms: Double
    public var p99Ms: Double
    public var requests: Int
    public var errorRate: Double
    /// Error statuses and transport errors, by kind ("500", "timeout", …).
    public var errors: [String: Int]
    /// The run in the history, when saved.
    public var runID: Int64?

    // "runId", not "runID": experiment JSON converts keys to snake case ("run_id") and back
    // ("runId"); with the synthesized "runID" the id was lost on the way back.
    enum CodingKeys: String, CodingKey {
        case level, repeatIndex, rps, goodput, meanMs, p50Ms, p95Ms, p99Ms, requests, errorRate, errors
        case runID = "runId"
    }

    public init(level: Double, repeatIndex: Int, summary s: RunSummary, runID: Int64? = nil) {
        self.level = level
        self.repeatIndex = repeatIndex
        self.rps = s.rps
        var good = 0
        var errors: [String: Int] = [:]
        for (code, count) in s.status {
            if let value = Int(code), (200..<400).contains(value) { good += count } else { errors[code] = count }
        }
        for (kind, count) in s.transportErrors { errors[kind] = count }
        self.goodput = s.durationS > 0 ? Double(good) / s.durationS : 0
        self.meanMs = s.latencyMs.mean
        self.p50Ms = s.latencyMs.p50
        self.p95Ms = s.latencyMs.p95
        self.p99Ms = s.latencyMs.p99
        self.requests = s.requests
        self.errorRate = s.requests > 0 ? Double(errors.values.reduce(0, +)) / Double(s.requests) : 0
        self.errors = errors
        self.runID = runID
    }
}

/// What a concurrency sweep shows: the knee, the scalability fit, Little's law per level,
/// and the verdict in words.
public struct SweepAnalysis: Sendable, Codable, Equatable {
    /// Per level: the mean over repeats.
    public var levels: [SweepRun]
    public var knee: Knee?
    public var usl: USLFit?
    /// Little's law X·R/N per level (closed model).
    public var littlesLaw: [Double]
    public var verdict: [String]

    public init(runs: [SweepRun], closedModel: Bool = true) {
        var byLevel: [Double: [SweepRun]] = [:]
        for run in runs { byLevel[run.level, default: []].append(run) }
        levels = byLevel.keys.sorted().map { level in
            let group = byLevel[level]!
            func mean(_ key: (SweepRun) -> Double) -> Double { group.map(key).reduce(0, +) / Double(group.count) }
            var merged = group[0]
            merged.repeatIndex = 0
            merged.rps = mean(\.rps)
            merged.goodput = mean(\.goodput)
            merged.meanMs = mean(\.meanMs)
            merged.p50Ms = mean(\.p50Ms)
            merged.p95Ms = mean(\.p95Ms)
            merged.p99Ms = mean(\.p99Ms)
            merged.errorRate = mean(\.errorRate)
            merged.requests = group.map(\.requests).reduce(0, +)
            merged.errors = group.reduce(into: [:]) { total, run in
                for (kind, count) in run.errors { total[kind, default: 0] += count }
            }
            merged.runID = nil
            return merged
        }
        knee = KneeFinder.find(
            levels.map {
                LevelResult(
                    level: $0.level,
                    goodput: $0.goodput,
                    p50Ms: $0.p50Ms,
                    p99Ms: $0.p99Ms,
                    errorRate: $0.errorRate
                )
            }
        )
        usl = closedModel ? USLFit.fit(levels.map { ($0.level, $0.goodput) }) : nil
        littlesLaw =
            closedModel
            ? levels.map { LittlesLaw.ratio(concurrency: $0.level, throughput: $0.rps, meanLatencyMs: $0.meanMs) } : []
        verdict = Self.words(levels: levels, knee: knee, usl: usl, littlesLaw: littlesLaw, closedModel: closedModel)
    }

    static func words(
        levels: [SweepRun],
        knee: Knee?,
        usl: USLFit?,
        littlesLaw: [Double],
        closedModel: Bool
    )
        -> [String]
    {
        guard let top = levels.last else { return ["No level finished."] }
        let unit = closedModel ? "connections" : "req/s offered"
        var lines: [String] = []
        if let knee {
            lines.append(
                "Throughput stopped growing at \(format(knee.level)) \(unit) (≈ \(format(knee.goodput)) ok/s); "
                    + "beyond it, the median latency went from \(formatMs(knee.p50AtKnee)) to "
                    + "\(formatMs(knee.p50AtTop)) ms — more load only queued."
            )
            if let errorLevel = knee.firstErrorLevel {
                lines.append("Errors above 1% from \(format(errorLevel)) \(unit) on.")
            }
        } else {
            lines.append(
                "Throughput was still growing at \(format(top.level)) \(unit) (\(format(top.goodput)) ok/s): "
                    + "no limit reached; sweep higher."
            )
        }
        if let usl {
            var text =
                "Scalability fit (USL, R² \(formatFixed(usl.rSquared, 3))): contention σ = \(formatFixed(usl.sigma, 4)), "
                + "coherency κ = \(formatFixed(usl.kappa, 6))"
            if let peak = usl.peakConcurrency, let x = usl.peakThroughput {
                text += "; throughput peaks near \(format(peak)) connections at ≈ \(format(x)) req/s"
                text += usl.kappa > 0.001 ? " and falls beyond (crosstalk)." : "."
            } else if let x = usl.peakThroughput {
                text += "; throughput flattens towards ≈ \(format(x)) req/s (a serial bottleneck)."
            } else {
                text += "; no limit in sight."
            }
            if usl.sigma > 0.1 {
                text += " A large σ means requests queue for one shared resource (a pool, a lock, a worker)."
            }
            lines.append(text)
        }
        if !littlesLaw.isEmpty {
            let worst = zip(levels, littlesLaw).min { $0.1 < $1.1 }!
            if worst.1 < 0.8 {
                lines.append(
                    "Little's law does not hold at \(format(worst.0.level)) connections (X·R/N = "
                        + "\(formatFixed(worst.1, 2))): connections sat idle — the load generator may be the bottleneck."
                )
            } else {
                lines.append(
                    "Little's law holds at every level (throughput × latency ≈ concurrency, within "
                        + "\(formatFixed((1 - littlesLaw.min()!) * 100, 0))%): the numbers are consistent."
                )
            }
        }
        return lines
    }

    package static func format(_ x: Double) -> String {
        x >= 100 || x == x.rounded() ? String(Int(x.rounded())) : formatFixed(x, 1)
    }

    static func formatMs(_ x: Double) -> String { x >= 10 ? formatFixed(x, 1) : formatFixed(x, 2) }

    static func formatFixed(_ x: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (abs(x) * scale).rounded()
        let whole = Int(rounded / scale)
        var fraction = String(Int(rounded) - whole * Int(scale))
        while fraction.count < decimals { fraction = "0" + fraction }
        return (x < 0 && rounded > 0 ? "-" : "") + String(whole) + (decimals > 0 ? "." + fraction : "")
    }
}

/// A whole sweep as the history keeps it and reports draw it.
public struct SweepResult: Sendable, Codable, Equatable {
    public var target: String
    public var closedModel: Bool
    public var runs: [SweepRun]
    public var analysis: SweepAnalysis
    /// The diagnosis of the levels read as one stepped load (absent in older sweeps).
    public var findings: [Finding]?

    public init(
        target: String,
        closedModel: Bool,
        runs: [SweepRun],
        analysis: SweepAnalysis,
        findings: [Finding]? = nil
    ) {
        self.target = target
        self.closedModel = closedModel
        self.runs = runs
        self.analysis = analysis
        self.findings = findings
    }
}

/// One cell (or aggregate) of a `volley matrix`.
public struct MatrixCell: Sendable, Codable, Equatable {
    public var count: Int
    public var offset: String
    public var route: String?
    public var requests: Int
    /// Percentages by outcome: success, no_response, 4xx, 5xx, other (they add up to 100).
    public var outcomes: [String: Double]
    public var fastestMs: Double
    public var slowestMs: Double
    public var meanMs: Double
    public var medianMs: Double
    /// The cell's run in the history (cells only; absent for aggregates and older matrices).
    public var runID: Int64?

    // "runId" as in SweepRun: experiment JSON converts keys to snake case and back.
    enum CodingKeys: String, CodingKey {
        case count, offset, route, requests, outcomes, fastestMs, slowestMs, meanMs, medianMs
        case runID = "runId"
    }

    public init(
        count: Int,
        offset: String,
        route: String?,
        requests: Int,
        outcomes: [String: Double],
        fastestMs: Double,
        slowestMs: Double,
        meanMs: Double,
        medianMs: Double,
        runID: Int64? = nil
    ) {
        self.runID = runID
        self.count = count
        self.offset = offset
        self.route = route
        self.requests = requests
        self.outcomes = outcomes
        self.fastestMs = fastestMs
        self.slowestMs = slowestMs
        self.meanMs = meanMs
        self.medianMs = medianMs
    }

    public static let categories = ["success", "no_response", "4xx", "5xx", "other"]
}

/// A whole matrix as the history keeps it and reports draw it.
public struct MatrixResult: Sendable, Codable, Equatable {
    public var cells: [MatrixCell]
    public var overall: MatrixCell
    public var routes: [MatrixCell]
    /// Per offset, every count and route together: the field report's "Overall" table
    /// (absent in older matrices).
    public var offsets: [MatrixCell]?
    /// The diagnosis of the cells read as one stepped load (matrices run with --probe).
    public var findings: [Finding]?

    public init(
        cells: [MatrixCell],
        overall: MatrixCell,
        routes: [MatrixCell],
        offsets: [MatrixCell]? = nil,
        findings: [Finding]? = nil
    ) {
        self.cells = cells
        self.overall = overall
        self.routes = routes
        self.offsets = offsets
        self.findings = findings
    }
}
