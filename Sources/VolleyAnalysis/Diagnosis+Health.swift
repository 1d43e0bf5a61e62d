import Foundation
import VolleyCore

// Rules about what the load balancer would have done: readiness probes.
extension Diagnosis {
    static func healthWouldFail(_ v: RunView) -> Finding? {
        guard let health = v.run.health, health.wouldHaveBeenRemoved,
            let down = health.transitions.first(where: { !$0.ready })
        else { return nil }
        let unready = health.unreadySeconds(until: v.run.durationS)
        let failures = health.polls.filter { !$0.ok }
        var reasons: [String: Int] = [:]
        for f in failures { reasons[f.error ?? "failed", default: 0] += 1 }
        let reasonText = reasons.sorted { $0.value > $1.value }.map { "\($0.value) × \($0.key)" }.joined(
            separator: ", "
        )
        return Finding(
            id: .healthWouldFail,
            title: "The readiness probe would have failed",
            statement:
                "With Kubernetes' rules (period \(Fmt.num(health.periodS)) s, timeout \(Fmt.num(health.timeoutS)) s, "
                + "failureThreshold \(health.failureThreshold)), this instance would have been marked unready at "
                + "\(Fmt.s(down.t)) and taken out of the load balancer for \(Fmt.s(unready)): its load would have "
                + "moved to the others.",
            evidence: [
                "\(health.url): \(failures.count) of \(health.polls.count) probes failed (\(reasonText))",
                "transitions: "
                    + health.transitions.map { "\($0.ready ? "ready" : "unready") at \(Fmt.s($0.t))" }.joined(
                        separator: ", "
                    ),
            ],
            next: "Keep readiness off the saturated resource (no database query, or its own connection), raise "
                + "timeoutSeconds/failureThreshold, and fix the saturation that slows the probe.",
            severity: .critical,
            since: down.t
        )
    }
}
