/// The readiness probe's rules as Kubernetes applies them, so that a run can say whether the
/// instance under load would have been taken out of the load balancer.
///
/// A probe fails when it answers outside 200–399 or not within its timeout; after
/// `failureThreshold` consecutive failures the instance becomes unready (no traffic), and it
/// takes `successThreshold` consecutive successes to become ready again. The instance starts
/// ready: it was serving before the load began.
public struct ReadinessTracker: Sendable, Equatable {
    public let failureThreshold: Int
    public let successThreshold: Int
    public private(set) var ready = true
    private var consecutiveFailures = 0
    private var consecutiveSuccesses = 0

    public init(failureThreshold: Int = 3, successThreshold: Int = 1) {
        self.failureThreshold = max(1, failureThreshold)
        self.successThreshold = max(1, successThreshold)
    }

    /// Feeds one probe result; returns the transition it caused, if any.
    public mutating func observe(ok: Bool, at t: Double) -> HealthTransition? {
        if ok {
            consecutiveFailures = 0
            consecutiveSuccesses += 1
            if !ready && consecutiveSuccesses >= successThreshold {
                ready = true
                return HealthTransition(t: t, ready: true, reason: "\(consecutiveSuccesses) consecutive successes")
            }
        } else {
            consecutiveSuccesses = 0
            consecutiveFailures += 1
            if ready && consecutiveFailures >= failureThreshold {
                ready = false
                return HealthTransition(t: t, ready: false, reason: "\(consecutiveFailures) consecutive failures")
            }
        }
        return nil
    }
}

/// The instance changed state in the load balancer's eyes.
public struct HealthTransition: Codable, Equatable, Sendable {
    /// Seconds into the run.
    public var t: Double
    public var ready: Bool
    public var reason: String

    public init(t: Double, ready: Bool, reason: String) {
        self.t = t
        self.ready = ready
        self.reason = reason
    }
}

/// One readiness probe.
public struct HealthPoll: Codable, Equatable, Sendable {
    public var t: Double
    public var ok: Bool
    /// The HTTP status, when an answer came within the timeout.
    public var status: Int?
    public var latencyMs: Double?
    /// Why it failed: "timeout after 1s", "HTTP 503", "connection refused" …
    public var error: String?

    public init(t: Double, ok: Bool, status: Int? = nil, latencyMs: Double? = nil, error: String? = nil) {
        self.t = t
        self.ok = ok
        self.status = status
        self.latencyMs = latencyMs
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case t, ok, status
        case latencyMs = "latency_ms"
        case error
    }
}

/// `--watch-health`: every probe, the transitions, and what they mean for the run.
public struct HealthWatchResult: Codable, Equatable, Sendable {
    /// The readiness URL, without credentials.
    public var url: String
    public var periodS: Double
    public var timeoutS: Double
    public var failureThreshold: Int
    public var successThreshold: Int
    public var polls: [HealthPoll]
    public var transitions: [HealthTransition]

    public init(
        url: String,
        periodS: Double,
        timeoutS: Double,
        failureThreshold: Int,
        successThreshold: Int,
        polls: [HealthPoll]
    ) {
        self.url = url
        self.periodS = periodS
        self.timeoutS = timeoutS
        self.failureThreshold = failureThreshold
        self.successThreshold = successThreshold
        self.polls = polls
        var tracker = ReadinessTracker(failureThreshold: failureThreshold, successThreshold: successThreshold)
        transitions = polls.compactMap { tracker.observe(ok: $0.ok, at: $0.t) }
    }

    /// Whether the instance would have been marked unready at least once.
    public var wouldHaveBeenRemoved: Bool { transitions.contains { !$0.ready } }

    /// Seconds spent unready, up to `end` (the end of the run).
    public func unreadySeconds(until end: Double) -> Double {
        var total = 0.0
        var since: Double?
        for tr in transitions {
            if !tr.ready, since == nil { since = tr.t }
            if tr.ready, let s = since {
                total += tr.t - s
                since = nil
            }
        }
        if let s = since { total += max(0, end - s) }
        return total
    }

    public var failures: Int { polls.filter { !$0.ok }.count }

    enum CodingKeys: String, CodingKey {
        case url
        case periodS = "period_s"
        case timeoutS = "timeout_s"
        case failureThreshold = "failure_threshold"
        case successThreshold = "success_threshold"
        case polls, transitions
    }
}

extension RunSummary {
    /// Whether the run read the server's side (a probe or a health watch): a quiet diagnosis is
    /// then a result worth stating, not an absence of data.
    public var readServerSide: Bool { !(probes ?? []).isEmpty || health != nil }
}
