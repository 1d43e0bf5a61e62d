import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// Servers that behave the way real ones do, not the way a test server politely would: each
/// test states what a correct client reports, in the closed and the open model, and that the
/// run ends on time whatever the server does.
@Suite(.serialized) struct MisbehavingServerTests {
    // MARK: - Keep-alive connections closed without `Connection: close`

    /// Against a server that closes every connection after its third reply without saying
    /// so, Volley used to count a quarter of its requests as `no_response` (9,984 of 39,949)
    /// although the server answered every request it received. A request written on a
    /// reused connection that gets no byte back is retried once on a new connection.
    @Test(arguments: [true, false])
    func silentClosesOfReusedConnectionsAreRetriedNotErrors(direct: Bool) async throws {
        let server = try await TestServer.start()
        let model = closed(4, requests: 300)
        let s = try await runLoad(server.baseURL + "/close-after/3", model: model, directSockets: direct)
        let received = server.requestsReceived
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(s.failed == 0, "\(s.transportErrors)")
        #expect(s.status == ["200": 300])
        #expect(received == 300, "the server answered every request it received")
        // Every third reply closes its connection: about 100 connections were closed by the
        // server, each a reconnect; the requests caught by a close were sent again.
        #expect((s.reconnects ?? 0) >= 90, "reconnects \(s.reconnects ?? -1)")
        #expect((s.retries ?? 0) > 0)
        #expect((s.retries ?? 0) <= (s.reconnects ?? 0))
        #expect(s.connectionsOpened >= 100)
    }

    @Test func silentClosesAreRetriedInTheOpenModel() async throws {
        let server = try await TestServer.start()
        let model = LoadModel.open(
            schedule: ArrivalSchedule(rate: 400, duration: .seconds(1)),
            maxConnections: 16,
            preconnect: 4
        )
        let s = try await runLoad(server.baseURL + "/close-after/3", model: model)
        let received = server.requestsReceived
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(s.failed == 0, "\(s.transportErrors)")
        #expect(s.completed == 400)
        #expect(received == 400)
        #expect((s.reconnects ?? 0) >= 120, "reconnects \(s.reconnects ?? -1)")
    }

    /// A request that is not safe to send twice (POST) is never retried: its failure stays.
    @Test func postsCaughtByASilentCloseStayFailures() async throws {
        let server = try await TestServer.start()
        let model = closed(4, requests: 300)
        let s = try await runLoad(server.baseURL + "/close-after/3", model: model, method: "POST")
        let received = server.requestsReceived
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(s.retries == 0)
        #expect(s.completed == received, "every request the server read was answered")
        #expect(s.failed == 300 - received)
        #expect(Set(s.transportErrors.keys).isSubset(of: ["no_response", "reset"]), "\(s.transportErrors)")
    }

    /// A reset before any byte of the response, on a reused connection, is the same race as a
    /// silent close (Go's client retries it too). The server read the first attempt of every
    /// retried request, so it received exactly `requests + retries` heads.
    @Test func resetsOnReusedConnectionsAreRetriedOnce() async throws {
        let server = try await TestServer.start()
        let model = closed(4, requests: 100)
        let s = try await runLoad(server.baseURL + "/reset/5", model: model)
        let received = server.requestsReceived
        try await server.shutdown()
        expectAccounting(s, model)
        let retries = try #require(s.retries)
        #expect(retries > 0)
        #expect(received == 100 + retries, "received \(received), retries \(retries)")
        // A retry that is itself reset (the server's fifth request again, on the new and so
        // unused connection) stays an error: retried once, never twice.
        #expect(s.completed + s.failed == 100)
        #expect(s.failed == (s.transportErrors["reset"] ?? 0))
    }

    /// The same server under a plan: VUs' requests caught by a silent close are retried on
    /// a new connection of the VU, and an unsafe POST is not.
    @Test(arguments: ["GET", "POST"])
    func planVUsRetrySilentClosesOnlyWhenSafe(method: String) async throws {
        let server = try await TestServer.start()
        let s = try await runOneScenario(
            on: server.baseURL,
            .perVUIterations(vus: 4, iterations: 75, maxDuration: .seconds(20)),
            RequestStep(method: method, url: "/close-after/3", checks: [Check(.status([200]))]),
            threads: 2
        )
        let received = server.requestsReceived
        try await server.shutdown()
        #expect(s.iterations?.completed == 300)
        #expect(s.completed + s.failed == 300)
        #expect(s.completed == received, "every request the server read was answered")
        if method == "GET" {
            #expect(s.failed == 0, "\(s.transportErrors)")
            #expect(received == 300)
            #expect((s.reconnects ?? 0) >= 90, "reconnects \(s.reconnects ?? -1)")
            #expect((s.retries ?? 0) > 0)
        } else {
            #expect(s.retries == 0)
            #expect(s.failed == 300 - received)
        }
    }

    /// Every misbehaviour once more under a plan: exact counts by class, checks failed by
    /// requests that got no response, and the run's end bounded.
    @Test(arguments: [
        ("/garbage", "malformed"), ("/reset/1", "reset"), ("/close-no-reply", "no_response"),
        ("/endless", "timeout"), ("silent", "timeout"),
    ])
    func planVUsCountEachMisbehaviourByItsClass(path: String, expected: String) async throws {
        let server = try await TestServer.start()
        let silent = try await SilentServer.start()
        let base = path == "silent" ? "http://127.0.0.1:\(silent.port)" : server.baseURL
        let step = RequestStep(
            method: "GET",
            url: Template(stringLiteral: path == "silent" ? "/" : path),
            timeout: .milliseconds(300),
            checks: [Check(.status([200]))]
        )
        let started = ContinuousClock.now
        let s = try await runOneScenario(
            on: base,
            .perVUIterations(vus: 2, iterations: 3, maxDuration: .seconds(20)),
            step
        )
        let elapsed = ContinuousClock.now - started
        try await server.shutdown()
        try await silent.shutdown()
        #expect(s.transportErrors == [expected: 6], "\(s.transportErrors)")
        #expect(s.completed == 0)
        #expect(s.retries == 0, "fresh connections: nothing to retry")
        #expect(s.checks?.first?.fails == 6, "a request without a response fails its checks")
        #expect(elapsed < .seconds(5), "took \(elapsed)")
    }

    /// VUs against a closed port: each failed connect is one failed request, and the VU waits
    /// (10 ms doubling to 500 ms) before going on instead of looping through iterations.
    @Test func planVUsBackOffFromARefusingTarget() async throws {
        let server = try await TestServer.start()
        let base = server.baseURL
        try await server.shutdown()
        let started = ContinuousClock.now
        let s = try await runOneScenario(
            on: base,
            .constantVUs(vus: 2, duration: .seconds(1)),
            RequestStep(method: "GET", url: "/", checks: [Check(.status([200]))])
        )
        let elapsed = ContinuousClock.now - started
        #expect(s.connectionsOpened == 0)
        #expect(s.completed == 0)
        // Per VU: pauses of 10+20+40+80+160+320+500 ms cover 1 s, so at most 8 attempts.
        #expect(s.failed >= 2 && s.failed <= 18, "\(s.failed) connects")
        #expect(s.failed == s.transportErrors["connection_refused"])
        #expect(s.checks?.first?.fails == s.failed)
        #expect(elapsed < .seconds(3), "took \(elapsed)")
    }

    // MARK: - Refusals

    /// `-c 4 -d 2s` against a closed port made 220,478 connect attempts and reported
    /// "220,480 connections opened". Reconnects now back off (10 ms doubling to 500 ms) and
    /// a refused connect opens nothing.
    @Test func refusedConnectsBackOffAndOpenNothing() async throws {
        let server = try await TestServer.start()
        let url = server.baseURL + "/"
        try await server.shutdown()
        let model = LoadModel.closed(connections: 4, limit: .duration(.seconds(2)))
        let started = ContinuousClock.now
        let s = try await runLoad(url, model: model)
        let elapsed = ContinuousClock.now - started
        expectAccounting(s, model)
        #expect(s.connectionsOpened == 0)
        #expect(s.completed == 0)
        #expect(s.failed == s.transportErrors["connection_refused"])
        // Per connection: 10+20+40+80+160+320+500+500+500 ms of pauses fill 2 s: ≤ 10 tries.
        #expect(s.failed >= 4 && s.failed <= 44, "\(s.failed) connects")
        #expect(elapsed < .seconds(3))
    }

    @Test func reconnectDelaysGrowAndStayShort() {
        let delays = (1...9).map { ReconnectBackoff.delay(afterFailures: $0).nanoseconds / 1_000_000 }
        #expect(delays == [10, 20, 40, 80, 160, 320, 500, 500, 500])
    }

    // MARK: - Stalls: the run ends at its duration plus the grace

    /// A server that accepts TCP and never answers the ClientHello held connections until the
    /// request timeout (a 3 s run took 10 s; with the default timeout it never ended). The
    /// handshake is part of connecting: the connect timeout bounds it.
    @Test func aStalledTLSHandshakeIsAConnectTimeout() async throws {
        let server = try await SilentServer.start()
        let model = closed(2, requests: 4)
        let started = ContinuousClock.now
        let s = try await runLoad(
            "https://127.0.0.1:\(server.port)/",
            model: model,
            timeout: .seconds(30),
            insecure: true,
            connectTimeout: .milliseconds(300)
        )
        let elapsed = ContinuousClock.now - started
        let accepted = server.accepted
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(s.transportErrors == ["connect_timeout": 4])
        #expect(s.connectionsOpened == 0, "a connection is open once its handshake is done")
        #expect(accepted >= 2)
        #expect(elapsed < .seconds(3), "took \(elapsed)")
        let message = try #require(s.transportErrorSamples["connect_timeout"])
        #expect(message.contains("TLS handshake"))
    }

    @Test func aStalledTLSHandshakeEndsAnOpenRunOnTime() async throws {
        let server = try await SilentServer.start()
        let model = LoadModel.open(
            schedule: ArrivalSchedule(rate: 20, duration: .seconds(1)),
            maxConnections: 4,
            preconnect: 0
        )
        let started = ContinuousClock.now
        let s = try await runLoad(
            "https://127.0.0.1:\(server.port)/",
            model: model,
            timeout: .seconds(30),
            insecure: true,
            connectTimeout: .milliseconds(300),
            endGrace: .milliseconds(300)
        )
        let elapsed = ContinuousClock.now - started
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(s.completed == 0)
        #expect(Set(s.transportErrors.keys).isSubset(of: ["connect_timeout"]), "\(s.transportErrors)")
        #expect(elapsed < .seconds(3), "took \(elapsed)")
    }

    /// A server that accepts and never answers, and one whose body never ends: the run still
    /// ends at its duration plus the end grace, and the requests cut off are `interrupted`.
    @Test(arguments: ["silent", "endless"])
    func stalledResponsesEndAtTheDurationPlusTheGrace(kind: String) async throws {
        let silent = try await SilentServer.start()
        let server = try await TestServer.start()
        let url = kind == "silent" ? "http://127.0.0.1:\(silent.port)/" : server.baseURL + "/endless"
        let model = LoadModel.closed(connections: 2, limit: .duration(.seconds(1)))
        let started = ContinuousClock.now
        let s = try await runLoad(url, model: model, timeout: .seconds(60), endGrace: .milliseconds(400))
        let elapsed = ContinuousClock.now - started
        try await silent.shutdown()
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(s.transportErrors == ["interrupted": 2])
        #expect(s.completed == 0)
        #expect(elapsed >= .milliseconds(1300) && elapsed < .seconds(3), "took \(elapsed)")
        #expect(s.transportErrorSamples["interrupted"]?.contains("grace") == true)
        if kind == "endless" { #expect(s.bytesIn > 0) }
    }

    @Test func stalledResponsesEndAnOpenRunOnTime() async throws {
        let silent = try await SilentServer.start()
        let model = LoadModel.open(
            schedule: ArrivalSchedule(rate: 40, duration: .seconds(1)),
            maxConnections: 10,
            preconnect: 2
        )
        let started = ContinuousClock.now
        let s = try await runLoad(
            "http://127.0.0.1:\(silent.port)/",
            model: model,
            timeout: .seconds(60),
            endGrace: .milliseconds(300)
        )
        let elapsed = ContinuousClock.now - started
        try await silent.shutdown()
        expectAccounting(s, model)
        #expect(s.transportErrors == ["interrupted": 10], "one per connection: \(s.transportErrors)")
        #expect(s.unsent == 30, "the rest waited for a connection until the end")
        #expect(elapsed < .seconds(3), "took \(elapsed)")
    }
}

/// Runs a plan of one scenario whose only step is `step`, against `base`.
private func runOneScenario(
    on base: String,
    _ executor: Executor,
    _ step: RequestStep,
    threads: Int = 1
) async throws -> RunSummary {
    let plan = Plan(
        name: "misbehaving",
        baseURL: base,
        scenarios: [Scenario(name: "s", executor: executor, steps: [.request(step)])]
    )
    return try await PlanEngine(plan: plan, threads: threads).run()
}
