/// The outcome of one threshold, as shown in the summary (✓/✗) and the JSON.
public struct ThresholdResult: Equatable, Sendable, Codable {
    public var expression: String
    /// The request name it was restricted to, if any.
    public var request: String?
    /// The measured value in the threshold's unit (ms, fraction, req/s); nil when there was
    /// nothing to measure (no request of that name), which fails the threshold.
    public var actual: Double?
    public var passed: Bool

    public init(expression: String, request: String?, actual: Double?, passed: Bool) {
        self.expression = expression
        self.request = request
        self.actual = actual
        self.passed = passed
    }
}

extension Threshold {
    /// Evaluates against merged recorders (histograms, so any percentile is exact to 0.1 %).
    /// A threshold on a request name that never ran fails: silence is not success.
    public func evaluate(
        overall: Recorder,
        byName: [String: Recorder],
        checkPasses: Int,
        checkFails: Int,
        duration: Double
    ) -> ThresholdResult {
        let recorder: Recorder? = requestName.map { byName[$0] } ?? overall
        var actual: Double?
        switch metric {
        case .latencyPercentile(let p):
            if let r = recorder, r.latency.totalCount > 0 { actual = Double(r.latency.valueAtPercentile(p)) / 1000 }
        case .latencyMean:
            if let r = recorder, r.latency.totalCount > 0 { actual = r.latency.mean / 1000 }
        case .latencyMax:
            if let r = recorder, r.latency.totalCount > 0 { actual = Double(r.latency.max) / 1000 }
        case .errorRate:
            if let r = recorder, r.completed + r.failed > 0 {
                actual = Double(r.errors) / Double(r.completed + r.failed)
            }
        case .checkPassRate:
            if checkPasses + checkFails > 0 { actual = Double(checkPasses) / Double(checkPasses + checkFails) }
        case .rps:
            if let r = recorder, duration > 0 { actual = Double(r.completed) / duration }
        case .phase(let phase, let statistic):
            // A phase nothing recorded (tls on plain HTTP, connect when every connection was
            // reused from a warm-up) has no value and fails, like a request name that never ran.
            if let h = recorder?.phases.histogram(phase), h.totalCount > 0 {
                switch statistic {
                case .percentile(let p): actual = Double(h.valueAtPercentile(p)) / 1000
                case .mean: actual = h.mean / 1000
                case .max: actual = Double(h.max) / 1000
                }
            }
        case .probe:
            return ThresholdResult(expression: expression, request: requestName, actual: nil, passed: false)
        }
        return judged(actual)
    }

    /// A probe threshold, once the probes have stopped. A series no probe returned fails:
    /// a limit nobody measured is not a limit that held.
    public func evaluate(probes: [ProbeResult]) -> ThresholdResult {
        guard case .probe(let name, let reduce) = metric else {
            return ThresholdResult(expression: expression, request: requestName, actual: nil, passed: false)
        }
        let values = probes.flatMap { $0.values(name) }.filter(\.isFinite)
        var actual: Double?
        if !values.isEmpty {
            switch reduce {
            case .max: actual = values.max()
            case .min: actual = values.min()
            case .avg: actual = values.reduce(0, +) / Double(values.count)
            case .last: actual = probes.compactMap { $0.values(name).last }.last
            }
        }
        return judged(actual)
    }

    public var isProbeThreshold: Bool {
        if case .probe = metric { return true }
        return false
    }

    private func judged(_ actual: Double?) -> ThresholdResult {
        let passed: Bool
        if let a = actual {
            switch comparison {
            case .lessThan: passed = a < value
            case .lessOrEqual: passed = a <= value
            case .greaterThan: passed = a > value
            case .greaterOrEqual: passed = a >= value
            }
        } else {
            passed = false
        }
        return ThresholdResult(expression: expression, request: requestName, actual: actual, passed: passed)
    }
}
