import Histogram

/// Latency figures in milliseconds, computed from a merged HDR histogram.
public struct LatencyStats: Equatable, Sendable, Codable {
    public var min: Double
    public var mean: Double
    public var p50: Double
    public var p90: Double
    public var p95: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var stdev: Double

    public init(
        min: Double,
        mean: Double,
        p50: Double,
        p90: Double,
        p95: Double,
        p99: Double,
        p999: Double,
        max: Double,
        stdev: Double
    ) {
        self.min = min
        self.mean = mean
        self.p50 = p50
        self.p90 = p90
        self.p95 = p95
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.stdev = stdev
    }

    /// Reads the figures from a microsecond histogram; all zero when it is empty.
    public init(_ h: Histogram<UInt64>) {
        guard h.totalCount > 0 else {
            self.init(min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0, stdev: 0)
            return
        }
        func ms(_ us: UInt64) -> Double { Double(us) / 1000 }
        self.init(
            min: ms(h.min),
            mean: h.mean / 1000,
            p50: ms(h.valueAtPercentile(50)),
            p90: ms(h.valueAtPercentile(90)),
            p95: ms(h.valueAtPercentile(95)),
            p99: ms(h.valueAtPercentile(99)),
            p999: ms(h.valueAtPercentile(99.9)),
            max: ms(h.max),
            stdev: h.stdDeviation / 1000
        )
    }
}

/// Interval latency figures (ms) for the timeline.
public struct IntervalLatency: Equatable, Sendable, Codable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double

    public init(_ h: Histogram<UInt64>) {
        if h.totalCount == 0 {
            p50 = 0
            p90 = 0
            p99 = 0
            max = 0
        } else {
            p50 = Double(h.valueAtPercentile(50)) / 1000
            p90 = Double(h.valueAtPercentile(90)) / 1000
            p99 = Double(h.valueAtPercentile(99)) / 1000
            max = Double(h.max) / 1000
        }
    }
}

/// One second of the run, as merged from every event loop.
public struct TimelineEntry: Equatable, Sendable, Codable {
    /// End of the interval, seconds from the start of the run.
    public var t: Double
    /// Completed responses per second in this interval.
    public var rps: Double
    public var completed: Int
    public var failed: Int
    /// Failed requests plus HTTP status >= 400, in this interval.
    public var errors: Int
    public var latencyMs: IntervalLatency
    /// Requests written and not yet answered when the interval ended.
    public var inFlight: Int
    public var connections: Int
    /// Plans: VUs that existed when the interval ended, running or idle (k6's `vus`);
    /// absent for URL runs.
    public var vus: Int?
    /// Open model: due requests waiting for a free connection.
    public var waiting: Int
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    /// Responses with a 5xx status in this interval (absent in runs saved before it existed).
    public var serverErrors: Int?
    /// Open model: requests sent more than 10 ms late in this interval.
    public var sentLate: Int?
    /// Open model: the largest send − due time in this interval (ms).
    public var scheduleLagMaxMs: Double?
    /// Volley's own event loops: their CPU (100 = one core, summed over loops), the busiest
    /// loop's CPU, and how long a task waited in the busiest loop's queue (ms). A generator
    /// at its limit makes every latency it reports suspect: the diagnosis reads these.
    public var generatorCPUPercent: Double?
    public var loopCPUMaxPercent: Double?
    public var loopLagMs: Double?
    /// The whole machine's CPU in this interval (100 = every core busy).
    public var hostCPUPercent: Double?

    enum CodingKeys: String, CodingKey {
        case t, rps, completed, failed, errors
        case latencyMs = "latency_ms"
        case inFlight = "in_flight"
        case connections, waiting, vus
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case serverErrors = "http_5xx"
        case sentLate = "sent_late"
        case scheduleLagMaxMs = "schedule_lag_max_ms"
        case generatorCPUPercent = "generator_cpu_percent"
        case loopCPUMaxPercent = "loop_cpu_max_percent"
        case loopLagMs = "loop_lag_ms"
        case hostCPUPercent = "host_cpu_percent"
    }

    public init(t: Double, seconds: Double, stats: IntervalStats) {
        self.t = t
        self.rps = seconds > 0 ? Double(stats.completed) / seconds : 0
        self.completed = stats.completed
        self.failed = stats.failed
        self.errors = stats.errors
        self.latencyMs = IntervalLatency(stats.latency)
        self.inFlight = stats.inFlight
        self.connections = stats.openConnections
        self.vus = stats.vus
        self.waiting = stats.waiting
        self.bytesIn = stats.bytesIn
        self.bytesOut = stats.bytesOut
        self.serverErrors = stats.serverErrors
        self.sentLate = stats.sentLate
        self.scheduleLagMaxMs = Double(stats.scheduleLagMaxMicros) / 1000
        self.loopLagMs = Double(stats.loopLagMicros) / 1000
    }
}

/// A slow request as it appears in the summary.
public struct SlowestEntry: Equatable, Sendable, Codable {
    public var requestID: String
    public var latencyMs: Double
    /// Seconds from the start of the run to the completion.
    public var atS: Double
    public var status: Int?
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case latencyMs = "latency_ms"
        case atS = "at_s"
        case status, error
    }
}

/// Open-model scheduling figures: how well the generator kept to the schedule.
public struct ScheduleLag: Equatable, Sendable, Codable {
    public var meanMs: Double
    public var p50Ms: Double
    public var p99Ms: Double
    public var maxMs: Double

    enum CodingKeys: String, CodingKey {
        case meanMs = "mean_ms"
        case p50Ms = "p50_ms"
        case p99Ms = "p99_ms"
        case maxMs = "max_ms"
    }
}

/// The result of a run: what the JSON summary is, field for field (docs/json-summary.md).
///
/// Accounting identity, always: `scheduled == completed + failed + unsent`.
public struct RunSummary: Equatable, Sendable, Codable {
    public var volleyVersion: String
    public var target: String
    public var method: String
    /// "closed" or "open".
    public var model: String
    /// Closed model: the number of connections.
    public var connections: Int?
    /// Open model: the mean target rate over the schedule (requests per second).
    public var rate: Double?
    /// Open model: the connection limit.
    public var maxConnections: Int?
    public var threads: Int
    /// Requests the load model asked for.
    public var scheduled: Int
    /// Requests that ended, with a response or an error: completed + failed.
    public var requests: Int
    /// Requests answered with a complete HTTP response (any status).
    public var completed: Int
    /// Requests that ended without a usable response (transport errors).
    public var failed: Int
    /// failed + responses with status >= 400.
    public var errors: Int
    /// errors / requests.
    public var errorRate: Double
    /// Due (open model) or taken (closed model) but never sent before the run ended.
    public var unsent: Int
    /// Open model: sent more than 10 ms after their due time.
    public var sentLate: Int
    public var durationS: Double
    /// Completed responses per second over the whole duration.
    public var rps: Double
    public var latencyMs: LatencyStats
    /// From the actual write to the response; reported for the open model, where it
    /// differs from latency by the time spent waiting for the schedule or a connection.
    public var serviceTimeMs: LatencyStats?
    public var scheduleLag: ScheduleLag?
    /// Response counts by status code (keys are the codes as strings, as in JSON).
    public var status: [String: Int]
    /// Transport failure counts by class.
    public var transportErrors: [String: Int]
    /// One sample message per transport class, to help diagnose "other" and TLS errors.
    public var transportErrorSamples: [String: String]
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var connectionsOpened: Int
    /// HTTP/2 runs: connections by the protocol they spoke, `{"h2": n, "http/1.1": m}`, where
    /// "http/1.1" counts those that fell back (`--http1-fallback`: the server did not agree to
    /// h2 in ALPN); nil for HTTP/1.1 runs and runs saved before it was counted.
    public var protocols: [String: Int]?
    /// Keep-alive connections the server closed without `Connection: close` (Recorder's
    /// `reconnects`); nil in runs saved before it was counted.
    public var reconnects: Int?
    /// Requests re-sent once on a new connection after a reused one closed before their
    /// response; nil in runs saved before it was counted.
    public var retries: Int?
    /// Time per phase (dns, connect, tls, send, wait, receive) and the connection reuse rate;
    /// nil when no phase was recorded, as in runs saved before phases existed.
    public var phases: PhaseSummary?
    /// `--follow N`: redirects followed (hops, not requests); nil when none was.
    public var redirectsFollowed: Int?
    /// `--follow N`: requests whose chain reached the limit and ended on the 3xx; nil when none.
    public var redirectLimit: Int?
    /// `--follow N`: requests that ended on a 3xx whose Location could not be followed; nil when none.
    public var redirectUnusable: Int?
    public var slowest: [SlowestEntry]
    public var timeline: [TimelineEntry]
    /// True when the run was stopped early (Ctrl-C).
    public var interrupted: Bool
    /// What the server said when it failed: by status code, the first bytes of the first few
    /// error bodies (``ResponseSamples``); nil when no response had status >= 400.
    public var errorSamples: [String: [ErrorSample]]?
    /// Plans: captures that found nothing, with where they looked and the body instead.
    public var captureFailureSamples: [CaptureFailureSample]?
    /// Plans: body bytes after decoding, for the compressed responses a check or capture
    /// read (``bytesIn`` is the wire); nil when none was decoded.
    public var bytesDecoded: UInt64?
    /// Plans: compressed bodies that could not be decoded; nil when none.
    public var decodeFailures: Int?
    /// Plans: why, for the first few of each request name.
    public var decodeFailureSamples: [DecodeFailureSample]?

    // MARK: Plan runs only (absent for `volley run URL`)

    /// The plan's name.
    public var plan: String?
    /// Per request name: the table k6 users read per `name` tag.
    public var requestsByName: [NamedRequestStats]?
    /// Per check, passes and failures.
    public var checks: [CheckResult]?
    public var iterations: IterationStats?
    /// Thresholds with their measured values; any failure makes the exit code 99.
    public var thresholds: [ThresholdResult]?
    /// Named step blocks and how long they took.
    public var groups: [GroupStats]?
    /// The threshold whose failure stopped the run early (abort_on_fail).
    public var abortedBy: String?
    /// `--segment i/N`: this run is segment i of a run split over N machines, and its counts
    /// are that segment's share; nil for a whole run.
    public var segment: String?
    /// `volley merge`: the segments this summary was merged from, their start skew and clock
    /// offsets; nil for a run made on one machine.
    public var distributed: DistributedInfo?
    /// Server-side series sampled on the load's clock (`--probe`).
    public var probes: [ProbeResult]?
    /// `--watch-health`: the readiness probe as Kubernetes would have run it during the load.
    public var health: HealthWatchResult?
    /// What the diagnosis found (runs with probes, a health watch, or a generator at its limit).
    public var findings: [Finding]?

    enum CodingKeys: String, CodingKey {
        case volleyVersion = "volley_version"
        case target, method, model, connections, rate
        case maxConnections = "max_connections"
        case threads, scheduled, requests, completed, failed, errors
        case errorRate = "error_rate"
        case unsent
        case sentLate = "sent_late"
        case durationS = "duration_s"
        case rps
        case latencyMs = "latency_ms"
        case serviceTimeMs = "service_time_ms"
        case scheduleLag = "schedule_lag"
        case status
        case transportErrors = "transport_errors"
        case transportErrorSamples = "transport_error_samples"
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case connectionsOpened = "connections_opened"
        case protocols
        case reconnects, retries, phases
        case redirectsFollowed = "redirects_followed"
        case redirectLimit = "redirect_limit"
        case redirectUnusable = "redirect_unusable"
        case slowest, timeline, interrupted, plan
        case errorSamples = "error_samples"
        case captureFailureSamples = "capture_failure_samples"
        case bytesDecoded = "bytes_decoded"
        case decodeFailures = "decode_failures"
        case decodeFailureSamples = "decode_failure_samples"
        case requestsByName = "requests_by_name"
        case checks, iterations, thresholds, groups
        case abortedBy = "aborted_by"
        case segment, distributed
        case probes, health, findings
    }
}

/// One probe's samples: every series it returned, as (seconds into the run, value) pairs.
public struct ProbeResult: Equatable, Sendable, Codable {
    /// What was probed, without credentials.
    public var probe: String
    public var series: [String: [[Double]]]
    /// Scrapes that failed during the run (the probe's own errors, not the target's).
    public var failedScrapes: Int
    /// "prometheus", "postgres", "redis", "process", "cgroup", "volley", "health": tells the
    /// diagnosis which rules can read these series. Absent in runs saved before it existed.
    public var kind: String?
    /// Facts beside the series: sizes at start and end, settings, the last failed reading.
    public var notes: [String]?

    public init(
        probe: String,
        series: [String: [[Double]]],
        failedScrapes: Int,
        kind: String? = nil,
        notes: [String]? = nil
    ) {
        self.probe = probe
        self.series = series
        self.failedScrapes = failedScrapes
        self.kind = kind
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case probe, series
        case failedScrapes = "failed_scrapes"
        case kind, notes
    }

    /// The values of one series, in time order.
    public func values(_ name: String) -> [Double] { series[name]?.map { $0[1] } ?? [] }
}

extension RunSummary {
    /// Builds the summary from the merged recorder of all loops.
    public init(
        target: String,
        method: String,
        model: LoadModel,
        threads: Int,
        recorder r: Recorder,
        duration: Double,
        timeline: [TimelineEntry],
        interrupted: Bool
    ) {
        var connections: Int?
        var rate: Double?
        var maxConnections: Int?
        switch model {
        case .closed(let c, _):
            connections = c
        case .open(let schedule, let maxC, _):
            let d = schedule.totalDuration.seconds
            rate = d > 0 ? schedule.totalArrivals / d : 0
            maxConnections = maxC
        }
        self.init(
            target: target,
            method: method,
            modelName: model.name,
            connections: connections,
            rate: rate,
            maxConnections: maxConnections,
            threads: threads,
            recorder: r,
            duration: duration,
            timeline: timeline,
            interrupted: interrupted
        )
    }

    /// Builds the summary from a recorder with the load model already described: what
    /// `volley merge` uses, so a distributed run's figures come from the same code as a
    /// single run's.
    public init(
        target: String,
        method: String,
        modelName: String,
        connections: Int?,
        rate: Double?,
        maxConnections: Int?,
        threads: Int,
        recorder r: Recorder,
        duration: Double,
        timeline: [TimelineEntry],
        interrupted: Bool
    ) {
        self.volleyVersion = VolleyVersion.current
        self.target = target
        self.method = method
        self.model = modelName
        self.threads = threads
        self.connections = connections
        self.rate = rate
        self.maxConnections = maxConnections
        let isOpen = modelName == "open"
        completed = r.completed
        failed = r.failed
        requests = r.completed + r.failed
        unsent = r.unsent
        scheduled = requests + unsent
        errors = r.errors
        errorRate = requests > 0 ? Double(r.errors) / Double(requests) : 0
        sentLate = r.sentLate
        durationS = duration
        rps = duration > 0 ? Double(r.completed) / duration : 0
        latencyMs = LatencyStats(r.latency)
        serviceTimeMs = isOpen ? LatencyStats(r.serviceTime) : nil
        if isOpen {
            let lag = r.scheduleLag
            scheduleLag =
                lag.totalCount == 0
                ? ScheduleLag(meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0)
                : ScheduleLag(
                    meanMs: lag.mean / 1000,
                    p50Ms: Double(lag.valueAtPercentile(50)) / 1000,
                    p99Ms: Double(lag.valueAtPercentile(99)) / 1000,
                    maxMs: Double(lag.max) / 1000
                )
        } else {
            scheduleLag = nil
        }
        status = r.statusByCode
        transportErrors = r.transportErrorsByClass
        var samples: [String: String] = [:]
        for (c, m) in r.transportSamples { samples[c.rawValue] = m }
        transportErrorSamples = samples
        bytesIn = r.bytesIn
        bytesOut = r.bytesOut
        connectionsOpened = r.connectionsOpened
        protocols = Self.protocols(r)
        reconnects = r.reconnects
        retries = r.retries
        phases = PhaseSummary(r.phases)
        redirectsFollowed = r.redirectsFollowed > 0 ? r.redirectsFollowed : nil
        redirectLimit = r.redirectLimit > 0 ? r.redirectLimit : nil
        redirectUnusable = r.redirectUnusable > 0 ? r.redirectUnusable : nil
        slowest = r.slowest.sorted.map {
            SlowestEntry(
                requestID: $0.requestID,
                latencyMs: Double($0.latencyNanos) / 1e6,
                atS: Double($0.completedAtNanos) / 1e9,
                status: $0.status,
                error: $0.error?.rawValue
            )
        }
        self.timeline = timeline
        self.interrupted = interrupted
        errorSamples = r.responseSamples.errorSamplesByCode
        let captures = r.responseSamples.captureFailures
        captureFailureSamples = captures.isEmpty ? nil : captures
        bytesDecoded = r.bytesDecoded > 0 ? r.bytesDecoded : nil
        decodeFailures = r.decodeFailures > 0 ? r.decodeFailures : nil
        let decodes = r.responseSamples.decodeFailures
        decodeFailureSamples = decodes.isEmpty ? nil : decodes
    }
}

/// The version stamped into every summary, so saved results say what produced them.
public enum VolleyVersion {
    public static let current = "0.1.0"
}

/// One request name's figures in a plan run.
public struct NamedRequestStats: Equatable, Sendable, Codable {
    public var name: String
    /// Requests that ended (completed + failed).
    public var requests: Int
    public var rps: Double
    public var latencyMs: LatencyStats
    public var errorRate: Double
    public var status: [String: Int]
    public var transportErrors: [String: Int]
    /// Steps not sent because a variable they need had no value.
    public var skipped: Int
    /// Why the first skipped step was not sent (`${id} has no value`).
    public var skipReason: String?
    /// Captures of this step that found nothing.
    public var captureFailures: Int
    /// Compressed bodies of this step that could not be decoded; nil when none.
    public var decodeFailures: Int?
    /// This name's error body excerpts by status (``RunSummary/errorSamples``), so a plan
    /// with many requests says which one the server's message belongs to.
    public var errorSamples: [String: [ErrorSample]]?
    /// This name's phases and reuse rate (``RunSummary/phases``); nil when none was recorded.
    public var phases: PhaseSummary?

    enum CodingKeys: String, CodingKey {
        case name, requests, rps, phases
        case latencyMs = "latency_ms"
        case errorRate = "error_rate"
        case status
        case transportErrors = "transport_errors"
        case skipped
        case skipReason = "skip_reason"
        case captureFailures = "capture_failures"
        case decodeFailures = "decode_failures"
        case errorSamples = "error_samples"
    }

    public init(name: String, recorder r: Recorder, duration: Double, skipped: Int, captureFailures: Int) {
        self.name = name
        requests = r.completed + r.failed
        rps = duration > 0 ? Double(r.completed) / duration : 0
        latencyMs = LatencyStats(r.latency)
        errorRate = requests > 0 ? Double(r.errors) / Double(requests) : 0
        status = r.statusByCode
        transportErrors = r.transportErrorsByClass
        self.skipped = skipped
        self.captureFailures = captureFailures
        decodeFailures = r.decodeFailures > 0 ? r.decodeFailures : nil
        errorSamples = r.responseSamples.errorSamplesByCode
        phases = PhaseSummary(r.phases)
    }
}

/// Passes and failures of one check ("request name › check name").
public struct CheckResult: Equatable, Sendable, Codable {
    public var name: String
    public var passes: Int
    public var fails: Int

    public init(name: String, passes: Int, fails: Int) {
        self.name = name
        self.passes = passes
        self.fails = fails
    }
}

/// How the scenarios' iterations ended.
public struct IterationStats: Equatable, Sendable, Codable {
    /// Ran every step.
    public var completed: Int
    /// Ended early: abort_on_fail, the end of the scenario, or Ctrl-C.
    public var interrupted: Int
    /// Arrival-rate iterations that found no free VU (never silently lost).
    public var dropped: Int

    public init(completed: Int, interrupted: Int, dropped: Int) {
        self.completed = completed
        self.interrupted = interrupted
        self.dropped = dropped
    }
}

/// A group's durations (its whole block of steps, think times included).
public struct GroupStats: Equatable, Sendable, Codable {
    public var name: String
    public var count: Int
    public var durationMs: LatencyStats

    enum CodingKeys: String, CodingKey {
        case name, count
        case durationMs = "duration_ms"
    }

    public init(name: String, histogram: Histogram<UInt64>) {
        self.name = name
        self.count = Int(histogram.totalCount)
        self.durationMs = LatencyStats(histogram)
    }
}
