import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// Phase timings checked against servers whose every phase takes a known time
/// (``PhaseServer``): a handshake held 30 ms, a first byte 20 ms after the request, a body
/// trickled over 40 ms. Each phase must show its own delay — and not the others' — in both
/// engines. Bounds are the delay below (a server cannot answer early) and the delay plus a
/// generous margin above (a 2-core machine running the suite).
@Suite(.serialized) struct PhaseTimingTests {
    static let margin = 25.0

    private func expectNear(_ stats: PhaseStats?, _ ms: Double, _ what: String) {
        guard let stats else {
            Issue.record("no \(what) phase recorded")
            return
        }
        #expect(stats.p50Ms >= ms * 0.95, "\(what) p50 \(stats.p50Ms) ms, below the server's \(ms) ms")
        #expect(stats.p50Ms < ms + Self.margin, "\(what) p50 \(stats.p50Ms) ms, far above \(ms) ms")
    }

    private func expectSmall(_ stats: PhaseStats?, _ what: String) {
        guard let stats else { return }
        #expect(stats.p50Ms < 10, "\(what) p50 \(stats.p50Ms) ms should not carry another phase's delay")
    }

    @Test func aHeldServerHelloShowsInTheHandshakeOnly() async throws {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        let context = try TestServer.makeTLSContext(
            certificatePath: fixtures.appendingPathComponent("cert.pem").path,
            keyPath: fixtures.appendingPathComponent("key.pem").path
        )
        let server = try await PhaseServer.start(tls: context, delays: .init(handshake: .milliseconds(30)))
        let s = try await runLoad(server.url("/"), model: closed(2, requests: 40), threads: 1, insecure: true)
        try await server.shutdown()
        #expect(s.completed == 40)
        let phases = try #require(s.phases)
        #expect(phases.newConnections == 2 && phases.requests == 40)
        #expect(phases.tls?.count == 2)
        expectNear(phases.tls, 30, "tls")
        expectSmall(phases.connect, "connect")
        expectSmall(phases.wait, "wait")
        // Two connections of forty requests: the handshake is paid once per connection.
        #expect(abs(phases.reuseRate - 0.95) < 0.001)
    }

    @Test func aDelayedFirstByteShowsInWaitAndATrickledBodyInReceive() async throws {
        let server = try await PhaseServer.start()
        let ttfb = try await runLoad(server.url("/?ttfb=20"), model: closed(2, requests: 30), threads: 1)
        let trickle = try await runLoad(
            server.url("/?trickle=40&chunks=4"),
            model: closed(2, requests: 20),
            threads: 1
        )
        try await server.shutdown()
        let w = try #require(ttfb.phases)
        expectNear(w.wait, 20, "wait")
        expectSmall(w.receive, "receive")
        #expect(w.tls == nil)  // plain HTTP: no handshake phase at all
        let r = try #require(trickle.phases)
        expectNear(r.receive, 40, "receive")
        expectSmall(r.wait, "wait")
        // The latency holds the phases: 20 ms of wait, 40 ms of receive.
        #expect(ttfb.latencyMs.p50 >= 19 && trickle.latencyMs.p50 >= 38)
    }

    @Test func planRequestsCarryTheirPhasesByName() async throws {
        let server = try await PhaseServer.start()
        let plan = Plan(
            name: "phases",
            baseURL: server.baseURL,
            scenarios: [
                Scenario(
                    name: "s",
                    executor: .perVUIterations(vus: 2, iterations: 8, maxDuration: .seconds(20)),
                    steps: [
                        .request(RequestStep(name: "slow start", method: "GET", url: "/a?ttfb=20")),
                        .request(RequestStep(name: "slow body", method: "GET", url: "/b?trickle=40&chunks=4")),
                    ]
                )
            ]
        )
        let s = try await PlanEngine(plan: plan, threads: 1).run()
        try await server.shutdown()
        let byName = Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
        let start = try #require(byName["slow start"]?.phases)
        let body = try #require(byName["slow body"]?.phases)
        expectNear(start.wait, 20, "slow start wait")
        expectSmall(start.receive, "slow start receive")
        expectNear(body.receive, 40, "slow body receive")
        expectSmall(body.wait, "slow body wait")
        // Each VU opened one keep-alive connection, paid for by its first request.
        #expect(start.newConnections == 2 && body.newConnections == 0)
        #expect(s.phases?.requests == 32)
    }

    @Test func aHostNameLookedUpDuringTheRunIsItsFirstRequestsDNSPhase() async throws {
        let server = try await PhaseServer.start()
        // The base URL is resolved before the run; a step naming another host is looked up
        // by the connection that first needs it, and that request carries the lookup.
        let plan = Plan(
            name: "dns",
            baseURL: server.baseURL,
            scenarios: [
                Scenario(
                    name: "s",
                    executor: .perVUIterations(vus: 1, iterations: 5, maxDuration: .seconds(20)),
                    steps: [
                        .request(
                            RequestStep(
                                name: "by name",
                                method: "GET",
                                url: try Template(parsing: "http://localhost:\(server.port)/")
                            )
                        )
                    ]
                )
            ]
        )
        let s = try await PlanEngine(plan: plan, threads: 1).run()
        try await server.shutdown()
        #expect(s.completed == 5)
        let phases = try #require(s.requestsByName?.first?.phases)
        #expect(phases.dns?.count == 1)
        #expect(phases.newConnections == 1)
    }
}
