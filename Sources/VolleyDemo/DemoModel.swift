import VolleyAnalysis
import VolleyCore
import VolleyLab

/// What `volley demo` does, adjustable so that tests can run a short version of the story.
public struct DemoOptions: Sendable {
    /// Concurrency levels of the stepped load (closed model: connections).
    public var levels: [Int] = [1, 2, 4, 8, 16, 32, 64]
    /// How long each level runs.
    public var stepDuration: Duration = .seconds(6)
    /// Where the artifacts go.
    public var outputDirectory: String = "volley-demo"
    /// Event loops for the load generator; `nil` = one per core.
    public var threads: Int?
    /// The lab as the story starts: a small pool in front of a slow database, no cache.
    public var lab: LabConfiguration = DemoOptions.constrainedLab
    /// The levels the knobs are compared at (default: the two highest).
    public var comparisonLevels: [Int]?
    /// Where the steps are saved (`nil`: not saved).
    public var historyDirectory: String?
    /// How long the user-journey plan runs against each lab (zero skips that act).
    public var journeyDuration: Duration = .seconds(6)

    public init() {}

    /// The field's QueuePool (5 + 10, 30 s) scaled down so that the demo breaks it within a
    /// minute on a 2-core machine: 2 + 2 connections, 20 ms per query, 250 ms pool timeout.
    public static var constrainedLab: LabConfiguration {
        var c = LabConfiguration()
        c.port = 0
        c.poolSize = 2
        c.poolOverflow = 2
        c.poolTimeout = .milliseconds(250)
        c.queryLatency = .milliseconds(20)
        return c
    }

    /// A quick version for tests and `volley demo --quick`: three short levels.
    public static var quick: DemoOptions {
        var o = DemoOptions()
        o.levels = [1, 4, 32]
        o.stepDuration = .seconds(1)
        o.journeyDuration = .seconds(1)
        return o
    }
}

/// The pool's side of one step, sampled from the lab while the load ran.
public struct PoolEvidence: Sendable, Codable, Equatable {
    /// Connections the pool may open (size + overflow).
    public var capacity: Int
    /// Most connections in use at once.
    public var maxCheckedOut: Int
    /// Most requests waiting for a connection at once.
    public var maxWaiting: Int
    /// Checkouts that gave up after the pool timeout during the step.
    public var timeouts: Int
    /// Mean wait for a connection per checkout during the step, in milliseconds.
    public var meanWaitMs: Double
}

/// One measured level.
public struct DemoStep: Sendable, Codable, Equatable {
    public var connections: Int
    /// Successful (2xx/3xx) responses per second.
    public var goodput: Double
    public var rps: Double
    public var p50Ms: Double
    public var p90Ms: Double
    public var p99Ms: Double
    public var requests: Int
    /// Error statuses and transport errors, by kind ("500", "no_response", …).
    public var errors: [String: Int]
    public var errorRate: Double
    public var pool: PoolEvidence
    /// The full run summary, relative to the output directory.
    public var summaryFile: String
    /// The step's id in the run history, when it was saved.
    public var runID: Int64?

    var levelResult: LevelResult {
        LevelResult(level: Double(connections), goodput: goodput, p50Ms: p50Ms, p99Ms: p99Ms, errorRate: errorRate)
    }
}

/// One knob changed, and the same load again.
public struct DemoComparison: Sendable, Codable, Equatable {
    public var knob: String
    public var change: String
    public var lab: LabConfiguration
    public var steps: [DemoStep]
}

/// Everything the demo measured, written to demo.json.
public struct DemoReport: Sendable, Codable, Equatable {
    public var volleyVersion: String
    public var endpoint: String
    public var stepSeconds: Double
    public var lab: LabConfiguration
    public var baseline: [DemoStep]
    public var knee: Knee?
    /// The bottleneck in a few words, when the evidence names one.
    public var bottleneck: String?
    /// The diagnosis of the stepped load, read from the lab's /metrics and a readiness watch.
    public var findings: [Finding]?
    public var comparisons: [DemoComparison]
    /// The user-journey plan against the lab as it was and with the cache on.
    public var journey: [DemoJourney]
    public var interrupted: Bool
}

/// One run of the journey plan.
public struct DemoJourney: Sendable, Codable, Equatable {
    public var lab: String
    public var requests: [NamedRequestStats]
    public var thresholds: [ThresholdResult]
    public var checks: [CheckResult]
    /// The full run summary, relative to the output directory.
    public var summaryFile: String
}
