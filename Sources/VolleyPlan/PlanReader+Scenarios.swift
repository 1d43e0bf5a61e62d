import VolleyCore

/// Scenarios and their executors, with k6's keys, defaults and checks.
extension PlanReader {
    static let scenarioKeys = ["executor", "start_after", "steps"]

    /// The keys of each executor, in the order the docs list them.
    static let executorKeys: [(kind: String, keys: [String])] = [
        ("constant-vus", ["vus", "duration"]),
        ("ramping-vus", ["start_vus", "stages", "graceful_ramp_down"]),
        ("shared-iterations", ["vus", "iterations", "max_duration"]),
        ("per-vu-iterations", ["vus", "iterations", "max_duration"]),
        ("constant-arrival-rate", ["rate", "duration", "pre_allocated_vus", "max_vus"]),
        ("ramping-arrival-rate", ["start_rate", "stages", "pre_allocated_vus", "max_vus"]),
    ]

    static func keys(of executor: String) -> [String]? {
        executorKeys.first { $0.kind == executor }?.keys
    }

    func readScenarios(_ top: [PlanNode.Pair], planLocation: SourceLocation) -> [Scenario] {
        guard let entry = pair(top, "scenarios") else {
            error(
                "the plan has no scenarios",
                at: planLocation,
                hint: "add scenarios: with at least one scenario (see docs/plan-format.md)"
            )
            return []
        }
        guard let pairs = map(entry.value, "\"scenarios\"") else { return [] }
        guard !pairs.isEmpty else {
            error(
                "the plan has no scenarios",
                at: entry.keyNode.location,
                hint: "add at least one scenario under scenarios:"
            )
            return []
        }
        var scenarios: [Scenario] = []
        for pair in pairs {
            currentSteps = []
            let scenario = readScenario(pair)
            references.scenarios.append((pair.key, currentSteps))
            if let scenario { scenarios.append(scenario) }
        }
        // Each scenario may be within the limit and all of them together not: scenarios run
        // side by side (start_after aside), and their VUs share one process.
        let total = scenarios.reduce(0) { $0 + $1.executor.peakVUs }
        if scenarios.count > 1, total > PlanLimits.maxVUs {
            error(
                "the scenarios use \(total) VUs together, more than one process holds (\(PlanLimits.maxVUs))",
                at: entry.keyNode.location,
                hint: PlanLimits.distributedHint
            )
        }
        return scenarios
    }

    /// A count of VUs: at least `minimum`, at most `PlanLimits.maxVUs` (9223372036854775807
    /// VUs validated and then grew the process to 2 GB in 12 s).
    func vuCount(_ node: PlanNode, _ key: String, minimum: Int) -> Int? {
        guard let n = integer(node, key, minimum: minimum) else { return nil }
        guard n <= PlanLimits.maxVUs else {
            error(
                "\"\(key)\" is \(n), more than one process holds (at most \(PlanLimits.maxVUs) VUs)",
                at: node.location,
                hint: PlanLimits.distributedHint
            )
            return nil
        }
        return n
    }

    private func readScenario(_ entry: PlanNode.Pair) -> Scenario? {
        let name = entry.key
        guard let pairs = map(entry.value, "scenario \"\(name)\"") else { return nil }
        var kind: String?
        if let node = value(pairs, "executor") {
            if let text = text(node, "executor") {
                if Self.keys(of: text) != nil {
                    kind = text
                } else {
                    let kinds = Executor.kinds
                    error(
                        "unknown executor \"\(text)\"",
                        at: node.location,
                        hint: Suggestion.didYouMean(text, among: kinds).map { "did you mean \"\($0)\"?" }
                            ?? "executors are \(kinds.joined(separator: ", "))"
                    )
                }
            }
        } else {
            error(
                "scenario \"\(name)\" has no executor",
                at: entry.keyNode.location,
                hint: "add executor: with one of \(Executor.kinds.joined(separator: ", "))"
            )
        }
        checkScenarioKeys(pairs, executor: kind)
        let executor = kind.flatMap { readExecutor($0, pairs, scenario: entry) }
        let startAfter = optional(pairs, "start_after", default: Duration.zero) {
            duration($0, "start_after", positive: false)
        }
        var steps: [Step] = []
        if let node = value(pairs, "steps") {
            steps = readSteps(node, "\"steps\"")
            if node.isNull || node.items?.isEmpty == true {
                error(
                    "scenario \"\(name)\" has no steps",
                    at: node.location,
                    hint: "add at least one request under steps:"
                )
            }
        } else {
            error(
                "scenario \"\(name)\" has no steps",
                at: entry.keyNode.location,
                hint: "add steps: with at least one request"
            )
        }
        guard let executor, let startAfter else { return nil }
        return Scenario(
            name: name,
            executor: executor,
            startAfter: startAfter,
            steps: steps,
            location: entry.keyNode.location
        )
    }

    /// Unknown keys, and keys that belong to another executor (named, with this one's keys).
    private func checkScenarioKeys(_ pairs: [PlanNode.Pair], executor: String?) {
        let own = executor.flatMap(Self.keys(of:)) ?? []
        let all = Self.scenarioKeys + Self.executorKeys.flatMap(\.keys)
        for pair in pairs where !Self.scenarioKeys.contains(pair.key) && !own.contains(pair.key) {
            if all.contains(pair.key) {
                guard let executor else { continue }
                let owners = Self.executorKeys.filter { $0.keys.contains(pair.key) }.map(\.kind)
                error(
                    "\"\(pair.key)\" does not apply to \(executor)",
                    at: pair.keyNode.location,
                    hint: "\(executor) takes \(own.joined(separator: ", ")); \(pair.key) belongs to "
                        + owners.joined(separator: ", ")
                )
            } else {
                unknownKey(pair, among: executor == nil ? all : Self.scenarioKeys + own, context: "a scenario")
            }
        }
    }

    /// A required key of an executor, or nil after reporting that it is missing.
    private func required(
        _ pairs: [PlanNode.Pair],
        _ key: String,
        _ scenario: PlanNode.Pair,
        example: String
    ) -> PlanNode? {
        if let node = value(pairs, key) { return node }
        error("scenario \"\(scenario.key)\" needs \"\(key)\"", at: scenario.keyNode.location, hint: "e.g. \(example)")
        return nil
    }

    private func readExecutor(_ kind: String, _ pairs: [PlanNode.Pair], scenario: PlanNode.Pair) -> Executor? {
        let tenMinutes = Duration.seconds(600)
        switch kind {
        case "constant-vus":
            let vus = optional(pairs, "vus", default: 1) { vuCount($0, "vus", minimum: 1) }
            let length = required(pairs, "duration", scenario, example: "duration: 30s").flatMap {
                duration($0, "duration", positive: true)
            }
            guard let vus, let length else { return nil }
            return .constantVUs(vus: vus, duration: length)
        case "ramping-vus":
            let start = optional(pairs, "start_vus", default: 0) { vuCount($0, "start_vus", minimum: 0) }
            let stages = required(pairs, "stages", scenario, example: "stages: [{ duration: 1m, target: 100 }]").flatMap
            {
                readVUStages($0)
            }
            let grace = optional(pairs, "graceful_ramp_down", default: Duration.seconds(30)) {
                duration($0, "graceful_ramp_down", positive: false)
            }
            guard let start, let stages, let grace else { return nil }
            return .rampingVUs(startVUs: start, stages: stages, gracefulRampDown: grace)
        case "shared-iterations", "per-vu-iterations":
            let vus = optional(pairs, "vus", default: 1) { vuCount($0, "vus", minimum: 1) }
            let iterations = optional(pairs, "iterations", default: 1) { integer($0, "iterations", minimum: 1) }
            let limit = optional(pairs, "max_duration", default: tenMinutes) {
                duration($0, "max_duration", positive: true)
            }
            guard let vus, let iterations, let limit else { return nil }
            if kind == "per-vu-iterations" {
                return .perVUIterations(vus: vus, iterations: iterations, maxDuration: limit)
            }
            if iterations < vus, let node = value(pairs, "iterations") ?? value(pairs, "vus") {
                error(
                    "\"iterations\" (\(iterations)) is less than \"vus\" (\(vus))",
                    at: node.location,
                    hint: "every VU of shared-iterations needs at least one iteration: lower vus or raise iterations"
                )
                return nil
            }
            return .sharedIterations(vus: vus, iterations: iterations, maxDuration: limit)
        case "constant-arrival-rate":
            let rate = required(pairs, "rate", scenario, example: "rate: 100/s").flatMap {
                self.rate($0, "rate", positive: true)
            }
            let length = required(pairs, "duration", scenario, example: "duration: 1m").flatMap {
                duration($0, "duration", positive: true)
            }
            guard let (pre, max) = readArrivalVUs(pairs, scenario), let rate, let length else { return nil }
            return .constantArrivalRate(rate: rate, duration: length, preAllocatedVUs: pre, maxVUs: max)
        default:
            let start = optional(pairs, "start_rate", default: 0.0) { rate($0, "start_rate", positive: false) }
            let node = required(pairs, "stages", scenario, example: "stages: [{ duration: 1m, target: 100/s }]")
            let stages = node.flatMap { readRateStages($0, startRate: start ?? 0) }
            guard let (pre, max) = readArrivalVUs(pairs, scenario), let stages, start != nil else { return nil }
            return .rampingArrivalRate(stages: stages, preAllocatedVUs: pre, maxVUs: max)
        }
    }

    private func readArrivalVUs(_ pairs: [PlanNode.Pair], _ scenario: PlanNode.Pair) -> (Int, Int)? {
        let pre = required(pairs, "pre_allocated_vus", scenario, example: "pre_allocated_vus: 50").flatMap {
            vuCount($0, "pre_allocated_vus", minimum: 1)
        }
        guard let pre else { return nil }
        let max = optional(pairs, "max_vus", default: pre) { vuCount($0, "max_vus", minimum: 1) }
        guard let max else { return nil }
        if max < pre, let node = value(pairs, "max_vus") {
            error(
                "\"max_vus\" (\(max)) is less than \"pre_allocated_vus\" (\(pre))",
                at: node.location,
                hint: "max_vus is the most VUs the scenario may use, pre-allocated ones included"
            )
            return nil
        }
        return (pre, max)
    }

    /// The `{duration, target}` maps of a stage list, with `target` read by `target`.
    private func readStageList<T>(_ node: PlanNode, _ target: (PlanNode) -> T?) -> [(Duration, T)]? {
        guard let items = list(node, "\"stages\"") else { return nil }
        guard !items.isEmpty else {
            error("\"stages\" is empty", at: node.location, hint: "add at least one { duration: 1m, target: 100 }")
            return nil
        }
        var stages: [(Duration, T)] = []
        var ok = true
        for item in items {
            guard let pairs = map(item, "a stage") else {
                ok = false
                continue
            }
            checkKeys(pairs, allowed: ["duration", "target"], in: "a stage")
            let length = value(pairs, "duration").flatMap { duration($0, "duration", positive: false) }
            let goal = value(pairs, "target").flatMap(target)
            for key in ["duration", "target"] where value(pairs, key) == nil {
                error("a stage needs \"\(key)\"", at: item.location, hint: "e.g. { duration: 1m, target: 100 }")
            }
            guard let length, let goal else {
                ok = false
                continue
            }
            stages.append((length, goal))
        }
        return ok ? stages : nil
    }

    private func readVUStages(_ node: PlanNode) -> [VUStage]? {
        readStageList(node) { vuCount($0, "target", minimum: 0) }?.map { VUStage(duration: $0.0, target: $0.1) }
    }

    /// Each arrival-rate stage ramps from the previous stage's target (or `start_rate`).
    private func readRateStages(_ node: PlanNode, startRate: Double) -> [RateStage]? {
        guard let stages = readStageList(node, { rate($0, "target", positive: false) }) else { return nil }
        var previous = startRate
        return stages.map { (length, target) in
            defer { previous = target }
            return RateStage(duration: length, startRate: previous, endRate: target)
        }
    }
}
