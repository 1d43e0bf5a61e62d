import VolleyCore

/// One paragraph saying what a plan will do — scenarios, executors, VUs, iterations, rates,
/// durations, steps and thresholds — so `volley validate` shows the plan as Volley understood
/// it, which is where a wrong unit or a forgotten stage becomes obvious.
public enum PlanSummary {
    /// Sentences separated by ". ", unwrapped: the caller wraps them for its medium.
    public static func describe(_ loaded: LoadedPlan) -> String {
        let plan = loaded.plan
        var sentences: [String] = []
        let target = plan.baseURL.map { " against \($0)" } ?? ""
        let count = plan.scenarios.count
        sentences.append(
            "Plan \"\(plan.name)\"\(target) runs \(count == 1 ? "1 scenario" : "\(count) scenarios at once")"
        )
        for scenario in plan.scenarios {
            let start = scenario.startAfter > .zero ? ", starting after \(format(scenario.startAfter))" : ""
            sentences.append(
                "\"\(scenario.name)\": \(describe(scenario.executor))\(start); \(describe(steps: scenario.steps))"
            )
        }
        if !plan.setup.isEmpty { sentences.append("Setup: \(describe(steps: plan.setup))") }
        if !plan.teardown.isEmpty { sentences.append("Teardown: \(describe(steps: plan.teardown))") }
        if !plan.feeds.isEmpty {
            let feeds = plan.feeds.map { feed in
                let rows = loaded.feeds[feed.name].map { "\($0.rows.count) rows" } ?? "no rows"
                return "\(feed.name) (\(rows), \(describe(feed.order)))"
            }
            sentences.append("Feeds: " + feeds.joined(separator: ", "))
        }
        if !plan.thresholds.isEmpty {
            let thresholds = plan.thresholds.map { t in
                t.expression + (t.requestName.map { " for \($0)" } ?? "") + (t.abortOnFail ? " (aborts)" : "")
            }
            sentences.append("Thresholds: " + thresholds.joined(separator: "; "))
        }
        if !plan.probes.isEmpty {
            let probes = plan.probes.map { Redaction.credentials(in: $0.spec) }
            sentences.append("Probes: " + probes.joined(separator: "; "))
        }
        return sentences.joined(separator: ". ") + "."
    }

    static func describe(_ executor: Executor) -> String {
        switch executor {
        case .constantVUs(let vus, let duration):
            return "constant-vus, \(plural(vus, "VU")) for \(format(duration))"
        case .rampingVUs(let start, let stages, let grace):
            let targets = stages.map { String($0.target) }.joined(separator: " → ")
            let total = stages.reduce(Duration.zero) { $0 + $1.duration }
            return "ramping-vus, \(start) → \(targets) VUs over \(format(total)) (graceful ramp-down \(format(grace)))"
        case .sharedIterations(let vus, let iterations, let limit):
            return
                "shared-iterations, \(plural(iterations, "iteration")) shared by \(plural(vus, "VU")) (at most \(format(limit)))"
        case .perVUIterations(let vus, let iterations, let limit):
            return
                "per-vu-iterations, \(plural(vus, "VU")) × \(plural(iterations, "iteration")) each (at most \(format(limit)))"
        case .constantArrivalRate(let rate, let duration, let pre, let max):
            let total = format((rate * duration.seconds).rounded())
            return
                "constant-arrival-rate, \(format(rate)) iterations/s for \(format(duration)) (about \(total)) on \(vus(pre, max))"
        case .rampingArrivalRate(let stages, let pre, let max):
            let rates = ([stages.first?.startRate ?? 0] + stages.map(\.endRate)).map(format).joined(separator: " → ")
            let total = stages.reduce(Duration.zero) { $0 + $1.duration }
            return "ramping-arrival-rate, \(rates) iterations/s over \(format(total)) on \(vus(pre, max))"
        }
    }

    private static func vus(_ pre: Int, _ max: Int) -> String {
        pre == max ? plural(pre, "VU") : "\(pre) to \(max) VUs"
    }

    private static func describe(_ order: DataFeed.Order) -> String {
        switch order {
        case .sequential: return "sequential"
        case .random: return "random"
        case .unique(let recycle): return recycle ? "unique, recycled" : "unique, stops when used up"
        }
    }

    /// `4 steps (2 requests, 2 think times)`, counting the steps inside groups.
    static func describe(steps: [Step]) -> String {
        var requests = 0
        var thinks = 0
        var groups = 0
        func count(_ steps: [Step]) {
            for step in steps {
                switch step {
                case .request: requests += 1
                case .think: thinks += 1
                case .group(_, let inner, _):
                    groups += 1
                    count(inner)
                }
            }
        }
        count(steps)
        var parts = [plural(requests, "request")]
        if thinks > 0 { parts.append(plural(thinks, "think time")) }
        if groups > 0 { parts.append(plural(groups, "group")) }
        return parts.joined(separator: ", ")
    }

    private static func plural(_ n: Int, _ word: String) -> String {
        "\(n) \(word)\(n == 1 ? "" : "s")"
    }

    static func format(_ rate: Double) -> String {
        rate == rate.rounded() && abs(rate) < 1e15 ? String(Int64(rate)) : String(rate)
    }

    /// `2m`, `1m30s`, `1.5s`, `250ms`, `1h`: the way durations are written in plans.
    static func format(_ duration: Duration) -> String {
        let ms = (duration.seconds * 1000).rounded()
        if ms < 1000 { return "\(Int64(ms))ms" }
        var seconds = ms / 1000
        var out = ""
        let hours = Int64(seconds / 3600)
        if hours > 0 { out += "\(hours)h" }
        seconds -= Double(hours) * 3600
        let minutes = Int64(seconds / 60)
        if minutes > 0 { out += "\(minutes)m" }
        seconds -= Double(minutes) * 60
        if seconds > 0 { out += format(seconds) + "s" }
        return out
    }
}
