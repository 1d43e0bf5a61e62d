import Foundation
import Synchronization
import VolleyCore
import VolleyEngine
import VolleyLab
import VolleyReport

/// `volley demo`: the whole story on the lab — raise the load until the service breaks, say
/// where and why, change one knob, show the difference — written for someone who has never
/// run a load test. Every number it prints is measured in this run; the words around them
/// are chosen from what was measured (the knee, the pool's counters), not written in advance.
public final class DemoRunner: Sendable {
    public let options: DemoOptions
    private let write: @Sendable (String) -> Void
    private let style: Style
    private let current = Mutex<LoadEngine?>(nil)
    private let stopped = Atomic<Bool>(false)

    static let endpoint = "/books/"

    public init(options: DemoOptions, color: Bool = false, output: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.style = Style(enabled: color)
        self.write = output
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
        for level in options.levels.sorted() where !isStopped {
            let step = try await measure(server, level: level, directory: "baseline")
            baseline.append(step)
            say(row(step))
        }
        await server.stop()

        // 3. What happened.
        say("")
        say(style.bold("3. What happened"))
        let knee = KneeFinder.find(baseline.map(\.levelResult))
        let bottleneck = explain(baseline, knee: knee, lab: lab)

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

        // Artifacts.
        let report = DemoReport(
            volleyVersion: VolleyVersion.current,
            endpoint: Self.endpoint,
            stepSeconds: stepSeconds,
            lab: lab,
            baseline: baseline,
            knee: knee,
            bottleneck: bottleneck,
            comparisons: comparisons,
            interrupted: isStopped
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(report).write(to: URL(fileURLWithPath: "\(out)/demo.json"))
        say("")
        say(style.bold("Artifacts") + " in \(out)/")
        say("  demo.json                 every number above, as data")
        say("  baseline/c<N>.json        each step's full summary (the format of `volley run --json`)")
        if !comparisons.isEmpty {
            say("  cache-on/, bigger-pool/   the same for each knob")
        }
        say("")
        say(style.bold("Try it yourself"))
        say(
            "  volley lab --pool-size \(lab.poolSize) --pool-overflow \(lab.poolOverflow) "
                + "--pool-timeout \(LabConfiguration.format(lab.poolTimeout)) "
                + "--query-latency \(LabConfiguration.format(lab.queryLatency)) --port 8080"
        )
        say("  volley run http://127.0.0.1:8080\(Self.endpoint) -c 64 -d 10s")
        if isStopped { say(style.yellow("Interrupted: the artifacts hold the steps that finished.")) }
        return report
    }

    private var isStopped: Bool { stopped.load(ordering: .relaxed) }

    private func say(_ line: String) { write(line + "\n") }

    // MARK: Measuring

    private func load(_ server: LabServer, connections: Int, limit: ClosedLimit) async throws -> RunSummary {
        let configuration = RunConfiguration(
            request: RequestSpec(method: "GET", url: try TargetURL(parsing: server.baseURL + Self.endpoint)),
            model: .closed(connections: connections, limit: limit),
            threads: options.threads ?? ProcessInfo.processInfo.activeProcessorCount,
            requestTimeout: .seconds(10),
            connectTimeout: .seconds(2),
            interruptGrace: .milliseconds(300)
        )
        let engine = LoadEngine(configuration: configuration)
        current.withLock { $0 = engine }
        defer { current.withLock { $0 = nil } }
        if isStopped { engine.interrupt() }
        return try await engine.run()
    }

    /// Runs one level and samples the lab's pool while it runs.
    private func measure(_ server: LabServer, level: Int, directory: String) async throws -> DemoStep {
        let before = server.snapshot
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
        let summary = try await load(server, connections: level, limit: .duration(options.stepDuration))
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

        var errors: [String: Int] = [:]
        var good = 0
        for (code, count) in summary.status {
            if let value = Int(code), (200..<400).contains(value) { good += count } else { errors[code] = count }
        }
        for (kind, count) in summary.transportErrors { errors[kind] = count }
        let bad = errors.values.reduce(0, +)
        let checkouts = after.poolCheckouts - before.poolCheckouts + (after.poolTimeouts - before.poolTimeouts)
        let waited = after.poolWaitSeconds - before.poolWaitSeconds
        return DemoStep(
            connections: level,
            goodput: summary.durationS > 0 ? Double(good) / summary.durationS : 0,
            rps: summary.rps,
            p50Ms: summary.latencyMs.p50,
            p90Ms: summary.latencyMs.p90,
            p99Ms: summary.latencyMs.p99,
            requests: summary.requests,
            errors: errors,
            errorRate: summary.requests > 0 ? Double(bad) / Double(summary.requests) : 0,
            pool: PoolEvidence(
                capacity: server.configuration.poolSize + server.configuration.poolOverflow,
                maxCheckedOut: most.checkedOut,
                maxWaiting: most.waiting,
                timeouts: after.poolTimeouts - before.poolTimeouts,
                meanWaitMs: checkouts > 0 ? waited / Double(checkouts) * 1000 : 0
            ),
            summaryFile: file
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
