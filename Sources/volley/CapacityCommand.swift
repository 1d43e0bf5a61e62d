import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyReport
import VolleyStore

/// `volley capacity`: Little's-law arithmetic from a measured service time.
struct CapacityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capacity",
        abstract: "Turn a service time into capacity: requests per second, workers and DB connections needed.",
        discussion: """
            The service time comes from --service-time, or from a saved run (--run: its mean latency; \
            take a run at low concurrency, where latency is service time and not queueing). Capacity \
            = instances × workers × threads ÷ service time (Little's law at saturation). With \
            --target-rate, the concurrency and workers needed, and the utilisation. --cores without \
            --workers uses gunicorn's rule of thumb, 2 × cores + 1.

            Example:
              volley capacity --service-time 25ms --workers 5 --instances 2 --target-rate 300 --pool-size 15
            """
    )

    @Option(help: "Time one request takes to serve, e.g. 25ms.")
    var serviceTime: String?

    @Option(
        name: .customLong("run"),
        help: "A saved run whose mean latency is the service time (an id, last, last~N)."
    )
    var runReference: String?

    @Option(help: "A saved sweep (E<N> or last): service time from its lowest level, ceiling from its knee.")
    var experiment: String?

    @Option(help: "Workers per instance (processes).")
    var workers: Int?

    @Option(help: "Threads per worker.")
    var threads: Int = 1

    @Option(help: "Instances (containers, hosts).")
    var instances: Int = 1

    @Option(help: "Cores per instance, for the 2 × cores + 1 rule when --workers is not given.")
    var cores: Int?

    @Option(help: "The rate to plan for, requests per second.")
    var targetRate: Double?

    @Option(help: "Database connections each instance's pool allows (size + overflow).")
    var poolSize: Int?

    @Option(help: "The database's max_connections.")
    var maxConnections: Int = 100

    static func sweep(_ reference: String) throws -> SweepResult {
        let store = try HistorySaver.open()
        let record: ExperimentRecord
        do {
            record = try store.experiment(reference)
        } catch {
            throw CLIError(message: error.message, hint: error.hint, code: .usage)
        }
        guard record.kind == "sweep" else {
            throw CLIError(
                message: "experiment E\(record.id ?? 0) is a \(record.kind), not a sweep",
                hint: nil,
                code: .usage
            )
        }
        do {
            return try ExperimentJSON.decode(SweepResult.self, from: record.result)
        } catch {
            throw CLIError(message: "experiment E\(record.id ?? 0) cannot be read: \(error)", hint: nil, code: .failure)
        }
    }

    func run() throws {
        let sources = [serviceTime != nil, runReference != nil, experiment != nil].filter { $0 }.count
        guard sources == 1 else {
            throw CLIError(
                message: "give the service time with one of --service-time, --run or --experiment",
                hint: "for example --service-time 25ms, --run last, or --experiment E1 (a sweep)",
                code: .usage
            )
        }
        var source: String
        var ms: Double
        var measuredCeiling: (level: Double, goodput: Double)?
        if let serviceTime {
            ms = try LabCommand.duration(serviceTime, flag: "service-time").seconds * 1000
            source = "given"
        } else if let runReference {
            let stored = try loadRun(runReference, from: HistorySaver.open())
            ms = stored.record.summary.latencyMs.mean
            source = "mean latency of run #\(stored.record.id ?? 0)"
            if let c = stored.record.summary.connections, c > 1 {
                source += " at \(c) connections (includes queueing if the service was saturated)"
            }
        } else {
            let sweep = try Self.sweep(experiment!)
            guard let lowest = sweep.analysis.levels.first else {
                throw CLIError(message: "the sweep has no levels", hint: nil, code: .usage)
            }
            ms = lowest.meanMs
            source = "mean latency at the sweep's lowest level, \(SweepAnalysis.format(lowest.level))"
            if let knee = sweep.analysis.knee { measuredCeiling = (knee.level, knee.peakGoodput) }
        }
        guard ms > 0 else { throw CLIError(message: "the service time must be above 0", hint: nil, code: .usage) }
        var ruleOfThumb = false
        let workerCount: Int
        if let workers {
            workerCount = workers
        } else if let cores {
            workerCount = CapacityEstimate.suggestedWorkers(cores: cores)
            ruleOfThumb = true
        } else if let ceiling = measuredCeiling {
            // Only the measured ceiling: say what it implies, without assuming workers.
            let width = ceiling.goodput * ms / 1000
            Terminal.writeOut(
                "Service time \(Fmt.ms(ms)) ms (\(source)).\n"
                    + "Measured ceiling: \(Fmt.fixed(ceiling.goodput, 0)) requests/s (the sweep's knee, from "
                    + "\(SweepAnalysis.format(ceiling.level)) connections).\n"
                    + "Little's law: ceiling × service time = \(Fmt.fixed(width, 1)) requests in service at once — the width "
                    + "of the bottleneck. If that matches a pool size, a worker count or a lock, that is what limits it.\n"
            )
            return
        } else {
            throw CLIError(message: "give --workers, or --cores for the 2 × cores + 1 rule", hint: nil, code: .usage)
        }
        guard workerCount > 0, threads > 0, instances > 0 else {
            throw CLIError(message: "--workers, --threads and --instances must be at least 1", hint: nil, code: .usage)
        }
        let e = CapacityEstimate(
            serviceTimeMs: ms,
            workers: workerCount,
            threads: threads,
            instances: instances,
            targetRate: targetRate
        )
        var out = "Service time \(Fmt.ms(ms)) ms (\(source)).\n"
        out += "\(instances) instance\(instances == 1 ? "" : "s") × \(workerCount) worker\(workerCount == 1 ? "" : "s")"
        out += ruleOfThumb ? " (2 × \(cores!) cores + 1)" : ""
        out += " × \(threads) thread\(threads == 1 ? "" : "s") = \(e.slots) requests in service at once.\n"
        out += "Capacity ≈ \(e.slots) ÷ \(Fmt.ms(ms)) ms = \(Fmt.fixed(e.maxRate, 0)) requests/s "
        out += "(\(Fmt.int(Int((e.maxRate * 60).rounded()))) per minute); beyond it, requests queue.\n"
        if let target = targetRate, let needed = e.concurrencyNeeded, let workersNeeded = e.workersNeeded,
            let utilisation = e.utilisation
        {
            out += "For \(Fmt.fixed(target, 0)) requests/s: \(Fmt.fixed(needed, 1)) requests in service on average "
            out +=
                "(Little's law: rate × service time), so at least \(workersNeeded) worker\(workersNeeded == 1 ? "" : "s")"
            out += " per instance; utilisation \(Fmt.percent(utilisation))"
            out += utilisation > 0.8 ? " — above 80%, queueing makes latency climb steeply: add capacity.\n" : ".\n"
        }
        out += "Database connections: up to \(e.databaseConnections) at once if every request uses one"
        if let poolSize {
            let perInstance = workerCount * threads
            out += "; each instance's pool allows \(poolSize) for \(perInstance) concurrent requests"
            out +=
                perInstance > poolSize
                ? " — too few: requests will wait for the pool (QueuePool timeouts)" : " — enough"
            let total = poolSize * instances
            out += "; all pools together may open \(total) of max_connections \(maxConnections)"
            out += total > maxConnections ? " — too many: the database will refuse connections" : ""
        }
        out += ".\n"
        Terminal.writeOut(out)
    }
}
