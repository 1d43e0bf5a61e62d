import Histogram
import VolleyCore

/// What one event loop measured while running scenarios: the whole run, each request name,
/// each check, iterations, and the steps that could not be sent.
struct ScenarioRecorder: Sendable {
    var overall: Recorder
    var byName: [String: Recorder] = [:]
    /// Keyed by "request name › check name".
    var checks: [String: CheckCounts] = [:]
    var checkOrder: [String] = []
    var iterationsCompleted = 0
    /// Ended early: a check with abort_on_fail failed, or the run stopped mid-iteration.
    var iterationsInterrupted = 0
    /// Arrival-rate iterations that found no free VU.
    var iterationsDropped = 0
    /// Steps skipped because a variable they need was never captured, by request name.
    var skippedSteps: [String: Int] = [:]
    /// Captures that found nothing, by request name.
    var captureFailures: [String: Int] = [:]
    var slowestCapacity: Int
    /// Durations of completed groups, by name (microsecond HDR histograms).
    var groups: [String: Histogram<UInt64>] = [:]

    init(slowestCapacity: Int) {
        self.slowestCapacity = slowestCapacity
        overall = Recorder(slowestCapacity: slowestCapacity)
    }

    mutating func withName(_ name: String, _ body: (inout Recorder) -> Void) {
        if byName[name] == nil { byName[name] = Recorder(slowestCapacity: 0) }
        body(&byName[name]!)
    }

    mutating func check(_ key: String, passed: Bool) {
        if checks[key] == nil {
            checks[key] = CheckCounts()
            checkOrder.append(key)
        }
        if passed { checks[key]!.passed += 1 } else { checks[key]!.failed += 1 }
    }

    mutating func recordGroup(_ name: String, nanos: UInt64) {
        if groups[name] == nil { groups[name] = LatencyHistogram.make() }
        _ = groups[name]!.record(LatencyHistogram.micros(nanos))
    }

    mutating func merge(_ other: ScenarioRecorder) {
        for (name, h) in other.groups {
            if groups[name] == nil { groups[name] = LatencyHistogram.make() }
            groups[name]!.add(h)
        }
        overall.merge(other.overall)
        for (name, r) in other.byName {
            if byName[name] == nil { byName[name] = Recorder(slowestCapacity: 0) }
            byName[name]!.merge(r)
        }
        for key in other.checkOrder {
            let c = other.checks[key]!
            if checks[key] == nil {
                checks[key] = CheckCounts()
                checkOrder.append(key)
            }
            checks[key]!.passed += c.passed
            checks[key]!.failed += c.failed
        }
        iterationsCompleted += other.iterationsCompleted
        iterationsInterrupted += other.iterationsInterrupted
        iterationsDropped += other.iterationsDropped
        skippedSteps.merge(other.skippedSteps, uniquingKeysWith: +)
        captureFailures.merge(other.captureFailures, uniquingKeysWith: +)
    }
}

/// Passes and failures of one check.
struct CheckCounts: Sendable, Equatable {
    var passed = 0
    var failed = 0
}
