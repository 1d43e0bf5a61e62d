import Foundation
import Testing
import VolleyCore

@testable import VolleyEngine

/// A field target's URL from the environment (scripts/start-nginx), or nil; nil is a failure
/// when `VOLLEY_REQUIRE_SERVICES=1` (CI), so a missing server is never a silent pass.
func fieldTarget(_ variable: String) -> String? {
    let environment = ProcessInfo.processInfo.environment
    if let url = environment[variable], !url.isEmpty { return url }
    if environment["VOLLEY_REQUIRE_SERVICES"] == "1" {
        Issue.record("\(variable) is not set but VOLLEY_REQUIRE_SERVICES=1: run eval \"$(scripts/start-nginx)\" first")
    }
    return nil
}

/// The counts on software nobody here wrote, configured the way users run it: Debian's nginx,
/// started by scripts/start-nginx on 127.0.0.1.
@Suite(.serialized) struct FieldTargetTests {
    /// nginx closes idle keep-alive connections after `keepalive_timeout` without a word (20 ms
    /// here). Requests arriving every 40 ms find their connection closed: each close is a
    /// reconnect, and not one request may be counted as the server's failure.
    @Test(.enabled(if: fieldTargetGiven("VOLLEY_TEST_NGINX_IDLE")))
    func nginxIdleClosesAreReconnectsNotErrors() async throws {
        let url = try #require(fieldTarget("VOLLEY_TEST_NGINX_IDLE"))
        let model = LoadModel.open(
            schedule: ArrivalSchedule(rate: 25, duration: .seconds(2)),
            maxConnections: 2,
            preconnect: 2
        )
        let s = try await runLoad(url, model: model)
        expectAccounting(s, model)
        #expect(s.failed == 0, "\(s.transportErrors)")
        #expect(s.status == ["200": 50])
        #expect((s.reconnects ?? 0) >= 40, "reconnects \(s.reconnects ?? -1)")
        #expect(s.connectionsOpened >= 40)
    }

    /// `keepalive_requests 3`: nginx says `Connection: close` on every third response, so
    /// Volley closes and reconnects without any surprise: no reconnect, no retry.
    @Test(.enabled(if: fieldTargetGiven("VOLLEY_TEST_NGINX_LIMIT")))
    func nginxAnnouncedClosesAreFollowed() async throws {
        let url = try #require(fieldTarget("VOLLEY_TEST_NGINX_LIMIT"))
        let model = closed(4, requests: 300)
        let s = try await runLoad(url, model: model)
        expectAccounting(s, model)
        #expect(s.status == ["200": 300])
        #expect(s.reconnects == 0)
        #expect(s.retries == 0)
        #expect(s.connectionsOpened >= 100 && s.connectionsOpened <= 104, "\(s.connectionsOpened)")
    }

    /// A plan whose VUs think for 40 ms between requests against the same idle timeout.
    @Test(.enabled(if: fieldTargetGiven("VOLLEY_TEST_NGINX_IDLE")))
    func nginxIdleClosesUnderAPlan() async throws {
        let url = try #require(fieldTarget("VOLLEY_TEST_NGINX_IDLE"))
        let plan = Plan(
            name: "nginx idle",
            baseURL: String(url.dropLast()),
            scenarios: [
                Scenario(
                    name: "s",
                    executor: .perVUIterations(vus: 2, iterations: 15, maxDuration: .seconds(20)),
                    steps: [
                        .request(RequestStep(method: "GET", url: "/", checks: [Check(.status([200]))])),
                        .think(ThinkTime(.milliseconds(40))),
                    ]
                )
            ]
        )
        let s = try await PlanEngine(plan: plan, threads: 1).run()
        #expect(s.failed == 0, "\(s.transportErrors)")
        #expect(s.status == ["200": 30])
        #expect((s.reconnects ?? 0) >= 20, "reconnects \(s.reconnects ?? -1)")
    }
}

/// Whether a field test runs: its target is given, or CI requires it (then it fails without).
/// Otherwise it is reported as skipped, never passed.
private func fieldTargetGiven(_ variable: String) -> Bool {
    let environment = ProcessInfo.processInfo.environment
    return !(environment[variable] ?? "").isEmpty || environment["VOLLEY_REQUIRE_SERVICES"] == "1"
}
