import ArgumentParser
import Foundation
import VolleyCore
import VolleyProbes

/// `--probe`, `--watch-health` and their settings: one definition for `run`, `sweep` and
/// `matrix`, handed to ``LoadRunner`` as typed values (a sweep's levels share its options).
struct ProbeOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Sample the server side every second during the run (repeatable).",
            discussion: "http://host/metrics (Prometheus), postgres://user@host/db, redis://host:port, "
                + "pid:N, name:PROCESS, cgroup:/sys/fs/cgroup/PATH",
            valueName: "probe"
        )
    )
    var probe: [String] = []

    @Option(help: "A Redis list whose length is sampled with a redis:// probe (repeatable), e.g. celery.")
    var redisQueue: [String] = []

    @Option(help: "Keep only these Prometheus series (repeatable; * wildcards), e.g. 'lab_db_pool_*'.")
    var probeSeries: [String] = []

    @Option(help: "Poll this readiness URL during the run with Kubernetes probe semantics.")
    var watchHealth: String?

    @Option(help: "How often the readiness URL is polled (periodSeconds).")
    var healthPeriod: String = "10s"

    @Option(help: "A poll slower than this fails (timeoutSeconds).")
    var healthTimeout: String = "1s"

    @Option(help: "Consecutive failed polls that mark the instance unready (failureThreshold).")
    var failureThreshold: Int = 3

    @Option(help: "Consecutive successful polls that mark it ready again (successThreshold).")
    var successThreshold: Int = 1

    @Flag(help: "Refuse to run when a probe cannot be reached at start.")
    var requireProbes = false

    /// Whether anything of the server side is read (a quiet diagnosis is then worth a line).
    var isActive: Bool { !probe.isEmpty || watchHealth != nil }

    /// Checks every `--probe` (and every probe the plan declares) with one reading and the
    /// health URL's form, then starts sampling on the run's clock.
    func start(planProbes: [PlanProbe] = []) async throws -> RunningProbes {
        var health: HealthWatcher?
        if let watchHealth {
            let watcher = try makeHealthWatcher(watchHealth)
            let first = await watcher.check()
            if !first.ok {
                Terminal.writeError(
                    "volley: warning: --watch-health \(watcher.displayName) fails before any load "
                        + "(\(first.error ?? "failed")); it is watched anyway\n"
                )
            }
            health = watcher
        }
        var samplers: [ProbeSampler] = []
        let options = ProbeFactory.Options(redisQueues: redisQueue, prometheusSeries: probeSeries)
        // A plan's probes keep their own queues and series; the flags add to them.
        let requested = probe.map { PlanProbe($0) } + planProbes
        for p in requested {
            let source: any ProbeSource
            do {
                source = try ProbeFactory.make(p, adding: options)
            } catch let error as ProbeError {
                guard let location = p.location else {
                    throw CLIError(
                        message: error.description,
                        hint: "see docs/probes.md for the probe forms",
                        code: .usage
                    )
                }
                let message = error.description.replacingOccurrences(of: "--probe ", with: "probe ")
                throw CLIError(
                    message: "\(location): \(message)",
                    hint: "fix the plan's probes: entry; see docs/probes.md for the probe forms",
                    code: .usage
                )
            }
            do {
                try await source.check()
                samplers.append(ProbeSampler(source))
            } catch {
                await source.close()
                let message = "probe \(source.displayName) cannot be read: \(error)"
                if requireProbes {
                    for s in samplers { _ = await s.stop() }
                    throw CLIError(message: message, hint: "start it, or drop --require-probes", code: .failure)
                }
                Terminal.writeError("volley: warning: \(message); the run goes on without it\n")
            }
        }
        return RunningProbes(starting: samplers, health: health)
    }

    func makeHealthWatcher(_ text: String) throws -> HealthWatcher {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil
        else {
            throw InputError(
                "--watch-health \(ProbeFactory.redact(text)) is not an http(s) URL",
                hint: "e.g. http://127.0.0.1:8080/ready"
            )
        }
        let period = try RunCommand.positiveDuration(healthPeriod, flag: "--health-period")
        let timeout = try RunCommand.positiveDuration(healthTimeout, flag: "--health-timeout")
        guard failureThreshold >= 1 else {
            throw InputError(
                "--failure-threshold must be at least 1, got \(failureThreshold)",
                hint: "Kubernetes' default is 3"
            )
        }
        guard successThreshold >= 1 else {
            throw InputError(
                "--success-threshold must be at least 1, got \(successThreshold)",
                hint: "Kubernetes' default is 1"
            )
        }
        return HealthWatcher(
            url: url,
            period: period,
            timeout: timeout,
            failureThreshold: failureThreshold,
            successThreshold: successThreshold
        )
    }

}
