import Foundation
import Synchronization
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyLab
import VolleyPlan
import VolleyProbes
import VolleyReport
import VolleyStore

/// `volley demo`: the whole story on the lab — raise the load until the service breaks, say
/// where and why, change one knob, show the difference — written for someone who has never
/// run a load test. Every number it prints is measured in this run; the words around them
/// are chosen from what was measured (the knee, the pool's counters), not written in advance.
public final class DemoRunner: Sendable {
    public let options: DemoOptions
    private let write: @Sendable (String) -> Void
    private let style: Style
    private let current = Mutex<LoadEngine?>(nil)
    private let store: HistoryStore?
    /// Every measured step with its histograms, by "directory/level".
    private let kept = Mutex<[String: StoredRun]>([:])
    private let stopped = Atomic<Bool>(false)

    static let endpoint = "/books/"
    /// Readers per second in the journey: above what the constrained pool can serve without a
    /// cache (two queries each), well below it with one.
    static let journeyRate = 100

    public init(options: DemoOptions, color: Bool = false, output: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.style = Style(enabled: color)
        self.write = output
        var store: HistoryStore?
        if let directory = options.historyDirectory {
            do {
                store = try HistoryStore(directory: directory)
            } catch {
                output("volley: warning: \(error.message) — the demo's runs will not be saved\n")
            }
        }
        self.store = store
    }

    /// Ctrl-C: the step in progress stops, no further steps start, artifacts are still written.
    public func interrupt() {
        stopped.store(true, ordering: .relaxed)
        current.withLock { $0 }?.interrupt()
    }

    public func run() async throws -> DemoReport {
        let out = options.outputDirectory
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let stepSeconds = options.stepDuration.demoSeconds
        let comparisonLevels = options.comparisonLevels ?? Array(options.levels.sorted().suffix(2))
        let estimate =
            Double(options.levels.count + 2 * comparisonLevels.count) * stepSeconds + 3
        let lab = options.lab

        say(style.bold("Volley demo") + " — find a service's bottleneck, change one knob, prove the difference.")
        say(style.dim("About \(Int(estimate.rounded())) s. Everything runs on this machine, on 127.0.0.1.") + "\n")

        // 1. The target.
        let server = try await LabServer.start(lab)
        say(style.bold("1. The target"))
        say("Volley started its lab at \(server.baseURL): a small books API (Hummingbird + SQLite),")
        say("set up like the services in our users' reports, scaled down to fit this machine:")
        say(
            "  • a database connection pool of \(lab.poolSize) + \(lab.poolOverflow) overflow connections "
                + "(SQLAlchemy's QueuePool),"
        )
        say(
            "    and a request waits at most \(LabConfiguration.format(lab.poolTimeout)) for one "
                + "before the service answers 500 \"pool limit reached\";"
        )
        say("  • every query takes \(LabConfiguration.format(lab.queryLatency)) (a database across the network);")
        say("  • no response cache.")
        say(
            "Each step sends GET \(Self.endpoint) from N connections for \(Self.seconds(stepSeconds)) "
                + "(closed model: each connection"
        )
        say("sends its next request as soon as the previous answer arrives, like N busy users).\n")

        // 2. The stepped load.
        say(style.bold("2. Raising the load"))
        say(Self.header)
        var baseline: [DemoStep] = []
        // The readiness check a Kubernetes deployment would run, watched across every step.
        let health = HealthWatcher(
            url: URL(string: server.baseURL + "/ready")!,
            period: healthPeriod,
            timeout: healthPeriod,
            failureThreshold: 3
        )
        await health.check()
        health.start(at: .now)
        for level in options.levels.sorted() where !isStopped {
            let step = try await measure(server, level: level, directory: "baseline")
            baseline.append(step)
            say(row(step))
        }
        let watched = await health.stop()
        await server.stop()

        // 3. What happened.
        say("")
        say(style.bold("3. What happened"))
        let knee = KneeFinder.find(baseline.map(\.levelResult))
        let bottleneck = explain(baseline, knee: knee, lab: lab)
        // The same story as `volley diagnose` tells it, from the lab's /metrics and /ready alone.
        let stepSummaries = options.levels.sorted().compactMap { level in
            kept.withLock { $0["baseline/\(level)"]?.record.summary }
        }
        let findings = Diagnosis.diagnose(runs: stepSummaries, health: watched)
        say("")
        say(
            "What `volley diagnose` reads in the probes (the lab's /metrics every \(Self.seconds(probeInterval.demoSeconds)), "
                + "/ready every \(Self.seconds(healthPeriod.demoSeconds)) with Kubernetes' rules):"
        )
        write(
            DiagnosisRenderer(style: style).renderHealth(
                watched,
                runSeconds: stepSummaries.reduce(0) { $0 + $1.durationS }
            )
        )
        write(DiagnosisRenderer(style: style).renderFindings(findings, probed: true))
        // The stepped load is a concurrency sweep: saved and drawn as one.
        let sweepReport = try saveSweep(options.levels.sorted())

        // 4. The knobs.
        var comparisons: [DemoComparison] = []
        var cached = lab
        cached.cache = true
        var biggerPool = lab
        biggerPool.poolSize = lab.poolSize * 4
        biggerPool.poolOverflow = lab.poolOverflow * 4
        let knobs: [(String, String, LabConfiguration, String)] = [
            (
                "cache on", "GET responses cached for \(LabConfiguration.format(cached.cacheTTL))", cached,
                "cache-on"
            ),
            (
                "bigger pool",
                "pool \(lab.poolSize) + \(lab.poolOverflow) → \(biggerPool.poolSize) + \(biggerPool.poolOverflow) connections",
                biggerPool, "bigger-pool"
            ),
        ]
        for (index, (knob, change, configuration, directory)) in knobs.enumerated() where !isStopped {
            say("")
            say(style.bold("\(4 + index). One knob: \(knob)") + " — \(change); the same load again")
            let server = try await LabServer.start(configuration)
            if configuration.cache {
                // A cold cache under many connections sends them all to the pool at once.
                _ = try await load(server, connections: 1, limit: .requests(1))
                say(
                    style.dim(
                        "(one request first warms the cache: a cold cache hit by \(comparisonLevels.last ?? 1) connections at once "
                            + "stampedes the pool)"
                    )
                )
            }
            var steps: [DemoStep] = []
            for level in comparisonLevels where !isStopped {
                steps.append(try await measure(server, level: level, directory: directory))
            }
            await server.stop()
            comparisons.append(DemoComparison(knob: knob, change: change, lab: configuration, steps: steps))
            compare(baseline, steps, knob: knob)
        }

        // 6. The same service under a user journey, judged by thresholds.
        var journey: [DemoJourney] = []
        if !isStopped && options.journeyDuration > .zero {
            journey = try await journeyAct(number: 4 + knobs.count, before: lab, after: cached)
        }

        // Did it help? With statistics, not by eye: one run each cannot separate the change from
        // the machine's drift (`volley compare` says so), so the two labs alternate over rounds
        // (ABBA), judged as `volley ab` judges them — from the variation between rounds.
        let reports = try writeReports(comparisonLevels.last)
        if let top = comparisonLevels.last, !isStopped {
            say("")
            say(
                style.bold("\(5 + knobs.count). Did it help? Not by eye")
                    + " — as `volley ab` decides: before and cache on alternate over \(Self.abRounds) rounds (ABBA)"
            )
            var sides: [Bool: [RunSummary]] = [true: [], false: []]
            rounds: for round in 1...Self.abRounds {
                for isBefore in round % 2 == 1 ? [true, false] : [false, true] {
                    if isStopped { break rounds }
                    let server = try await LabServer.start(isBefore ? lab : cached)
                    if !isBefore { _ = try await load(server, connections: 1, limit: .requests(1)) }  // warm the cache
                    let (summary, _) = try await load(server, connections: top, limit: .duration(Self.abRoundDuration))
                    await server.stop()
                    sides[isBefore]!.append(summary)
                }
            }
            if !isStopped {
                let decision = RoundComparator.compare(a: sides[true]!, b: sides[false]!)
                write(RoundComparisonRenderer(style: style).render(decision, a: "before", b: "cache on"))
                if let before = kept.withLock({ $0["baseline/\(top)"] })?.record.id,
                    let after = kept.withLock({ $0["cache-on/\(top)"] })?.record.id
                {
                    say(
                        "Every step is in the history: `volley history --label demo`; `volley compare \(before) \(after)` "
                            + "of one run each says what a single pair cannot know; `volley ab --a URL --b URL` runs these rounds "
                            + "on any two targets."
                    )
                }
            }
        }

        // Artifacts.
        let report = DemoReport(
            volleyVersion: VolleyVersion.current,
            endpoint: Self.endpoint,
            stepSeconds: stepSeconds,
            lab: lab,
            baseline: baseline,
            knee: knee,
            bottleneck: bottleneck,
            findings: findings,
            comparisons: comparisons,
            journey: journey,
            interrupted: isStopped
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(report).write(to: URL(fileURLWithPath: "\(out)/demo.json"))
        say("")
        say(style.bold("Artifacts") + " in \(out)/")
        say("  demo.json                 every number above, as data")
        for report in reports { say("  " + report) }
        if let sweepReport { say("  " + sweepReport) }
        say("  baseline/c<N>.json        each step's full summary (the format of `volley run --json`)")
        if !comparisons.isEmpty {
            say("  cache-on/, bigger-pool/   the same for each knob")
        }
        if !journey.isEmpty {
            say("  journey.yaml              the user journey; run it yourself against `volley lab`")
            say("  journey/<lab>.json        its summaries: per request name, checks, thresholds")
        }
        say("")
        say(style.bold("Try it yourself") + style.dim(" (the lab in one terminal, the load in another)"))
        say(
            "  volley lab --pool-size \(lab.poolSize) --pool-overflow \(lab.poolOverflow) "
                + "--pool-timeout \(LabConfiguration.format(lab.poolTimeout)) "
                + "--query-latency \(LabConfiguration.format(lab.queryLatency)) --port 8080"
        )
        say("  volley run http://127.0.0.1:8080\(Self.endpoint) -c 64 -d 10s")
        if !journey.isEmpty {
            say("  volley run \(out)/journey.yaml -e ENDPOINT=http://127.0.0.1:8080")
        }
        if isStopped { say(style.yellow("Interrupted: the artifacts hold the steps that finished.")) }
        return report
    }

    private var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// HTML reports of the highest level before and after the cache; returns the lines that
    /// name them for the artifacts list.
    /// Saves the baseline steps as a sweep experiment and writes its report (throughput and
    /// latency against connections, knee marked); returns the artifacts line.
    private func saveSweep(_ levels: [Int]) throws -> String? {
        let runs: [SweepRun] = levels.compactMap { level in
            kept.withLock { $0["baseline/\(level)"] }.map {
                SweepRun(level: Double(level), repeatIndex: 0, summary: $0.record.summary, runID: $0.record.id)
            }
        }
        guard runs.count >= 2, let first = kept.withLock({ $0["baseline/\(levels[0])"] }) else { return nil }
        let result = SweepResult(
            target: first.record.target,
            closedModel: true,
            runs: runs,
            analysis: SweepAnalysis(runs: runs)
        )
        var id: Int64?
        if let store {
            let text = try ExperimentJSON.encode(result)
            id = try? store.saveExperiment(
                ExperimentRecord(
                    startedAt: first.record.startedAt,
                    kind: "sweep",
                    label: "demo",
                    target: result.target,
                    command: ["demo"],
                    result: text
                )
            )
        }
        let html = ExperimentReport.sweep(
            result,
            id: id,
            context: ReportContext(label: "demo: the stepped load", command: "volley demo")
        )
        try html.write(toFile: "\(options.outputDirectory)/report-sweep.html", atomically: true, encoding: .utf8)
        return Fmt.pad("report-sweep.html", 26, right: false)
            + "the stepped load as a sweep: throughput and latency against "
            + "connections, knee marked" + (id.map { " (experiment E\($0))" } ?? "")
    }

    private func writeReports(_ level: Int?) throws -> [String] {
        guard let level else { return [] }
        var lines: [String] = []
        for (key, file, what) in [
            ("baseline/\(level)", "report-before.html", "before"),
            ("cache-on/\(level)", "report-cache-on.html", "cache on"),
        ] {
            guard let run = kept.withLock({ $0[key] }) else { continue }
            let html = HTMLReport.render(
                run.record.summary,
                histograms: run.histograms,
                context: ReportContext(run.record)
            )
            try html.write(toFile: "\(options.outputDirectory)/\(file)", atomically: true, encoding: .utf8)
            lines.append(Fmt.pad(file, 26, right: false) + "the HTML report at \(level) connections, \(what)")
        }
        return lines
    }

    // MARK: The journey

    /// Runs the journey plan against the lab as it was, then with the cache on, and prints
    /// per request name and threshold what changed.
    private func journeyAct(
        number: Int,
        before: LabConfiguration,
        after: LabConfiguration
    ) async throws
        -> [DemoJourney]
    {
        let out = options.outputDirectory
        let planPath = "\(out)/journey.yaml"
        let seconds = Self.seconds(options.journeyDuration.demoSeconds)
        try Self.journeyPlan(duration: seconds.replacingOccurrences(of: " ", with: ""))
            .write(toFile: planPath, atomically: true, encoding: .utf8)
        say("")
        say(style.bold("\(number). A user journey, as a plan") + " — \(planPath)")
        say("Real traffic is journeys, not one URL. The plan has two kinds of users for \(seconds):")
        say("  • readers arrive at \(Self.journeyRate) per second whatever the service does (open model) and read")
        say("    /books/ and one of 100 popular businesses — their latency counts from when they arrived;")
        say("  • 5 indecisive planners create a todo, capture its id from the answer, and delete it;")
        say("    a missing id would skip the DELETE and count it, never send DELETE /todos/undefined.")
        say("Thresholds decide pass or fail, as in CI: p(95) < 100ms, error_rate < 1%, checks > 99%,")
        say("and one on the server side: the plan's own probe reads the lab's /metrics, and")
        say("max(lab_db_pool_waiting) < 5 says no more than 4 requests may queue for the pool.")
        var results: [DemoJourney] = []
        for (label, configuration) in [("as it was", before), ("cache on", after)] where !isStopped {
            let server = try await LabServer.start(configuration)
            let loaded: LoadedPlan
            do {
                loaded = try PlanLoader.load(path: planPath, environment: ["ENDPOINT": server.baseURL])
            } catch {
                await server.stop()
                throw error
            }
            let engine = PlanEngine(plan: loaded.plan, feeds: loaded.feeds, threads: options.threads ?? 2)
            // The plan's probes, sampled and judged as `volley run journey.yaml` does.
            let probes = RunningProbes(
                starting: try loaded.plan.probes.map { ProbeSampler(try ProbeFactory.make($0)) },
                interval: probeInterval
            )
            var summary = try await engine.run()
            await probes.stop(into: &summary, thresholds: loaded.plan.thresholds.filter(\.isProbeThreshold))
            summary.findings = Diagnosis.diagnose(summary)
            await server.stop()
            let file = "journey/\(label == "cache on" ? "cache-on" : "baseline").json"
            try FileManager.default.createDirectory(atPath: "\(out)/journey", withIntermediateDirectories: true)
            try JSONReport.encode(summary).write(toFile: "\(out)/\(file)", atomically: true, encoding: .utf8)
            results.append(
                DemoJourney(
                    lab: label,
                    requests: summary.requestsByName ?? [],
                    thresholds: summary.thresholds ?? [],
                    checks: summary.checks ?? [],
                    summaryFile: file
                )
            )
        }
        guard results.count == 2 else { return results }
        let (was, now) = (results[0], results[1])
        say("  request                        p95 ms before → after      errors before → after")
        for named in was.requests {
            guard let other = now.requests.first(where: { $0.name == named.name }) else { continue }
            say(
                "  " + Fmt.pad(named.name, 29, right: false)
                    + Fmt.pad(Fmt.ms(named.latencyMs.p95), 11) + " → "
                    + Fmt.pad(Fmt.ms(other.latencyMs.p95), 8, right: false)
                    + Fmt.pad(Fmt.fixed(named.errorRate * 100, 1) + "%", 12) + " → "
                    + Fmt.fixed(other.errorRate * 100, 1) + "%"
            )
        }
        for named in was.requests where named.skipped > 0 {
            say(
                style.dim(
                    "  \(Fmt.int(named.skipped)) × \(named.name) skipped as it was: "
                        + (named.skipReason ?? "a value it needs was never captured")
                        + " — counted, never sent as /todos/undefined"
                )
            )
        }
        say("  thresholds                       as it was   cache on")
        for threshold in was.thresholds {
            let other = now.thresholds.first { $0.expression == threshold.expression }
            say(
                "  " + Fmt.pad(threshold.expression, 31, right: false)
                    + mark(threshold) + (other.map { mark($0) } ?? Fmt.pad("—", 11))
            )
        }
        let failedBefore = was.thresholds.filter { !$0.passed }.count
        let failedAfter = now.thresholds.filter { !$0.passed }.count
        if failedBefore > 0 && failedAfter == 0 {
            say(
                "As it was, the journey fails \(failedBefore) threshold\(failedBefore == 1 ? "" : "s") "
                    + "(`volley run` would exit 99 and fail the CI job); with the cache on, it passes."
            )
        } else if failedAfter > 0 {
            say(
                "With the cache on, \(failedAfter) threshold\(failedAfter == 1 ? "" : "s") still fail: "
                    + "the planners' writes do not go through the cache and still need the pool."
            )
        } else {
            say("Both pass at this load: the journey is lighter than the stepped load above.")
        }
        return results
    }

    /// "✓ 21.6ms", "✗ 3.67%": the measured value in the threshold's own unit, padded before
    /// colouring so that the columns line up on a terminal too.
    private func mark(_ t: ThresholdResult, width: Int = 11) -> String {
        let value: String
        if let actual = t.actual, let (metric, _, _) = try? ThresholdExpression.parse(t.expression) {
            switch metric {
            case .errorRate, .checkPassRate: value = Fmt.fixed(actual * 100, 2) + "%"
            case .rps: value = Fmt.fixed(actual, 1) + "/s"
            case .probe: value = Fmt.fixed(actual, 0)  // a probe series, in its own unit
            case .latencyPercentile, .latencyMean, .latencyMax, .phase: value = Fmt.ms(actual) + "ms"
            }
        } else {
            value = "—"
        }
        let symbol = t.passed ? "✓" : "✗"
        let padded = Fmt.pad(symbol + " " + value, width)
        return padded.replacingOccurrences(of: symbol, with: t.passed ? style.green(symbol) : style.red(symbol))
    }

    /// The journey, as a plan file a user can run again.
    static func journeyPlan(duration: String) -> String {
        """
        # The user journey of `volley demo`, against the lab. Run it yourself:
        #   volley lab --pool-size 2 --pool-overflow 2 --pool-timeout 250ms --query-latency 20ms --port 8080
        #   volley run journey.yaml -e ENDPOINT=http://127.0.0.1:8080
        name: demo-journey
        base_url: ${ENDPOINT:-http://127.0.0.1:8080}
        defaults:
          timeout: 5s

        thresholds:
          - "p(95) < 100ms"
          - "error_rate < 1%"
          - "checks > 99%"
          - "max(lab_db_pool_waiting) < 5"   # read by the probe below

        # The lab's pool, sampled every second on the load's clock (docs/probes.md).
        probes:
          - probe: ${ENDPOINT:-http://127.0.0.1:8080}/metrics
            series: ["lab_db_pool_*"]

        scenarios:
          readers:
            executor: constant-arrival-rate
            rate: \(journeyRate)
            duration: ${DURATION:-\(duration)}
            pre_allocated_vus: 20
            max_vus: 200
            steps:
              - request: GET /books/
                check: { status: 200 }
              - request: GET /businesses/id/${randomInt(1,100)}
                name: GET /businesses/id/{id}
                check: { status: 200, json_exists: $.ref }

          planners:
            executor: constant-vus
            vus: 5
            duration: ${DURATION:-\(duration)}
            steps:
              - request: POST /api/v1/todos
                json: { title: "Wirte the report", completed: false }
                check: { status: 201 }
                capture:
                  id: json $.id
              - think: 200ms
              - request: DELETE /api/v1/todos/${id}
                name: DELETE /api/v1/todos/{id}
                check: { status: 200, json_exists: $.id }
              - think: 200ms

        """
    }

    /// Rounds of the closing A/B: three is the fewest a paired t-interval decides from.
    static let abRounds = 3
    static let abRoundDuration: Duration = .seconds(2)

    private func say(_ line: String) { write(line + "\n") }

    // MARK: Measuring

    private func load(
        _ server: LabServer,
        connections: Int,
        limit: ClosedLimit
    ) async throws -> (RunSummary, RunHistograms?) {
        let steps: (requests: Int?, duration: Duration?)
        switch limit {
        case .requests(let n): steps = (n, nil)
        case .duration(let d): steps = (nil, d)
        case .requestsOrDuration(let n, let d): steps = (n, d)
        }
        // The same typed request the CLI's commands build.
        var request = RunRequest(
            url: try TargetURL(parsing: server.baseURL + Self.endpoint),
            load: .closed(connections: connections, requests: steps.requests, duration: steps.duration)
        )
        request.threads = min(256, max(1, options.threads ?? ProcessInfo.processInfo.activeProcessorCount))
        request.requestTimeout = .seconds(10)
        request.connectTimeout = .seconds(2)
        request.interruptGrace = .milliseconds(300)
        let configuration = try request.configuration()
        let engine = LoadEngine(configuration: configuration)
        current.withLock { $0 = engine }
        defer { current.withLock { $0 = nil } }
        if isStopped { engine.interrupt() }
        let summary = try await engine.run()
        return (summary, engine.histograms)
    }

    /// Probes scale with the steps, so that a quick demo still gets several samples a step.
    private var probeInterval: Duration { min(.seconds(1), options.stepDuration / 4) }
    private var healthPeriod: Duration { max(.milliseconds(200), min(.seconds(1), options.stepDuration / 4)) }

    /// Runs one level and samples the lab's pool while it runs.
    private func measure(_ server: LabServer, level: Int, directory: String) async throws -> DemoStep {
        let before = server.snapshot
        // The lab's /metrics, read as a user's `--probe` would: the summary carries the series
        // and `volley diagnose` / `volley report` read them back from the history.
        let probe = ProbeSampler(PrometheusProbe(url: URL(string: server.baseURL + "/metrics")!))
        probe.start(at: .now, interval: probeInterval)
        let sampler = Task {
            var most = (checkedOut: 0, waiting: 0)
            while !Task.isCancelled {
                let now = server.snapshot
                most.checkedOut = max(most.checkedOut, now.poolCheckedOut)
                most.waiting = max(most.waiting, now.poolWaiting)
                try? await Task.sleep(for: .milliseconds(50))
            }
            return most
        }
        let startedAt = Date()
        var (summary, histograms) = try await load(
            server,
            connections: level,
            limit: .duration(options.stepDuration)
        )
        summary.probes = [await probe.stop()]
        summary.findings = Diagnosis.diagnose(summary)
        sampler.cancel()
        let most = await sampler.value
        let after = server.snapshot

        let folder = "\(options.outputDirectory)/\(directory)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = "\(directory)/c\(level).json"
        try JSONReport.encode(summary).write(
            toFile: "\(options.outputDirectory)/\(file)",
            atomically: true,
            encoding: .utf8
        )

        // The same reading of a summary as `volley sweep`: goodput, errors by kind, error rate.
        let reading = SweepRun(level: Double(level), repeatIndex: 0, summary: summary)
        // Saved like any run, so that `volley show/report/compare` work on the demo's steps.
        var record = RunRecord(
            startedAt: startedAt,
            label: "demo \(directory) c\(level)",
            kind: "demo",
            target: summary.target,
            plan: nil,
            command: ["demo"],
            environment: .current(),
            summary: summary,
            exitCode: 0
        )
        if let store {
            do {
                record.id = try store.save(record, histograms: histograms)
            } catch {
                say(style.yellow("(not saved to the history: \(error.message))"))
            }
        }
        kept.withLock { $0["\(directory)/\(level)"] = StoredRun(record: record, histograms: histograms) }
        let checkouts = after.poolCheckouts - before.poolCheckouts + (after.poolTimeouts - before.poolTimeouts)
        let waited = after.poolWaitSeconds - before.poolWaitSeconds
        return DemoStep(
            connections: level,
            goodput: reading.goodput,
            rps: summary.rps,
            p50Ms: summary.latencyMs.p50,
            p90Ms: summary.latencyMs.p90,
            p99Ms: summary.latencyMs.p99,
            requests: summary.requests,
            errors: reading.errors,
            errorRate: reading.errorRate,
            pool: PoolEvidence(
                capacity: server.configuration.poolSize + server.configuration.poolOverflow,
                maxCheckedOut: most.checkedOut,
                maxWaiting: most.waiting,
                timeouts: after.poolTimeouts - before.poolTimeouts,
                meanWaitMs: checkouts > 0 ? waited / Double(checkouts) * 1000 : 0
            ),
            summaryFile: file,
            runID: record.id
        )
    }

    // MARK: Telling

    static let header =
        "  conns     ok/s    p50 ms    p90 ms    p99 ms   errors            pool in use  waiting  gave up"

    private func row(_ s: DemoStep) -> String {
        let errorText = s.errors.isEmpty ? "—" : Self.errorList(s.errors, total: s.requests)
        let coloredErrors = s.errors.isEmpty ? errorText : style.red(Fmt.pad(errorText, 16, right: false))
        return "  " + Fmt.pad(String(s.connections), 5) + Fmt.pad(Fmt.fixed(s.goodput, 0), 9)
            + Fmt.pad(Fmt.ms(s.p50Ms), 10) + Fmt.pad(Fmt.ms(s.p90Ms), 10) + Fmt.pad(Fmt.ms(s.p99Ms), 10)
            + "   " + (s.errors.isEmpty ? Fmt.pad(errorText, 16, right: false) : coloredErrors)
            + Fmt.pad("\(s.pool.maxCheckedOut)/\(s.pool.capacity)", 13) + Fmt.pad(String(s.pool.maxWaiting), 9)
            + Fmt.pad(Fmt.int(s.pool.timeouts), 9)
    }

    /// "500: 38%" or "500: 12%, no_response: 1%".
    static func errorList(_ errors: [String: Int], total: Int) -> String {
        errors.sorted { $0.value > $1.value }.map { kind, count in
            "\(kind): " + (total > 0 ? Fmt.fixed(Double(count) / Double(total) * 100, 0) + "%" : String(count))
        }.joined(separator: ", ")
    }

    /// Prints the reading of the stepped load, and returns the bottleneck's name if the
    /// evidence names one.
    private func explain(_ steps: [DemoStep], knee: Knee?, lab: LabConfiguration) -> String? {
        guard let first = steps.first, let top = steps.last else {
            say("No step finished.")
            return nil
        }
        guard let knee else {
            say(
                "Throughput was still growing at \(top.connections) connections "
                    + "(\(Fmt.fixed(top.goodput, 0)) ok/s): no limit reached yet. Try higher levels."
            )
            return nil
        }
        let kneeLevel = Int(knee.level)
        say("Throughput stopped growing at \(kneeLevel) connections (≈ \(Fmt.fixed(knee.goodput, 0)) ok/s).")
        say("Beyond it, more connections only made each request wait longer: the median went from")
        say(
            "\(Fmt.ms(knee.p50AtKnee)) ms at \(kneeLevel) to \(Fmt.ms(knee.p50AtTop)) ms at \(top.connections) connections."
        )
        if let errorLevel = knee.firstErrorLevel,
            let failing = steps.first(where: { $0.connections == Int(errorLevel) })
        {
            say(
                "From \(Int(errorLevel)) connections on, requests failed: "
                    + Self.errorList(failing.errors, total: failing.requests) + " of them."
            )
        }

        let beyond = steps.filter { Double($0.connections) > knee.level }
        let saturated =
            !beyond.isEmpty && beyond.allSatisfy { $0.pool.maxCheckedOut >= $0.pool.capacity && $0.pool.maxWaiting > 0 }
        guard saturated else {
            say("The lab's pool was not full beyond the knee, so the limit was elsewhere —")
            say("on a 2-core machine, most likely the CPU shared by the lab and Volley.")
            return nil
        }
        let capacity = top.pool.capacity
        say("")
        say("Why: the lab's own counters (its /metrics) during those steps show all \(capacity) database")
        say(
            "connections in use and up to \(top.pool.maxWaiting) requests waiting for one "
                + "(mean wait \(Fmt.ms(top.pool.meanWaitMs)) ms at \(top.connections) connections)."
        )
        if top.pool.timeouts > 0 {
            say(
                "\(Fmt.int(top.pool.timeouts)) requests waited longer than the pool timeout "
                    + "(\(LabConfiguration.format(lab.poolTimeout))) and got HTTP 500 \"pool limit reached\" —"
            )
            say("the QueuePool errors from the field report.")
        }
        let service = first.p50Ms
        if service > 0 {
            let predicted = Double(capacity) / (service / 1000)
            say(
                "Little's law agrees: \(capacity) connections ÷ \(Fmt.ms(service)) ms per request "
                    + "≈ \(Fmt.fixed(predicted, 0)) requests/s at most; the plateau was \(Fmt.fixed(knee.peakGoodput, 0))."
            )
        }
        if let usl = USLFit.fit(steps.map { (Double($0.connections), $0.goodput) }), let ceiling = usl.peakThroughput {
            say(
                "The scalability fit (USL, as `volley sweep` prints it) agrees: contention σ = "
                    + Fmt.fixed(usl.sigma, 2) + " — requests queueing for one shared resource — and a ceiling near "
                    + Fmt.fixed(ceiling, 0) + " requests/s."
            )
        }
        say(style.bold("Bottleneck: the database connection pool."))
        return "database connection pool"
    }

    private func compare(_ baseline: [DemoStep], _ after: [DemoStep], knob: String) {
        say(
            "  conns        ok/s before → after       p50 ms before → after       p99 ms before → after   errors before → after"
        )
        for step in after {
            guard let before = baseline.first(where: { $0.connections == step.connections }) else { continue }
            let errorsBefore = Fmt.fixed(before.errorRate * 100, 1) + "%"
            let errorsAfter = Fmt.fixed(step.errorRate * 100, 1) + "%"
            say(
                "  " + Fmt.pad(String(step.connections), 5)
                    + Fmt.pad(Fmt.fixed(before.goodput, 0), 12) + " → "
                    + Fmt.pad(Fmt.fixed(step.goodput, 0), 7, right: false)
                    + Fmt.pad(Fmt.ms(before.p50Ms), 17) + " → " + Fmt.pad(Fmt.ms(step.p50Ms), 7, right: false)
                    + Fmt.pad(Fmt.ms(before.p99Ms), 17) + " → " + Fmt.pad(Fmt.ms(step.p99Ms), 7, right: false)
                    + Fmt.pad(errorsBefore, 13) + " → " + errorsAfter
            )
        }
        guard let top = after.last, let before = baseline.first(where: { $0.connections == top.connections }) else {
            return
        }
        let factor = before.goodput > 0 ? top.goodput / before.goodput : 0
        var verdict = "With \(knob), at \(top.connections) connections: "
        verdict += "\(Fmt.fixed(factor, 1))× the successful throughput, "
        verdict += "median \(Fmt.ms(before.p50Ms)) → \(Fmt.ms(top.p50Ms)) ms, "
        verdict += "errors \(Fmt.fixed(before.errorRate * 100, 1))% → \(Fmt.fixed(top.errorRate * 100, 1))%."
        say(verdict)
        if knob == "cache on" {
            say("A cached GET needs no database connection, so the pool stops being the queue.")
        } else {
            say(
                "More connections raise the pool's ceiling (\(top.pool.capacity) × 1 / query time); "
                    + "the database must be able to take them."
            )
        }
        say(
            style.dim(
                "(One run per side: enough for a difference this large; small differences need "
                    + "repeated runs and statistics.)"
            )
        )
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : Fmt.fixed(s, 1) + " s"
    }
}

extension Duration {
    var demoSeconds: Double {
        let (s, a) = components
        return Double(s) + Double(a) / 1e18
    }
}
