import Foundation
import Testing
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyLab
import VolleyProbes

/// The diagnosis judged on the lab: each pathology switched on must be named, and the lab
/// with every knob off must get no finding at all.
@Suite(.serialized) struct DiagnosisOnLabTests {
    /// Runs `connections` against `path` for `seconds`, with the lab's /metrics probed every
    /// 250 ms (and /ready watched when asked), and returns the diagnosed summary.
    func judged(
        _ adjust: (inout LabConfiguration) -> Void,
        path: String = "/books/",
        connections: Int,
        seconds: Int = 4,
        watchReady: Bool = false
    ) async throws -> RunSummary {
        let lab = try await LabServer.start(smallLab(adjust))
        let sampler = ProbeSampler(PrometheusProbe(url: URL(string: "\(lab.baseURL)/metrics")!))
        let watcher =
            watchReady
            ? HealthWatcher(
                url: URL(string: "\(lab.baseURL)/ready")!,
                period: .milliseconds(400),
                timeout: .milliseconds(150),
                failureThreshold: 3
            ) : nil
        await watcher?.check()
        let start = ContinuousClock.now
        sampler.start(at: start, interval: .milliseconds(250))
        watcher?.start(at: start)
        let config = RunConfiguration(
            request: RequestSpec(method: "GET", url: try TargetURL(parsing: "\(lab.baseURL)\(path)")),
            model: .closed(connections: connections, limit: .duration(.seconds(Int64(seconds)))),
            threads: 1,
            requestTimeout: .seconds(5),
            connectTimeout: .seconds(2),
            interruptGrace: .milliseconds(300)
        )
        var summary = try await LoadEngine(configuration: config).run()
        summary.probes = [await sampler.stop()]
        summary.health = await watcher?.stop()
        await lab.stop()
        summary.findings = Diagnosis.diagnose(summary)
        return summary
    }

    func ids(_ s: RunSummary) -> [String] { (s.findings ?? []).map(\.id.rawValue) }

    @Test func theLabWithEveryKnobOffGetsNoFinding() async throws {
        let run = try await judged({ _ in }, connections: 4, seconds: 3, watchReady: true)
        #expect(run.completed > 100)
        #expect(ids(run) == [], "\(run.findings ?? [])")
    }

    @Test func aSmallPoolIsNamedAndItsFiveHundredsTiedToIt() async throws {
        let run = try await judged(
            {
                $0.poolSize = 2
                $0.poolOverflow = 1
                $0.queryLatency = .milliseconds(20)
                $0.poolTimeout = .milliseconds(120)
            },
            connections: 32
        )
        let found = ids(run)
        #expect(found.contains("pool-saturation"), "\(found)")
        #expect(found.contains("errors-after-saturation"), "\(found) \(run.status)")
        #expect(!found.contains("generator-bound"))
    }

    /// The incident: /ready queries through the same saturated pool, slows past its timeout,
    /// and Kubernetes would pull a healthy instance out of the load balancer.
    @Test func aReadinessCheckBehindTheSaturatedPoolWouldFail() async throws {
        let run = try await judged(
            {
                $0.poolSize = 2
                $0.poolOverflow = 1
                $0.queryLatency = .milliseconds(20)
                $0.poolTimeout = .seconds(3)
            },
            connections: 32,
            watchReady: true
        )
        let found = ids(run)
        #expect(found.contains("health-would-fail"), "\(found) \(run.health?.polls ?? [])")
        #expect(found.contains("pool-saturation"), "\(found)")
    }

    @Test func tooFewWorkersShowAsDropsBeforeAny5xx() async throws {
        let run = try await judged(
            {
                $0.workers = 2
                $0.backlog = 4
                $0.queryLatency = .milliseconds(10)
            },
            connections: 32
        )
        let found = ids(run)
        #expect(found.contains("no-response-before-5xx"), "\(found)")
        #expect(found.contains("workers-exhausted"), "\(found)")
        #expect(!found.contains("pool-saturation"))
    }

    @Test func synchronousLoggingIsNamed() async throws {
        let run = try await judged(
            {
                $0.syncLogLatency = .milliseconds(1)
                $0.logLines = 4
            },
            connections: 16
        )
        let found = ids(run)
        #expect(found.contains("sync-logging"), "\(found)")
        #expect(!found.contains("pool-saturation"))
    }
}
