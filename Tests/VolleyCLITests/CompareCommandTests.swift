import Foundation
import Testing
import VolleyTestSupport

/// `volley compare`, `run --baseline` and `volley ab` through the real binary.
@Suite(.serialized) struct CompareCommandTests {
    @Test func oneRunEachCannotTellUntilAnAAExperimentGivesTheNoiseFloor() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        _ = try runVolley(
            ["run", server.baseURL + "/delay/5", "-c", "4", "-d", "4s", "-q", "--label", "fast"],
            home: home
        )
        _ = try runVolley(
            ["run", server.baseURL + "/delay/15", "-c", "4", "-d", "4s", "-q", "--label", "slow"],
            home: home
        )
        // One run each: the drift between them is not measured, so no verdict and no gate.
        let r = try runVolley(["compare", "1", "2"], home: home)
        #expect(r.status == 0)
        #expect(r.stdout.contains("Comparing #1 (fast) → #2 (slow)"))
        let p50 = try #require(r.stdout.split(separator: "\n").first { $0.contains("p50 ms") })
        #expect(p50.contains("cannot tell") && !p50.contains("worse"), "\(p50)")
        #expect(r.stdout.contains("One run each: drift between runs is not measured"))
        let ungated = try runVolley(["compare", "1", "2", "--fail-on-regression", "5%"], home: home)
        #expect(ungated.status == 0, "\(ungated.stderr)")

        // An A/A experiment of the baseline's target and load: its between-run spread decides.
        let aa = try runVolley(
            [
                "ab", "--a", server.baseURL + "/delay/5", "--b", server.baseURL + "/delay/5", "--rounds", "3", "-d",
                "2s", "-c", "4",
            ],
            limit: 60,
            home: home
        )
        #expect(aa.status == 0, "\(aa.stderr)")
        #expect(aa.stdout.contains("an A/A experiment"), "\(aa.stdout)")
        let judged = try runVolley(["compare", "1", "2"], home: home)
        let judgedP50 = try #require(judged.stdout.split(separator: "\n").first { $0.contains("p50 ms") })
        #expect(judgedP50.contains("worse"), "\(judged.stdout)")
        #expect(judged.stdout.contains("between-run noise of the A/A experiment E1"), "\(judged.stdout)")
        let gate = try runVolley(["compare", "1", "2", "--fail-on-regression", "5%"], home: home)
        #expect(gate.status == 98)
        #expect(gate.stderr.contains("regression"))
        let improvement = try runVolley(["compare", "2", "1", "--fail-on-regression", "5%"], home: home)
        #expect(improvement.status == 0)

        let markdown = try runVolley(["compare", "1", "2", "--format", "markdown"], home: home)
        #expect(markdown.stdout.contains("| all requests | p50 ms |"))
        let json = try runVolley(["compare", "1", "2", "--format", "json"], home: home)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let comparison = try #require(parsed.first?["comparison"] as? [String: Any])
        let calibration = try #require(comparison["calibration"] as? [String: Any])
        #expect(calibration["experiment"] as? Int == 1 && calibration["rounds"] as? Int == 3)

        // Right after a run: --baseline compares with a saved run (last = the one before).
        let after = try runVolley(
            ["run", server.baseURL + "/delay/15", "-c", "4", "-d", "3s", "-q", "--baseline", "1"],
            home: home
        )
        #expect(after.stdout.contains("Comparing #1 (fast) → #"))
        #expect(after.stdout.split(separator: "\n").first { $0.contains("p50 ms") }?.contains("worse") == true)
        let missing = try runVolley(["run", server.baseURL + "/", "-n", "5", "--baseline", "99"], home: home)
        #expect(missing.status == 2)

        #expect(try runVolley(["compare", "1"], home: home).status == 2)
        try await server.shutdown()
    }

    @Test func differentLoadShapesAreWarnedAndSkippedStepsShowNoLatency() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        _ = try runVolley(["run", server.baseURL + "/delay/2", "-c", "2", "-d", "2s", "-q"], home: home)
        _ = try runVolley(["run", server.baseURL + "/delay/2", "-c", "4", "-d", "2s", "-q"], home: home)
        let shapes = try runVolley(["compare", "1", "2"], home: home)
        #expect(shapes.stdout.contains("warning: the load shapes differ"), "\(shapes.stdout)")
        #expect(shapes.stdout.contains("connections differ: 2 vs 4"), "\(shapes.stdout)")

        // The second step needs a value the first captures: found at /businesses/id/7, not at /delay/0.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volley-skip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = dir.appendingPathComponent("skip.yaml")
        try """
        base_url: \(server.baseURL)
        scenarios:
          s:
            executor: per-vu-iterations
            vus: 1
            iterations: 20
            steps:
              - request: GET ${first}
                name: first
                capture: { id: json $.id }
              - request: GET /businesses/id/${id}
                name: follow
        """.write(to: plan, atomically: true, encoding: .utf8)
        _ = try runVolley(["run", plan.path, "-q", "-e", "first=/businesses/id/7"], home: home)
        _ = try runVolley(["run", plan.path, "-q", "-e", "first=/delay/0"], home: home)
        let skipped = try runVolley(["compare", "3", "4"], home: home)
        let lines = skipped.stdout.split(separator: "\n").map(String.init)
        let follow = try #require(lines.firstIndex { $0.contains("follow") }, "\(skipped.stdout)")
        #expect(lines[follow + 1].contains("skipped in #4"), "\(skipped.stdout)")
        #expect(!lines[follow + 1].contains(" ms") && !lines[follow + 2].contains("p50"), "\(skipped.stdout)")
        try await server.shutdown()
    }

    @Test func twoRunsOfTheSameThingAreNotCalledADifference() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        for _ in 0..<2 {
            _ = try runVolley(["run", server.baseURL + "/delay/10", "-c", "2", "-d", "3s", "-q"], home: home)
        }
        let r = try runVolley(["compare", "1", "2"], home: home)
        let p50 = try #require(r.stdout.split(separator: "\n").first { $0.contains("p50 ms") })
        #expect(p50.contains("cannot tell"), "\(p50)")
        try await server.shutdown()
    }

    @Test func abDecidesFromTheRounds() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(
            [
                "ab", "--a", server.baseURL + "/delay/5", "--b", server.baseURL + "/delay/20", "--rounds", "3", "-d",
                "2s", "-c", "2", "--label-a", "fast", "--label-b", "slow", "--fail-on-regression", "5%",
            ],
            limit: 60,
            home: home
        )
        #expect(r.status == 98, "\(r.stderr)")
        #expect(r.stderr.contains("regression: p50 ms fast → slow"), "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter {
            $0.contains(" r1 ") || $0.contains(" r2 ") || $0.contains(" r3 ")
        }
        #expect(rows.count == 6)
        // ABBA: round 1 runs A first, round 2 runs B first.
        #expect(rows.map { $0.contains("slow") } == [false, true, true, false, false, true])
        let p50 = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("    p50 ms") })
        #expect(p50.contains("worse"), "\(r.stdout)")
        #expect(r.stdout.contains("rounds for ±5% / ±10%"))
        let history = try runVolley(["history"], home: home)
        #expect(history.stdout.contains("slow r2") && history.stdout.contains("fast r1"))

        // Two rounds cannot decide, so no regression exit; --json prints only the decision on stdout.
        let two = try runVolley(
            [
                "ab", "--a", server.baseURL + "/delay/5", "--b", server.baseURL + "/delay/20", "--rounds", "2", "-d",
                "1s", "-c", "2", "--json", "--fail-on-regression", "1%",
            ],
            limit: 60,
            home: home
        )
        #expect(two.status == 0, "\(two.stderr)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(two.stdout.utf8)) as? [String: Any])
        #expect(parsed["kind"] as? String == "ab" && parsed["same_target"] as? Bool == false)
        let decision = try #require(parsed["decision"] as? [String: Any])
        #expect(decision["rounds"] as? Int == 2)
        let metrics = try #require(decision["metrics"] as? [[String: Any]])
        let p50JSON = try #require(metrics.first { $0["metric"] as? String == "p50 ms" })
        #expect(p50JSON["verdict"] as? String == "not enough data")
        #expect((p50JSON["note"] as? String)?.contains("not enough rounds") == true)
        #expect((p50JSON["a_rounds"] as? [Double])?.count == 2)
        #expect(two.stderr.contains("round"), "the table goes to stderr with --json")
        try await server.shutdown()
    }
}
