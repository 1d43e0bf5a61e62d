import Histogram
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import VolleyCore

/// Runs a plan: every scenario's VUs spread over one event loop per thread, merged once a
/// second for progress and at the end into one summary with per-request-name figures and
/// check results.
public final class PlanEngine: Sendable {
    public let plan: Plan
    private let feeds: [String: FeedTable]
    private let files: [String: [UInt8]]
    private let threads: Int
    private let insecure: Bool
    private let requestIDHeader: String?
    private let slowestCount: Int
    private let samples: SampleFile?
    private let directSockets: Bool
    private let segment: ExecutionSegment
    private let options: EngineOptions
    private let finalResults = Mutex<EngineResults?>(nil)
    private let setupRecorder = Mutex<ScenarioRecorder?>(nil)
    private let state = Mutex<[ScenarioLoop]>([])
    private let interrupted = Atomic<Bool>(false)
    private let abortedBy = Mutex<String?>(nil)
    private let finalHistograms = Mutex<RunHistograms?>(nil)

    /// The merged histograms of the finished run (overall and per request name), for the
    /// history; `nil` before `run` returns.
    public var histograms: RunHistograms? { finalHistograms.withLock { $0 } }

    /// What the finished run measured, for a result bundle; `nil` before `run` returns.
    public var results: EngineResults? { finalResults.withLock { $0 } }

    public init(
        plan: Plan,
        feeds: [String: FeedTable] = [:],
        files: [String: [UInt8]] = [:],
        threads: Int = NIOCore.System.coreCount,
        insecure: Bool = false,
        requestIDHeader: String? = "X-Request-ID",
        slowestCount: Int = 10,
        samples: SampleFile? = nil,
        directSockets: Bool = true,
        segment: ExecutionSegment = .whole,
        options: EngineOptions = EngineOptions()
    ) {
        self.plan = plan
        self.feeds = feeds
        self.files = files
        self.threads = max(1, threads)
        self.insecure = insecure
        self.requestIDHeader = requestIDHeader
        self.slowestCount = slowestCount
        self.samples = samples
        self.directSockets = directSockets
        self.segment = segment
        self.options = options
    }

    /// One event loop per core unless told otherwise.
    public static var defaultThreads: Int { NIOCore.System.coreCount }

    /// The timers each running scenario loop holds (empty before and after the run), for the
    /// test that an arrival-rate scenario's memory stays flat however long it runs.
    func retainedTimerCounts() async -> [Int] {
        var counts: [Int] = []
        for s in state.withLock({ $0 }) {
            if let n = try? await s.loop.submit({ s.retainedTimerCount }).get() { counts.append(n) }
        }
        return counts
    }

    /// The VUs each running scenario loop holds now, for the test that Ctrl-C is not kept
    /// waiting while a large scenario creates its VUs.
    func vuCounts() async -> [Int] {
        var counts: [Int] = []
        for s in state.withLock({ $0 }) {
            if let n = try? await s.loop.submit({ s.vuCount }).get() { counts.append(n) }
        }
        return counts
    }

    /// Stops every scenario: running iterations end, in-flight requests are aborted.
    public func interrupt() {
        interrupted.store(true, ordering: .relaxed)
        for s in state.withLock({ $0 }) { s.loop.execute { s.interrupt() } }
    }

    /// Stops the run because `expression` failed: an `abort_on_fail` threshold judged outside
    /// the engine (on probe series, read beside the load). Scenarios stop as for the engine's
    /// own thresholds, and the summary's `aborted_by` names it; the first reason wins.
    public func abort(because expression: String) {
        let first = abortedBy.withLock { reason in
            guard reason == nil else { return false }
            reason = expression
            return true
        }
        guard first else { return }
        for s in state.withLock({ $0 }) { s.loop.execute { s.stop() } }
    }

    /// Judges abort-on-fail thresholds on everything so far (once a second) and stops the run
    /// at the first failure, as k6's `abortOnFail` does.
    private func checkAbort(
        _ thresholds: [Threshold],
        runners: [ScenarioLoop],
        names: NameTable,
        startNanos: UInt64
    ) async {
        guard abortedBy.withLock({ $0 }) == nil else { return }
        var merged = ScenarioRecorder(slowestCapacity: 0, names: names)
        for r in runners {
            if let rec = try? await r.loop.submit({ r.recorder }).get() { merged.merge(rec) }
        }
        let byName = merged.recordersByName(names)
        let passes = merged.checks.reduce(0) { $0 + $1.passed }
        let fails = merged.checks.reduce(0) { $0 + $1.failed }
        let elapsed = Double(NIODeadline.now().uptimeNanoseconds - startNanos) / 1e9
        for t in thresholds {
            // A request name that has not run yet is not a failure while the run goes on.
            if let name = t.requestName, byName[name] == nil { continue }
            let result = t.evaluate(
                overall: merged.overall,
                byName: byName,
                checkPasses: passes,
                checkFails: fails,
                duration: elapsed
            )
            if result.actual != nil && !result.passed {
                abortedBy.withLock { $0 = t.expression }
                options.onAbort?(t.expression)
                for r in runners { r.loop.execute { r.stop() } }
                return
            }
        }
    }

    /// How a scenario's shared iterations and feed rows are split between segments: among
    /// the segments that run any of its VUs. A shared-iterations scenario of 2 VUs split 3
    /// ways runs on segments 0 and 1 only (VU k is segment k's), so its iterations and rows
    /// are shared by those two — given to segment 2 they would never run. Nil: this segment
    /// has no VU for the scenario.
    static func dataSplit(_ executor: Executor, _ segment: ExecutionSegment) -> Stripe? {
        var active = segment.count
        if case .sharedIterations(let vus, _, _) = executor { active = min(segment.count, max(1, vus)) }
        guard segment.index < active else { return nil }
        return Stripe(index: segment.index, count: active)
    }

    /// Runs `steps` once on one VU (setup, teardown) and returns what it recorded and the
    /// variables it ended with.
    private static func runOnce(
        _ name: String,
        _ steps: [Step],
        compiled: [CompiledStep],
        names: NameTable,
        on loop: any EventLoop,
        context: ScenarioRunContext
    ) async throws -> (ScenarioRecorder, [String: String]) {
        let scenario = Scenario(
            name: name,
            executor: .perVUIterations(vus: 1, iterations: 1, maxDuration: .seconds(600)),
            steps: steps
        )
        let runner = ScenarioLoop(
            index: 0,
            loopCount: 1,
            loop: loop,
            scenario: scenario,
            steps: compiled,
            names: names,
            shared: ScenarioShared(iterations: nil, feeds: Array(context.feeds.keys)),
            run: context
        )
        let start = NIODeadline.now().uptimeNanoseconds
        loop.execute { runner.begin(startNanos: start) }
        try await runner.done.get()
        let result = try await loop.submit { (runner.recorder, runner.retiredVariables) }.get()
        // Its VUs are done (retired); none of their tasks can run after `done`.
        return result
    }

    /// Everything the plan's VUs share, built once per run (and for a setup run alone).
    private func makeContext() throws -> ScenarioRunContext {
        var base: TargetURL?
        if let b = plan.baseURL { base = try TargetURL(parsing: b) }
        let prefix = String(
            decoding: RequestEncoder.hex(UInt64(UInt32.random(in: 0...UInt32.max)), digits: 8),
            as: UTF8.self
        )
        var orders: [String: DataFeed.Order] = [:]
        for f in plan.feeds { orders[f.name] = f.order }
        var context = ScenarioRunContext(
            builder: RequestBuilder(
                baseURL: base,
                defaults: plan.defaults,
                requestIDHeader: requestIDHeader,
                files: files,
                runPrefix: Array(prefix.utf8)
            ),
            defaults: plan.defaults,
            variables: plan.variables,
            feeds: feeds,
            feedOrders: orders,
            tls: TLSContextSource(insecure: insecure),
            tlsH2: TLSContextSource(
                insecure: insecure,
                protocols: plan.defaults.http1Fallback ? ["h2", "http/1.1"] : ["h2"]
            ),
            bodyLimit: 1 << 20,
            runPrefix: prefix,
            slowestCount: slowestCount,
            samples: samples,
            directSockets: directSockets
        )
        context.segment = segment
        if let base, let address = try? AddressChoice.resolve(host: base.host, port: base.port) {
            // Resolved once before the load, as `volley run` does; a name that does not resolve
            // is left to the connections, which report it per request.
            context.addresses[Authority(host: base.host, port: base.port, isTLS: base.isTLS)] = address
        }
        return context
    }

    /// Segment 0 of a distributed run: the plan's setup, run alone before the rendezvous
    /// announces the start, so its captures can be sent to every segment. Its requests count
    /// in this machine's run (merged into the summary by `run`, which then skips the setup).
    public func runSetup() async throws -> [String: String] {
        guard !plan.setup.isEmpty else { return [:] }
        let context = try makeContext()
        var names = NameTable()
        let setupSteps = names.compile(plan.setup, defaults: plan.defaults)
        let host = EngineHost(threads: 1)
        do {
            let (recorder, variables) = try await Self.runOnce(
                "setup",
                plan.setup,
                compiled: setupSteps,
                names: names,
                on: host.loops[0],
                context: context
            )
            try await host.shutdown()
            setupRecorder.withLock { $0 = recorder }
            return variables
        } catch {
            try? await host.shutdown()
            throw error
        }
    }

    public func run(onInterval: @escaping @Sendable (TimelineEntry) -> Void = { _ in }) async throws -> RunSummary {
        var context = try makeContext()
        let host = EngineHost(threads: threads)
        let loops = host.loops
        var names = NameTable()
        let setupSteps = names.compile(plan.setup, defaults: plan.defaults)
        let teardownSteps = names.compile(plan.teardown, defaults: plan.defaults)
        let scenarioSteps = plan.scenarios.map { names.compile($0.steps, defaults: plan.defaults) }
        let table = names
        var phases = ScenarioRecorder(slowestCapacity: slowestCount, names: names)
        // Setup: one VU runs the setup steps once; its captures become every VU's variables.
        var setupVariables: [String: String] = [:]
        if !plan.setup.isEmpty && options.runsSetup {
            let (recorder, variables) = try await Self.runOnce(
                "setup",
                plan.setup,
                compiled: setupSteps,
                names: names,
                on: loops[0],
                context: context
            )
            phases.merge(recorder)
            setupVariables = variables
        } else if let separate = setupRecorder.withLock({ $0 }) {
            // `runSetup` ran it (segment 0): its NameTable compiled the setup first, as here.
            phases.merge(separate)
        }
        if let gate = options.startGate {
            do {
                setupVariables = try await gate(setupVariables)
            } catch {
                try? await host.shutdown()
                throw error
            }
        }
        for (name, value) in setupVariables {
            context.variables[name] = Template(parts: [.literal(value)], source: value)
        }
        var runners: [ScenarioLoop] = []
        for (scenario, steps) in zip(plan.scenarios, scenarioSteps) {
            var shared: Int?
            if case .sharedIterations(_, let n, _) = scenario.executor { shared = n }
            let split = Self.dataSplit(scenario.executor, segment)
            // Shared iterations are split exactly: this segment's share of the run's budget,
            // among the segments that have VUs for it.
            let s = ScenarioShared(
                iterations: shared.map { total in split?.share(of: total) ?? 0 },
                feeds: Array(feeds.keys),
                rows: split ?? Stripe(index: 0, count: 1)
            )
            for (i, loop) in loops.enumerated() {
                runners.append(
                    ScenarioLoop(
                        index: i,
                        loopCount: loops.count,
                        loop: loop,
                        scenario: scenario,
                        steps: steps,
                        names: names,
                        shared: s,
                        run: context
                    )
                )
            }
        }
        state.withLock { $0 = runners }
        let startNanos = NIODeadline.now().uptimeNanoseconds
        let startedAtUnixNanos = WallClock.now()
        for r in runners { r.loop.execute { r.begin(startNanos: startNanos) } }
        if interrupted.load(ordering: .relaxed) { interrupt() }
        if abortedBy.withLock({ $0 }) != nil {
            // Aborted before the scenarios existed (a probe threshold failed at once).
            for r in runners { r.loop.execute { r.stop() } }
        }
        let abortThresholds = plan.thresholds.filter { $0.abortOnFail && !$0.isProbeThreshold }
        var eachSecond: (@Sendable () async -> Void)?
        if !abortThresholds.isEmpty {
            eachSecond = { [runners] in
                await self.checkAbort(abortThresholds, runners: runners, names: table, startNanos: startNanos)
            }
        }
        let keeper = options.keepIntervals ? IntervalKeeper() : nil
        let timeline = await host.drive(
            runners,
            startNanos: startNanos,
            eachSecond: eachSecond,
            keeper: keeper,
            onInterval: onInterval
        )
        let endNanos = NIODeadline.now().uptimeNanoseconds
        var merged = phases
        for r in try await host.collect(runners, { $0.recorder }) { merged.merge(r) }
        if !plan.teardown.isEmpty && options.runsTeardown {
            let (recorder, _) = try await Self.runOnce(
                "teardown",
                plan.teardown,
                compiled: teardownSteps,
                names: names,
                on: loops[0],
                context: context
            )
            merged.merge(recorder)
        }
        state.withLock { $0 = [] }
        try await host.shutdown()
        // VUs reach their loop through an unowned(unsafe) reference: the loops must outlive
        // every task that could still run on the group.
        withExtendedLifetime(runners) {}
        let duration = Double(endNanos - startNanos) / 1e9
        var summary = RunSummary(
            target: plan.baseURL ?? "(per request)",
            method: "*",
            model: .closed(connections: 0, limit: .duration(.zero)),
            threads: threads,
            recorder: merged.overall,
            duration: duration,
            timeline: timeline,
            interrupted: interrupted.load(ordering: .relaxed)
        )
        summary.model = "plan"
        summary.connections = nil
        summary.plan = plan.name
        var stats: [NamedRequestStats] = []
        for (id, name) in names.requests.enumerated() {
            let recorder = merged.byName[id]
            guard recorder != nil || merged.skippedSteps[id] > 0 else { continue }
            stats.append(
                NamedRequestStats(
                    name: name,
                    recorder: recorder ?? Recorder(slowestCapacity: 0),
                    duration: duration,
                    skipped: merged.skippedSteps[id],
                    captureFailures: merged.captureFailures[id]
                )
            )
            stats[stats.count - 1].skipReason = merged.skipReasons[id]
        }
        summary.requestsByName = stats
        summary.abortedBy = abortedBy.withLock { $0 }
        if !segment.isWhole { summary.segment = segment.description }
        let groupStats = names.groups.enumerated().compactMap { id, name in
            merged.groups[id].map { GroupStats(name: name, histogram: $0) }
        }
        if !groupStats.isEmpty { summary.groups = groupStats }
        summary.checks = names.checks.enumerated().compactMap { id, name in
            let c = merged.checks[id]
            return c.passed + c.failed > 0 ? CheckResult(name: name, passes: c.passed, fails: c.failed) : nil
        }
        summary.iterations = IterationStats(
            completed: merged.iterationsCompleted,
            interrupted: merged.iterationsInterrupted,
            dropped: merged.iterationsDropped
        )
        let passes = merged.checks.reduce(0) { $0 + $1.passed }
        let fails = merged.checks.reduce(0) { $0 + $1.failed }
        let byName = merged.recordersByName(names)
        finalHistograms.withLock {
            $0 = RunHistograms(
                latency: merged.overall.latency,
                serviceTime: merged.overall.serviceTime,
                byName: byName.mapValues(\.latency),
                phases: merged.overall.phases.byPhase
            )
        }
        var groupHistograms: [String: Histogram<UInt64>] = [:]
        for (id, name) in names.groups.enumerated() {
            if let h = merged.groups[id] { groupHistograms[name, default: LatencyHistogram.make()].add(h) }
        }
        finalResults.withLock {
            $0 = EngineResults(
                overall: merged.overall,
                byName: byName,
                groups: groupHistograms,
                intervals: keeper?.histograms ?? [],
                startedAtUnixNanos: startedAtUnixNanos
            )
        }
        // Probe thresholds are judged by the caller once its probes have stopped.
        let ownThresholds = plan.thresholds.filter { !$0.isProbeThreshold }
        if !ownThresholds.isEmpty {
            summary.thresholds = ownThresholds.map {
                $0.evaluate(
                    overall: merged.overall,
                    byName: byName,
                    checkPasses: passes,
                    checkFails: fails,
                    duration: duration
                )
            }
        }
        return summary
    }
}
