import Foundation
import Testing
import VolleyTestSupport

/// `volley compare`, `run --baseline` and `volley ab` through the real binary.
@Suite(.serialized) struct CompareCommandTests {
    @Test func aSlowerServerIsCalledWorseAndFailsTheRegressionGate() async throws {
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
        let r = try runVolley(["compare", "1", "2"], home: home)
        #expect(r.status == 0)
        #expect(r.stdout.contains("Comparing #1 (fast) → #2 (slow)"))
        let p50 = try #require(r.stdout.split(separator: "\n").first { $0.contains("p50 ms") })
        #expect(p50.contains("worse"), "\(p50)")
        let rps = try #require(r.stdout.split(separator: "\n").first { $0.contains("req/s") })
        #expect(rps.contains("worse"), "\(rps)")

        let gate = try runVolley(["compare", "1", "2", "--fail-on-regression", "5%"], home: home)
        #expect(gate.status == 98)
        #expect(gate.stderr.contains("regression"))
        let improvement = try runVolley(["compare", "2", "1", "--fail-on-regression", "5%"], home: home)
        #expect(improvement.status == 0)

        let markdown = try runVolley(["compare", "1", "2", "--format", "markdown"], home: home)
        #expect(markdown.stdout.contains("| all requests | p50 ms |"))
        let json = try runVolley(["compare", "1", "2", "--format", "json"], home: home)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(parsed.count == 1)

        // Right after a run: --baseline compares with a saved run (last = the one before).
        let after = try runVolley(
            ["run", server.baseURL + "/delay/5", "-c", "4", "-d", "3s", "-q", "--baseline", "last"],
            home: home
        )
        #expect(after.stdout.contains("Comparing #2 (slow) → #3"))
        #expect(after.stdout.split(separator: "\n").first { $0.contains("p50 ms") }?.contains("better") == true)
        let missing = try runVolley(["run", server.baseURL + "/", "-n", "5", "--baseline", "99"], home: home)
        #expect(missing.status == 2)

        #expect(try runVolley(["compare", "1"], home: home).status == 2)
        try await server.shutdown()
    }

    @Test func twoRunsOfTheSameThingAreNoise() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        for _ in 0..<2 {
            _ = try runVolley(["run", server.baseURL + "/delay/10", "-c", "2", "-d", "3s", "-q"], home: home)
        }
        let r = try runVolley(["compare", "1", "2"], home: home)
        let p50 = try #require(r.stdout.split(separator: "\n").first { $0.contains("p50 ms") })
        #expect(p50.contains("no significant change"), "\(p50)")
        try await server.shutdown()
    }

    @Test func abAlternatesAndComparesThePooledRounds() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(
            [
                "ab", "--a", server.baseURL + "/delay/20", "--b", server.baseURL + "/delay/5", "--rounds", "2", "-d",
                "3s", "-c", "2", "--label-a", "slow", "--label-b", "fast",
            ],
            limit: 60,
            home: home
        )
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter { $0.contains(" r1 ") || $0.contains(" r2 ") }
        #expect(rows.count == 4)
        // ABBA: round 1 runs A first, round 2 runs B first.
        #expect(rows.map { $0.contains("slow") } == [true, false, false, true])
        #expect(r.stdout.split(separator: "\n").first { $0.hasPrefix("    p50 ms") }?.contains("better") == true)
        let history = try runVolley(["history"], home: home)
        #expect(history.stdout.contains("slow r2") && history.stdout.contains("fast r1"))
        try await server.shutdown()
    }
}
