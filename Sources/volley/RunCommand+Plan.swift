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

    /// `--follow` given with a plan target (sweep, find-max, ab): plans set their own limit.
    static let followWithPlan = InputError(
        "--follow does not apply to a plan file",
        hint: "plans follow redirects themselves: set defaults.max_redirects in the plan"
    )

    /// Flags that shape `volley run URL` load; a plan sets these itself.
    func rejectURLOnlyFlags() throws {
        let given = [
            ("-c", connections != nil), ("-n", requests != nil), ("-d", duration != nil), ("-r", rate != nil),
            ("--stages", stages != nil), ("--body", body != nil), ("--body-file", bodyFile != nil),
            ("-H", !headers.isEmpty), ("--follow", follow != 0), ("--http2", http2), ("--h2c", h2c),
            ("-m/--streams", streams != nil), ("--http1-fallback", http1Fallback),
        ].filter(\.1).map(\.0)
        guard given.isEmpty else {
            let protocolOnly = given.allSatisfy {
                ["--http2", "--h2c", "-m/--streams", "--http1-fallback"].contains($0)
            }
            throw InputError(
                "\(given.joined(separator: ", ")) do\(given.count == 1 ? "es" : "") not apply to a plan file",
                hint: protocolOnly
                    ? "a plan says its HTTP itself: http: 2 (TLS) or http: h2c under defaults: or on a request (and http1_fallback: true under defaults:); make it overridable with http: ${HTTP:-1.1} and -e HTTP=h2c"
                    : "set VUs, durations, headers and defaults.max_redirects in the plan; make them overridable with ${VUS:-50} and -e VUS=100"
            )
        }
    }

    func performPlan(watcher shared: InterruptWatcher? = nil) async throws -> Outcome {
        try rejectURLOnlyFlags()
        var job = try Self.planJob(path: url, environment: environment, probing: probing)
        try fillCommon(&job.request)
        try distribute(&job)
        job.quiet = quiet
        job.samplesPath = out
        try job.validate()
        try checkOutputPaths()
        return try await LoadRunner.perform(job, watcher: shared)
    }

    /// Loads the plan at `path` with `-e` overrides (printing its warnings; a plan error is
    /// printed with its file:line:column and exits 2) as a job with a plan target, for `run`
    /// and for the experiments that take plan targets.
    static func planJob(path: String, environment: [String], probing: ProbeOptions? = nil) throws -> RunJob {
        let env = try PlanEnvironment.make(overrides: environment)
        let loaded: LoadedPlan
        do {
            loaded = try PlanLoader.load(path: path, environment: env)
        } catch {
            Terminal.writeError(error.description + "\n")
            throw ExitCode(VolleyExit.usage.rawValue)
        }
        for w in loaded.warnings { Terminal.writeError(w.description + "\n") }
        let files = try fileBodies(loaded.plan, relativeTo: (path as NSString).deletingLastPathComponent)
        var job = try RunJob(
            request: RunRequest(target: .plan(loaded.plan, feeds: loaded.feeds, files: files)),
            probing: probing
        )
        job.planSecrets = loaded.plan.literalSecrets
        return job
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
