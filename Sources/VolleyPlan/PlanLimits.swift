import VolleyCore

/// What one Volley process can hold, checked when a plan is validated rather than found
/// out by running out of memory: `start_vus: 9223372036854775807` validated, then grew to
/// 2 GB in 12 s and ignored Ctrl-C.
public enum PlanLimits {
    /// VUs per process, per scenario and over all scenarios. A VU costs a few KB plus a
    /// socket; 100,000 is about what one machine's file descriptors and memory allow, and
    /// beyond it the generator, not the service, becomes what is measured.
    public static let maxVUs = 100_000

    static let distributedHint =
        "at most 100,000 VUs per process; split the load over several machines (distributed runs)"
}

extension Executor {
    /// The most VUs the executor can have at once.
    var peakVUs: Int {
        switch self {
        case .constantVUs(let vus, _), .perVUIterations(let vus, _, _), .sharedIterations(let vus, _, _):
            return vus
        case .rampingVUs(let start, let stages, _):
            return stages.reduce(start) { max($0, $1.target) }
        case .constantArrivalRate(_, _, let pre, let most), .rampingArrivalRate(_, let pre, let most):
            return max(pre, most)
        }
    }
}
