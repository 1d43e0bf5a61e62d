import Foundation
import VolleyCore

/// Something on the server's side that can be read once a second while the load runs: a
/// database, a cache, a process, a metrics endpoint, or Volley itself.
///
/// Sources turn their own counters into per-second rates (they keep the previous reading),
/// so that every series a source returns can be charted and judged as it is.
public protocol ProbeSource: AnyObject, Sendable {
    /// "prometheus", "postgres", "redis", "process", "cgroup", "volley" …: which rules of the
    /// diagnosis can read this source's series.
    var kind: String { get }
    /// What is probed, without credentials: safe for output, history and reports.
    var displayName: String { get }
    /// Connects and reads once, before any load is sent; throws a `ProbeError` that says
    /// what could not be reached and why.
    func check() async throws
    /// One reading: series name → value. `t` is seconds into the run.
    func sample(at t: Double) async throws -> [String: Double]
    /// Lines worth keeping beside the series (sizes at start and end, settings …).
    func notes() async -> [String]
    /// Releases connections; called once, after the last sample.
    func close() async
}

extension ProbeSource {
    public func notes() async -> [String] { [] }
    public func close() async {}
}

/// A probe's failure, worded for the person running the load.
public struct ProbeError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Reads one `ProbeSource` every interval on the run's clock and keeps what it returned.
///
/// Samples are taken on a schedule fixed from `start` (not "one second after the previous
/// reading finished"), so that a slow database does not stretch the probe's own clock.
public final class ProbeSampler: @unchecked Sendable {
    // Safety: `series`, `failed` and `lastError` are only touched under `lock`; `task` is set
    // once by `start` and read by `stop`, which callers run in that order.
    public let source: any ProbeSource
    private let lock = NSLock()
    private var series: [String: [[Double]]] = [:]
    private var failed = 0
    private var lastError: String?
    private var task: Task<Void, Never>?

    public init(_ source: any ProbeSource) {
        self.source = source
    }

    /// Samples every `interval` from `start`; `t` counts from `start`.
    public func start(at start: ContinuousClock.Instant, interval: Duration = .seconds(1)) {
        let source = self.source
        task = Task { [weak self] in
            var next = start
            while !Task.isCancelled {
                let t = (ContinuousClock.now - start).seconds
                let values: [String: Double]?
                var failure: String?
                do {
                    values = try await source.sample(at: t)
                } catch {
                    values = nil
                    failure = String(describing: error)
                }
                // Stopped mid-reading: the cancellation is ours, not the source's failure.
                if values == nil, Task.isCancelled { return }
                guard let self else { return }
                self.record(t: t, values: values, error: failure)
                next = next + interval
                while next < .now { next = next + interval }  // a slow reading skips, never bunches
                try? await Task.sleep(until: next, clock: .continuous)
            }
        }
    }

    private func record(t: Double, values: [String: Double]?, error: String?) {
        lock.withLock {
            if let values {
                for (key, value) in values where value.isFinite {
                    series[key, default: []].append([t, value])
                }
            } else {
                failed += 1
                lastError = error
            }
        }
    }

    /// The series read so far, while sampling goes on (for thresholds judged during the run).
    public func snapshot() -> ProbeResult {
        lock.withLock {
            var result = ProbeResult(probe: source.displayName, series: series, failedScrapes: failed)
            result.kind = source.kind
            return result
        }
    }

    /// Stops sampling, closes the source and returns what was collected.
    public func stop() async -> ProbeResult {
        task?.cancel()
        await task?.value
        let notes = await source.notes()
        await source.close()
        return lock.withLock {
            var result = ProbeResult(probe: source.displayName, series: series, failedScrapes: failed)
            result.kind = source.kind
            var allNotes = notes
            if let lastError, failed > 0 { allNotes.append("last failed reading: \(lastError)") }
            result.notes = allNotes.isEmpty ? nil : allNotes
            return result
        }
    }

}

/// Turns a `--probe` argument into a source.
///
/// `http(s)://…` → Prometheus scrape, `postgres://` / `postgresql://` → PostgreSQL statistics,
/// `redis://…` → Redis INFO, `pid:` / `name:` → processes from /proc, `cgroup:` → a cgroup v2
/// directory.
public enum ProbeFactory {
    public struct Options: Sendable {
        /// Redis lists whose lengths are sampled (`--redis-queue celery`).
        public var redisQueues: [String] = []
        /// Prometheus series to keep (`lab_db_pool_*`, `*_seconds_total`); empty keeps all. An
        /// exporter with thousands of series would otherwise fill the history every second.
        public var prometheusSeries: [String] = []
        public init(redisQueues: [String] = [], prometheusSeries: [String] = []) {
            self.redisQueues = redisQueues
            self.prometheusSeries = prometheusSeries
        }
    }

    public static func make(_ spec: String, options: Options = Options()) throws -> any ProbeSource {
        let lower = spec.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            guard let url = URL(string: spec), url.host != nil else {
                throw ProbeError("--probe \(redact(spec)): not a valid URL")
            }
            return PrometheusProbe(url: url, keep: options.prometheusSeries)
        }
        if PostgresTarget.matches(spec) {
            let target = try PostgresTarget.parse(spec)
            return PostgresProbe(target: target, displayName: spec)
        }
        if lower.hasPrefix("redis://") || lower.hasPrefix("rediss://") {
            return RedisProbe(target: try RedisTarget.parse(spec), queues: options.redisQueues)
        }
        if spec.hasPrefix("pid:") || spec.hasPrefix("name:") {
            return ProcessProbe(try ProcessSelector.parse(spec))
        }
        if spec.hasPrefix("cgroup:") {
            let path = String(spec.dropFirst("cgroup:".count))
            guard path == "self" || path.hasPrefix("/") else {
                throw ProbeError("--probe \(spec): expected cgroup:/sys/fs/cgroup/PATH or cgroup:self")
            }
            return CgroupProbe(path)
        }
        throw ProbeError(
            "--probe \(redact(spec)): unknown kind of probe; expected http://host:port/metrics, "
                + "postgres://user@host:port/db, redis://host:port, pid:N, name:PROCESS or cgroup:/sys/fs/cgroup/…"
        )
    }

    /// A probe a plan declares, with its own Redis queues and Prometheus series (plus
    /// `extra`'s, from the command line).
    public static func make(_ probe: PlanProbe, adding extra: Options = Options()) throws -> any ProbeSource {
        let options = Options(
            redisQueues: probe.queues + extra.redisQueues,
            prometheusSeries: probe.series.isEmpty ? extra.prometheusSeries : probe.series + extra.prometheusSeries
        )
        return try make(probe.spec, options: options)
    }

    /// `scheme://user:password@host…` → `scheme://***@host…`: credentials never reach output.
    public static func redact(_ text: String) -> String {
        Redaction.credentials(in: text)
    }
}

/// Turns cumulative counters into per-second rates between two readings.
///
/// The first reading gives no rate (nothing to subtract from); a counter that went down (the
/// server restarted, statistics were reset) gives no rate for that step rather than a
/// negative one.
public struct RateTracker: Sendable {
    private var previous: [String: (t: Double, value: Double)] = [:]
    public init() {}

    public mutating func rate(_ name: String, value: Double, at t: Double) -> Double? {
        defer { previous[name] = (t, value) }
        guard let last = previous[name], t > last.t, value >= last.value else { return nil }
        return (value - last.value) / (t - last.t)
    }
}

/// `*` wildcards, anchored at both ends: `lab_db_pool_*`, `*_total`, `*{route="GET /books/"}`.
public struct SeriesPattern: Sendable, Equatable {
    let parts: [Substring]

    public init(_ text: String) {
        parts = text.split(separator: "*", omittingEmptySubsequences: false)
    }

    public func matches(_ name: String) -> Bool {
        guard parts.count > 1 else { return name == parts.first.map(String.init) ?? "" }
        var rest = Substring(name)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for (i, part) in parts.enumerated().dropFirst() {
            if i == parts.count - 1 { return part.isEmpty || rest.hasSuffix(part) }
            guard !part.isEmpty else { continue }
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }
}
