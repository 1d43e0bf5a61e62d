import Foundation
import Testing
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyLab

/// Closed-model load from Volley's own engine against the lab, bounded in count and time.
func hammer(_ url: String, connections: Int, requests: Int? = nil, duration: Duration? = nil) async throws -> RunSummary
{
    let limit: ClosedLimit = requests.map { .requests($0) } ?? .duration(duration ?? .seconds(1))
    let config = RunConfiguration(
        request: RequestSpec(method: "GET", url: try TargetURL(parsing: url)),
        model: .closed(connections: connections, limit: limit),
        threads: 1,
        requestTimeout: .seconds(5),
        connectTimeout: .seconds(2),
        interruptGrace: .milliseconds(300)
    )
    return try await LoadEngine(configuration: config).run()
}

/// Each knob must leave the signature our users saw in the field.
@Suite(.serialized) struct LabPathologyTests {
    /// Pool exhaustion: latency climbs to the pool timeout, then the lab answers 500s.
    @Test func poolExhaustionClimbsToThePoolTimeoutThenAnswers500() async throws {
        let lab = try await LabServer.start(
            smallLab {
                $0.poolSize = 1
                $0.poolOverflow = 0
                $0.poolTimeout = .milliseconds(200)
                $0.queryLatency = .milliseconds(40)
            }
        )
        let url = "\(lab.baseURL)/books/"
        let alone = try await hammer(url, connections: 1, requests: 10)
        #expect(alone.status["200"] == 10)
        #expect(alone.latencyMs.p50 >= 40 && alone.latencyMs.p50 < 120)

        let crowd = try await hammer(url, connections: 12, duration: .milliseconds(1500))
        let errors = crowd.status["500"] ?? 0
        #expect(errors > 0, "no 500s: \(crowd.status)")
        #expect((crowd.status["200"] ?? 0) > 0)
        #expect(crowd.failed == 0)
        // The wait is capped by the pool timeout: latencies pile up just above 200 ms.
        #expect(crowd.latencyMs.p90 >= 190, "p90 \(crowd.latencyMs.p90)")
        #expect(crowd.latencyMs.max < 600, "max \(crowd.latencyMs.max)")
        #expect(lab.snapshot.poolTimeouts == errors)

        // Readiness goes through the same pool, so it fails while the pool is exhausted.
        async let load = hammer(url, connections: 12, duration: .milliseconds(1500))
        try await Task.sleep(for: .milliseconds(300))
        var probes: [Exchange] = []
        for _ in 0..<4 { probes.append(try await exchange("GET", "\(lab.baseURL)/ready")) }
        _ = try await load
        let unready = probes.filter { $0.status == 503 }
        #expect(!unready.isEmpty, "readiness: \(probes.map(\.status))")
        #expect(unready.allSatisfy { $0.text.contains("pool limit reached") })
        await lab.stop()
    }

    /// Backlog overflow: beyond workers + backlog, connections close without a response.
    @Test func backlogOverflowGivesNoResponseErrors() async throws {
        let lab = try await LabServer.start(
            smallLab {
                $0.workers = 1
                $0.backlog = 2
                $0.queryLatency = .milliseconds(20)
            }
        )
        let summary = try await hammer("\(lab.baseURL)/businesses/id/1", connections: 10, duration: .seconds(1))
        let noResponse = summary.transportErrors["no_response"] ?? 0
        #expect(noResponse > 0, "errors: \(summary.transportErrors)")
        #expect((summary.status["200"] ?? 0) > 0)
        #expect(lab.snapshot.backlogRejected >= noResponse)
        // /metrics bypasses the worker model, so it answers while the workers drown.
        #expect(try await exchange("GET", "\(lab.baseURL)/metrics").status == 200)
        await lab.stop()
    }

    /// Synchronous logging: latency grows with lines × latency, and concurrent requests queue
    /// behind the one log lock, capping throughput at 1 / (lines × latency).
    @Test func syncLoggingLatencyGrowsWithLinesTimesLatency() async throws {
        var medians: [Int: Double] = [:]
        for lines in [2, 6] {
            let lab = try await LabServer.start(
                smallLab {
                    $0.logLines = lines
                    $0.syncLogLatency = .milliseconds(5)
                }
            )
            let summary = try await hammer("\(lab.baseURL)/health", connections: 1, requests: 15)
            medians[lines] = summary.latencyMs.p50
            #expect(summary.latencyMs.p50 >= Double(lines * 5), "lines \(lines): p50 \(summary.latencyMs.p50)")
            #expect(summary.latencyMs.p50 < Double(lines * 5) + 15, "lines \(lines): p50 \(summary.latencyMs.p50)")
            if lines == 6 {
                let crowd = try await hammer("\(lab.baseURL)/health", connections: 4, duration: .seconds(1))
                // 6 lines × 5 ms behind one lock: at most ~33 requests per second.
                #expect(crowd.rps < 40, "rps \(crowd.rps)")
                #expect(crowd.latencyMs.p50 >= 90, "p50 \(crowd.latencyMs.p50)")
                #expect(lab.snapshot.logSeconds > 0.5)
            }
            await lab.stop()
        }
        let six = try #require(medians[6])
        let two = try #require(medians[2])
        #expect(six > two * 2)
    }

    /// Cache on: at the same load, GET latency falls and the pool's 500s vanish.
    @Test func cacheOnRemovesErrorsAndLatencyAtTheSameLoad() async throws {
        var results: [Bool: RunSummary] = [:]
        for cache in [false, true] {
            let lab = try await LabServer.start(
                smallLab {
                    $0.poolSize = 1
                    $0.poolOverflow = 0
                    $0.poolTimeout = .milliseconds(150)
                    $0.queryLatency = .milliseconds(40)
                    $0.cache = cache
                    $0.cacheTTL = .seconds(5)
                }
            )
            // One request first: a cold cache lets the first burst stampede the pool.
            _ = try await hammer("\(lab.baseURL)/books/", connections: 1, requests: 1)
            results[cache] = try await hammer("\(lab.baseURL)/books/", connections: 10, duration: .seconds(1))
            if cache { #expect(lab.snapshot.cacheHits > 0) }
            await lab.stop()
        }
        let off = try #require(results[false])
        let on = try #require(results[true])
        #expect((off.status["500"] ?? 0) > 0)
        #expect(on.status["500"] == nil && on.failed == 0)
        #expect(on.latencyMs.p50 * 5 < off.latencyMs.p50, "p50 on \(on.latencyMs.p50) off \(off.latencyMs.p50)")
        #expect(on.rps > off.rps * 5)
    }

    /// CPU work per request is real: one request alone takes at least that long.
    @Test func cpuPerRequestIsSpent() async throws {
        let lab = try await LabServer.start(smallLab { $0.cpuPerRequest = .milliseconds(15) })
        let summary = try await hammer("\(lab.baseURL)/health", connections: 1, requests: 10)
        #expect(summary.latencyMs.p50 >= 15)
        await lab.stop()
    }
}

/// A concurrency sweep of the lab with a small pool finds the knee at the pool's capacity.
@Suite(.serialized) struct LabSweepTests {
    @Test func theKneeIsNearThePoolCapacity() async throws {
        let lab = try await LabServer.start(
            smallLab {
                $0.poolSize = 2
                $0.poolOverflow = 2
                $0.queryLatency = .milliseconds(20)
                $0.poolTimeout = .seconds(5)
            }
        )
        var runs: [SweepRun] = []
        for level in [1, 2, 4, 8, 16] {
            let summary = try await hammer("\(lab.baseURL)/books/", connections: level, duration: .milliseconds(1200))
            runs.append(SweepRun(level: Double(level), repeatIndex: 0, summary: summary))
        }
        await lab.stop()
        let analysis = SweepAnalysis(runs: runs)
        let knee = try #require(analysis.knee, "\(runs.map(\.goodput))")
        #expect(knee.level == 4 || knee.level == 8, "knee at \(knee.level): \(runs.map(\.goodput))")
        // 4 connections × 1 / ~21 ms ≈ 190 requests per second at most.
        #expect(knee.peakGoodput > 120 && knee.peakGoodput < 200)
        // The scalability fit predicts a ceiling near the pool's capacity too.
        let usl = try #require(analysis.usl)
        let ceiling = try #require(usl.peakThroughput)
        #expect(ceiling > 130 && ceiling < 260, "USL \(usl)")
        #expect(analysis.littlesLaw.allSatisfy { $0 > 0.8 && $0 < 1.1 }, "\(analysis.littlesLaw)")
    }
}
