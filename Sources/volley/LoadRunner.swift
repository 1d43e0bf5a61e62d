import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyProbes
import VolleyReport

/// One run to make: the typed request plus what surrounds the load (probes, progress, the
/// samples file). `run` and every experiment build one from their own flags.
struct RunJob {
    var request: RunRequest
    /// `--probe`, `--watch-health`: the command's own (a sweep passes its options to every level).
    var probing: ProbeOptions
    /// No live progress.
    var quiet = true
    /// `--out`: one JSON line per request.
    var samplesPath: String?
    /// A plan's credentials, masked in the copy of its text the history keeps.
    var planSecrets: Set<String> = []
    /// A distributed run's start gate, abort relay and what the bundle needs kept.
    var options = EngineOptions()
    /// `--rendezvous`: the run is one segment of a run coordinated by segment 0.
    var distributed: DistributedRun?
    /// Whether this process runs the plan's probes (a distributed run probes on segment 0 only).
    var runsProbes = true
    /// How the command names a request field in an error: its own flags, never `run`'s.
    var flagName: (RunRequest.Field) -> String = RunRequestError.runFlag

    /// Checks the request before any load, in the command's terms.
    func validate() throws {
        do {
            if request.isPlan { try request.validateCommon() } else { _ = try request.configuration() }
        } catch {
            throw error.naming(flagName)
        }
    }

    /// A job without probes (the experiments that take no probe flags).
    init(request: RunRequest, probing: ProbeOptions? = nil) throws {
        self.request = request
        self.probing = try probing ?? ProbeOptions.parse([])
    }
}

/// Executes a ``RunJob``: the URL engine or the plan engine, the probes and abort thresholds,
/// the diagnosis and the live progress — the one place a load is run, for `run` and the
/// experiments alike. Saving is ``HistorySaver``'s.
enum LoadRunner {
    /// Runs the job; a shared `watcher` (an experiment's, outliving every level) lets a
    /// signal between two levels still stop the next one.
    static func perform(_ job: RunJob, watcher shared: InterruptWatcher? = nil) async throws -> RunCommand.Outcome {
        if case .plan(let plan, let feeds, let files) = job.request.target {
            return try await performPlan(job, plan: plan, feeds: feeds, files: files, watcher: shared)
        }
        var config: RunConfiguration
        do {
            config = try job.request.configuration()
        } catch {
            throw error.naming(job.flagName)
        }
        let samples = try openSamples(job.samplesPath)
        defer { samples?.close() }
        config.samples = samples
        Terminal.raiseFileLimit()
        let engine = LoadEngine(configuration: config, options: job.options)
        let (watcher, unwatch) = InterruptWatcher.watching(shared) { engine.interrupt() }
        defer { unwatch() }
        let expected = RunCommand.expectations(config.model)
        let progress = progressBox(quiet: job.quiet, requests: expected.requests, seconds: expected.seconds)
        let load = { () async throws -> RunCommand.Outcome in
            var summary: RunSummary
            let startedAt = Date()
            let probes = try await job.probing.start()
            do {
                summary = try await engine.run { entry in progress.update(entry) }
            } catch let error as EngineError {
                await probes.discard()
                throw CLIError(message: error.message, hint: error.hint, code: .failure)
            }
            await probes.stop(into: &summary)
            summary.findings = Diagnosis.diagnose(summary)
            progress.finish()
            return RunCommand.Outcome(
                summary: summary,
                samplesPath: samples?.path,
                histograms: engine.histograms,
                results: engine.results,
                kind: "url",
                startedAt: startedAt,
                stoppedBy: watcher.stoppedBy
            )
        }
        guard let distributed = job.distributed else { return try await load() }
        return try await distributed.coordinate(setup: nil, stop: { _ in engine.interrupt() }, load: load)
    }

    private static func performPlan(
        _ job: RunJob,
        plan: Plan,
        feeds: [String: FeedTable],
        files: [String: [UInt8]],
        watcher shared: InterruptWatcher?
    ) async throws -> RunCommand.Outcome {
        let request = job.request
        try job.validate()
        Terminal.raiseFileLimit()
        let samples = try openSamples(job.samplesPath)
        defer { samples?.close() }
        let engine = PlanEngine(
            plan: plan,
            feeds: feeds,
            files: files,
            threads: request.threads ?? PlanEngine.defaultThreads,
            insecure: request.insecure,
            requestIDHeader: request.requestIDHeader,
            slowestCount: request.slowest,
            samples: samples,
            segment: request.segment,
            options: job.options
        )
        let (watcher, unwatch) = InterruptWatcher.watching(shared) { engine.interrupt() }
        defer { unwatch() }
        let progress = progressBox(quiet: job.quiet, requests: nil, seconds: RunCommand.progressSeconds(plan))
        let relay = job.options.onAbort
        let load = { () async throws -> RunCommand.Outcome in
            var summary: RunSummary
            let startedAt = Date()
            let probes = try await job.probing.start(planProbes: job.runsProbes ? plan.probes : [])
            let aborts = probes.watchAborts(plan.thresholds.filter { $0.isProbeThreshold && $0.abortOnFail }) {
                engine.abort(because: $0)
                relay?($0)
            }
            defer { aborts?.cancel() }
            do {
                summary = try await engine.run { entry in progress.update(entry) }
                aborts?.cancel()
                await probes.stop(into: &summary, thresholds: plan.thresholds.filter(\.isProbeThreshold))
                summary.findings = Diagnosis.diagnose(summary)
            } catch let error as InputError {
                await probes.discard()
                throw error
            } catch {
                await probes.discard()
                throw CLIError(message: "the plan could not run: \(error)", hint: nil, code: .failure)
            }
            progress.finish()
            return RunCommand.Outcome(
                summary: summary,
                samplesPath: samples?.path,
                histograms: engine.histograms,
                results: engine.results,
                thresholds: plan.thresholds,
                kind: "plan",
                startedAt: startedAt,
                stoppedBy: watcher.stoppedBy,
                planSecrets: job.planSecrets
            )
        }
        guard let distributed = job.distributed else { return try await load() }
        var setup: RendezvousServer.Setup?
        if !plan.setup.isEmpty { setup = { try await engine.runSetup() } }
        return try await distributed.coordinate(
            setup: setup,
            stop: { abort in
                // Another segment's threshold stops this one as its own would; a lost segment
                // interrupts it (the run has failed: segment 0 says why).
                if abort.kind == .aborted { engine.abort(because: abort.reason) } else { engine.interrupt() }
            },
            load: load
        )
    }

    private static func progressBox(quiet: Bool, requests: Int?, seconds: Double?) -> ProgressBox {
        ProgressBox(
            ProgressRenderer(
                style: Style(enabled: Terminal.colorEnabled(fd: STDERR_FILENO)),
                isTTY: Terminal.isTTY(STDERR_FILENO),
                expectedRequests: requests,
                expectedSeconds: seconds
            ),
            enabled: !quiet
        )
    }

    /// Opens `--out` before any load is sent, so that a bad path costs nothing.
    static func openSamples(_ path: String?) throws -> SampleFile? {
        guard let path else { return nil }
        do {
            return try SampleFile(path: path)
        } catch {
            throw CLIError(message: error.message, hint: error.hint, code: .usage)
        }
    }
}

extension RunRequestError {
    /// How `volley run`'s flags name the fields.
    static func runFlag(_ field: RunRequest.Field) -> String {
        switch field {
        case .target: return "the target"
        case .connections, .preconnect: return "-c"
        case .requests: return "-n"
        case .duration: return "-d/--duration"
        case .rate: return "--rate"
        case .maxConnections: return "--max-connections"
        case .threads: return "--threads"
        case .method: return "-X/--method"
        case .requestTimeout: return "--timeout"
        case .connectTimeout: return "--connect-timeout"
        case .grace: return "--grace"
        case .slowest: return "--slowest"
        case .requestIDHeader: return "--request-id-header"
        case .follow: return "--follow"
        case .http: return "--http2/--h2c"
        case .streams: return "-m/--streams"
        case .http1Fallback: return "--http1-fallback"
        }
    }
}
