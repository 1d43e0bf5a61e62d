import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyPlan
import VolleyProbes
import VolleyReport

extension RunCommand {
    /// A plan file rather than a URL: by extension, or any existing file that is not a URL.
    static func isPlanPath(_ text: String) -> Bool {
        let lower = text.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") { return false }
        return lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") || FileManager.default.fileExists(atPath: text)
    }

    /// Flags that shape `volley run URL` load; a plan sets these itself.
    func rejectURLOnlyFlags() throws {
        let given = [
            ("-c", connections != nil), ("-n", requests != nil), ("-d", duration != nil), ("-r", rate != nil),
            ("--stages", stages != nil), ("--body", body != nil), ("--body-file", bodyFile != nil),
            ("-H", !headers.isEmpty),
        ].filter(\.1).map(\.0)
        guard given.isEmpty else {
            throw InputError(
                "\(given.joined(separator: ", ")) do\(given.count == 1 ? "es" : "") not apply to a plan file",
                hint: "set VUs, durations and headers in the plan; make them overridable with ${VUS:-50} and -e VUS=100"
            )
        }
    }

    func performPlan(watcher shared: InterruptWatcher? = nil) async throws -> Outcome {
        try rejectURLOnlyFlags()
        let env = try PlanEnvironment.make(overrides: environment)
        let loaded: LoadedPlan
        do {
            loaded = try PlanLoader.load(path: url, environment: env)
        } catch {
            Terminal.writeError(error.description + "\n")
            throw ExitCode(VolleyExit.usage.rawValue)
        }
        for w in loaded.warnings { Terminal.writeError(w.description + "\n") }
        Terminal.raiseFileLimit()
        let files = try Self.fileBodies(loaded.plan, relativeTo: (url as NSString).deletingLastPathComponent)
        try checkOutputPaths()
        let samples = try openSamples()
        defer { samples?.close() }
        let engine = PlanEngine(
            plan: loaded.plan,
            feeds: loaded.feeds,
            files: files,
            threads: threads ?? PlanEngine.defaultThreads,
            insecure: insecure,
            requestIDHeader: noRequestId ? nil : requestIdHeader,
            slowestCount: slowest,
            samples: samples
        )
        let (watcher, unwatch) = InterruptWatcher.watching(shared) { engine.interrupt() }
        defer { unwatch() }
        let progress = ProgressBox(
            ProgressRenderer(
                style: Style(enabled: Terminal.colorEnabled(fd: STDERR_FILENO)),
                isTTY: Terminal.isTTY(STDERR_FILENO),
                expectedRequests: nil,
                expectedSeconds: Self.progressSeconds(loaded.plan)
            ),
            enabled: !quiet
        )
        var summary: RunSummary
        let startedAt = Date()
        let probes = try await probing.start(planProbes: loaded.plan.probes)
        let aborts = probes.watchAborts(loaded.plan.thresholds.filter { $0.isProbeThreshold && $0.abortOnFail }) {
            engine.abort(because: $0)
        }
        defer { aborts?.cancel() }
        do {
            summary = try await engine.run { entry in progress.update(entry) }
            aborts?.cancel()
            await probes.stop(into: &summary, thresholds: loaded.plan.thresholds.filter(\.isProbeThreshold))
            summary.findings = Diagnosis.diagnose(summary)
        } catch let error as InputError {
            await probes.discard()
            throw error
        } catch {
            await probes.discard()
            throw CLIError(message: "the plan could not run: \(error)", hint: nil, code: .failure)
        }
        progress.finish()
        return Outcome(
            summary: summary,
            samplesPath: samples?.path,
            histograms: engine.histograms,
            kind: "plan",
            startedAt: startedAt,
            stoppedBy: watcher.stoppedBy,
            planSecrets: loaded.plan.literalSecrets
        )
    }

    /// The planned length for the progress bar, when every scenario is time-bound
    /// (iteration-bound ones usually end long before their max_duration).
    static func progressSeconds(_ plan: Plan) -> Double? {
        let timeBound = plan.scenarios.allSatisfy {
            switch $0.executor {
            case .sharedIterations, .perVUIterations: return false
            default: return true
            }
        }
        return timeBound ? plan.plannedDuration.seconds : nil
    }

    /// The bytes of every `body_file`, read once before the run.
    static func fileBodies(_ plan: Plan, relativeTo directory: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        func visit(_ steps: [Step]) throws {
            for step in steps {
                switch step {
                case .request(let r):
                    if case .file(let path, _) = r.body, out[path] == nil {
                        let full = path.hasPrefix("/") || directory.isEmpty ? path : directory + "/" + path
                        out[path] = try readFile(full, flag: "body_file")
                    }
                case .group(_, let inner, _):
                    try visit(inner)
                case .think:
                    break
                }
            }
        }
        try visit(plan.setup)
        try visit(plan.teardown)
        for s in plan.scenarios { try visit(s.steps) }
        return out
    }
}
