import Histogram
import VolleyCore

/// What one event loop measured while running scenarios: the whole run, each request name,
/// each check, each group, iterations, and the steps that could not be sent. Indexed by the
/// ids of `NameTable`, so every loop's recorder merges element by element.
struct ScenarioRecorder: Sendable {
    var overall: Recorder
    /// By request-name id; nil until that name is first recorded.
    var byName: [Recorder?] = []
    /// By check id.
    var checks: [CheckCounts] = []
    /// Group durations by group id (microsecond HDR histograms).
    var groups: [Histogram<UInt64>?] = []
    /// Steps skipped because a variable they need had no value, by request-name id.
    var skippedSteps: [Int] = []
    /// Captures that found nothing, by request-name id.
    var captureFailures: [Int] = []
    /// Why the first skipped step of each request name was not sent, by request-name id.
    var skipReasons: [String?] = []
    var iterationsCompleted = 0
    /// Ended early: a check with abort_on_fail failed, or the run stopped mid-iteration.
    var iterationsInterrupted = 0
    /// Arrival-rate iterations that found no free VU.
    var iterationsDropped = 0

    init(slowestCapacity: Int, names: NameTable = NameTable()) {
        overall = Recorder(slowestCapacity: slowestCapacity)
        byName = Array(repeating: nil, count: names.requests.count)
        checks = Array(repeating: CheckCounts(), count: names.checks.count)
        groups = Array(repeating: nil, count: names.groups.count)
        skippedSteps = Array(repeating: 0, count: names.requests.count)
        captureFailures = Array(repeating: 0, count: names.requests.count)
        skipReasons = Array(repeating: nil, count: names.requests.count)
    }

    mutating func withName(_ id: Int, _ body: (inout Recorder) -> Void) {
        if byName[id] == nil { byName[id] = Recorder(slowestCapacity: 0) }
        body(&byName[id]!)
    }

    mutating func check(_ id: Int, passed: Bool) {
        if passed { checks[id].passed += 1 } else { checks[id].failed += 1 }
    }

    mutating func recordGroup(_ id: Int, nanos: UInt64) {
        if groups[id] == nil { groups[id] = LatencyHistogram.make() }
        _ = groups[id]!.record(LatencyHistogram.micros(nanos))
    }

    mutating func merge(_ other: ScenarioRecorder) {
        overall.merge(other.overall)
        for (i, r) in other.byName.enumerated() {
            guard let r else { continue }
            if byName[i] == nil { byName[i] = Recorder(slowestCapacity: 0) }
            byName[i]!.merge(r)
        }
        for (i, c) in other.checks.enumerated() {
            checks[i].passed += c.passed
            checks[i].failed += c.failed
        }
        for (i, h) in other.groups.enumerated() {
            guard let h else { continue }
            if groups[i] == nil { groups[i] = LatencyHistogram.make() }
            groups[i]!.add(h)
        }
        // `other` may know fewer names (a setup run alone compiles only the setup's, which
        // come first in every NameTable): ids are shared, the rest is absent there.
        for i in skippedSteps.indices where i < other.skippedSteps.count {
            skippedSteps[i] += other.skippedSteps[i]
            captureFailures[i] += other.captureFailures[i]
            if skipReasons[i] == nil { skipReasons[i] = other.skipReasons[i] }
        }
        iterationsCompleted += other.iterationsCompleted
        iterationsInterrupted += other.iterationsInterrupted
        iterationsDropped += other.iterationsDropped
    }

    /// Per-name recorders by name, for thresholds.
    func recordersByName(_ names: NameTable) -> [String: Recorder] {
        var out: [String: Recorder] = [:]
        for (i, r) in byName.enumerated() {
            guard let r else { continue }
            if out[names.requests[i]] == nil {
                out[names.requests[i]] = r
            } else {
                out[names.requests[i]]!.merge(r)
            }
        }
        return out
    }
}

/// Passes and failures of one check.
struct CheckCounts: Sendable, Equatable {
    var passed = 0
    var failed = 0
}
