import Histogram
import VolleyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a distributed run asks of an engine beyond the load itself: to start at an agreed
/// moment, and to keep what a result bundle needs (each second's latency histogram).
public struct EngineOptions: Sendable {
    /// Awaited just before time zero, after connections are warmed up and a plan's setup has
    /// run: a rendezvous's start, or `--start-at`. It receives the variables this machine's
    /// setup captured and returns the ones every VU starts with (segment 0's setup, shared
    /// by the rendezvous). A throw ends the run before any load.
    public var startGate: (@Sendable ([String: String]) async throws -> [String: String])?
    /// Keep each timeline interval's latency histogram (``EngineResults/intervals``).
    public var keepIntervals: Bool
    /// Plans: run the setup steps here (false on segments that receive segment 0's).
    public var runsSetup: Bool
    /// Plans: run the teardown steps here (false on segments other than 0).
    public var runsTeardown: Bool
    /// Plans: told when one of this machine's abort-on-fail thresholds stops the run, so a
    /// rendezvous can stop the other segments too.
    public var onAbort: (@Sendable (String) -> Void)?

    public init(
        startGate: (@Sendable ([String: String]) async throws -> [String: String])? = nil,
        keepIntervals: Bool = false,
        runsSetup: Bool = true,
        runsTeardown: Bool = true,
        onAbort: (@Sendable (String) -> Void)? = nil
    ) {
        self.startGate = startGate
        self.keepIntervals = keepIntervals
        self.runsSetup = runsSetup
        self.runsTeardown = runsTeardown
        self.onAbort = onAbort
    }
}

/// What an engine measured, before it became a summary: the recorders a result bundle is
/// made of, so N segments can be merged into exactly one run's summary.
public struct EngineResults: Sendable {
    public var overall: Recorder
    /// Plans: per request name.
    public var byName: [String: Recorder]
    /// Plans: per group, the durations of its blocks.
    public var groups: [String: Histogram<UInt64>]
    /// Per timeline entry, its latency histogram, encoded as the bundle keeps it (a one-hour
    /// run's 3,600 histograms would hold 700 MB decoded); empty unless
    /// ``EngineOptions/keepIntervals``.
    public var intervals: [BundleHistogram?]
    /// Time zero on this machine's wall clock (ns since 1970).
    public var startedAtUnixNanos: Int64
}

/// Collects each interval's latency histogram while the timeline is merged (only when a
/// bundle will be written: a one-hour run keeps 3,600 of them).
final class IntervalKeeper: @unchecked Sendable {
    // Safety: only `collectTimeline`'s single task appends, and it has returned before
    // `histograms` is read.
    private(set) var histograms: [BundleHistogram?] = []

    func keep(_ h: Histogram<UInt64>) {
        histograms.append(h.totalCount > 0 ? BundleHistogram(h) : nil)
    }
}
