import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// What a plan run counts when requests get no response, when values rendered during the
/// run cannot be sent, and what it records about its own concurrency and timers.
@Suite(.serialized) struct PlanAccountingTests {
    private func plan(
        _ server: TestServer,
        _ steps: [Step],
        _ executor: Executor,
        variables: [String: Template] = [:]
    ) -> Plan {
        Plan(
            name: "accounting",
            baseURL: server.baseURL,
            variables: variables,
            scenarios: [Scenario(name: "s", executor: executor, steps: steps)]
        )
    }

    private func byName(_ s: RunSummary) -> [String: NamedRequestStats] {
        Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
    }

    /// 10 requests that get no response: each fails the step's check and its capture, and an
    /// `abort_on_fail` check ends the iteration before the next step.
    @Test func requestsWithoutAResponseFailEveryCheckAndCapture() async throws {
        let server = try await TestServer.start()
        let dropped = RequestStep(
            name: "dropped",
            method: "GET",
            url: "/close-no-reply",
            checks: [Check(.status([200]), name: "ok"), Check(.status([200]), name: "must", abortOnFail: true)],
            captures: [Capture(name: "id", source: .jsonPath("$.id"))]
        )
        let s = try await PlanEngine(
            plan: plan(
                server,
                [.request(dropped), .get("/", name: "after")],
                .perVUIterations(vus: 2, iterations: 5, maxDuration: .seconds(20))
            ),
            threads: 1
        ).run()
        try await server.shutdown()
        let checks = Dictionary(uniqueKeysWithValues: (s.checks ?? []).map { ($0.name, $0) })
        #expect(checks["dropped › ok"]?.passes == 0)
        #expect(checks["dropped › ok"]?.fails == 10)
        #expect(checks["dropped › must"]?.fails == 10)
        #expect(byName(s)["dropped"]?.transportErrors == ["no_response": 10])
        #expect(byName(s)["dropped"]?.captureFailures == 10)
        #expect(byName(s)["after"] == nil, "abort_on_fail ended every iteration before the next step")
        #expect(s.iterations == IterationStats(completed: 0, interrupted: 10, dropped: 0))
    }

    /// A plan's timeline shows its VUs, open connections and requests in flight (they read 0
    /// every second while 60 VUs ran).
    @Test func theTimelineRecordsVUsConnectionsAndInFlight() async throws {
        let server = try await TestServer.start()
        let s = try await PlanEngine(
            plan: plan(server, [.get("/delay/300", name: "slow")], .constantVUs(vus: 4, duration: .milliseconds(2500))),
            threads: 2
        ).run()
        try await server.shutdown()
        let full = s.timeline.filter { $0.t <= 2.0 }
        #expect(!full.isEmpty)
        for e in full {
            #expect(e.vus == 4, "\(e)")
            #expect(e.connections == 4, "\(e)")
            #expect((1...4).contains(e.inFlight), "\(e)")
        }
    }

    /// An arrival-rate scenario keeps one timer for its next arrival, not one per arrival
    /// until the end (which grew a 3,000/s plan by ~150 bytes an arrival).
    @Test func arrivalRateScenariosKeepABoundedNumberOfTimers() async throws {
        let server = try await TestServer.start()
        let engine = PlanEngine(
            plan: plan(
                server,
                [.get("/")],
                .constantArrivalRate(rate: 2000, duration: .milliseconds(1500), preAllocatedVUs: 20, maxVUs: 50)
            ),
            threads: 1
        )
        async let summary = engine.run()
        var most = 0
        var samples = 0
        for _ in 0..<12 {
            try await Task.sleep(for: .milliseconds(100))
            let counts = await engine.retainedTimerCounts()
            if !counts.isEmpty { samples += 1 }
            most = max(most, counts.max() ?? 0)
        }
        let s = try await summary
        try await server.shutdown()
        #expect(samples > 3, "the run was sampled while it ran")
        #expect(most <= 3, "timers held: \(most)")
        #expect(s.completed > 1000)
    }

    /// 100,000 VUs are created a batch per loop turn, so Ctrl-C (a task on the same loop)
    /// stops the scenario after a few batches; created in one synchronous loop, all of them
    /// existed before the interrupt could run.
    @Test func anInterruptIsNotKeptWaitingWhileVUsAreCreated() async throws {
        let engine = PlanEngine(
            plan: Plan(
                name: "many",
                baseURL: "http://127.0.0.1:9/",
                scenarios: [
                    Scenario(
                        name: "s",
                        executor: .constantVUs(vus: 100_000, duration: .seconds(30)),
                        steps: [.think(ThinkTime(minimum: .seconds(30), maximum: .seconds(30)))]
                    )
                ]
            ),
            threads: 1
        )
        async let summary = engine.run()
        var seen = 0
        for _ in 0..<5000 where seen == 0 {
            seen = await engine.vuCounts().reduce(0, +)
            if seen == 0 { try await Task.sleep(for: .milliseconds(1)) }
        }
        engine.interrupt()
        let s = try await summary
        let started = try #require(s.iterations).interrupted
        #expect(seen > 0)
        #expect(started < 50_000, "\(started) VUs were created before the interrupt ran")
    }

    /// A templated URL that renders to one that cannot be sent fails as `invalid_request`,
    /// counted, never sent, and the VU does not spin (it skipped at 500,000 a second).
    @Test func unsendableRenderedURLsFailAsInvalidRequestWithoutSpinning() async throws {
        let server = try await TestServer.start()
        let s = try await PlanEngine(
            plan: plan(
                server,
                [.get(try Template(parsing: "http://127.0.0.1:${port}/"), name: "bad port")],
                .constantVUs(vus: 1, duration: .seconds(1)),
                variables: ["port": "99999"]
            ),
            threads: 1
        ).run()
        try await server.shutdown()
        let bad = try #require(byName(s)["bad port"])
        let n = bad.transportErrors["invalid_request"] ?? 0
        #expect((5...20).contains(n), "\(n) invalid requests in 1 s")
        #expect(bad.requests == n)
        #expect(bad.skipped == 0)
        #expect(server.requestsReceived == 0)
    }

    /// The service under test sends values with line breaks; captured into a URL or a header,
    /// and from a feed row, they are refused as `invalid_request` and never reach the wire.
    @Test func capturedAndFedLineBreaksNeverReachTheWire() async throws {
        let server = try await TestServer.start()
        let steps: [Step] = [
            .request(
                RequestStep(
                    name: "inject",
                    method: "GET",
                    url: "/inject",
                    captures: [
                        Capture(name: "path", source: .jsonPath("$.path")),
                        Capture(name: "value", source: .jsonPath("$.value")),
                    ]
                )
            ),
            .get(try Template(parsing: "${path}"), name: "captured path"),
            .request(
                RequestStep(
                    name: "captured header",
                    method: "GET",
                    url: "/",
                    headers: [TemplatedHeader(name: "X-Token", value: try Template(parsing: "${value}"))]
                )
            ),
            .request(
                RequestStep(
                    name: "fed header",
                    method: "GET",
                    url: "/",
                    headers: [TemplatedHeader(name: "X-User", value: try Template(parsing: "${users.name}"))]
                )
            ),
            .get(try Template(parsing: "/users/${users.name}"), name: "fed path"),
        ]
        let s = try await PlanEngine(
            plan: plan(server, steps, .perVUIterations(vus: 1, iterations: 3, maxDuration: .seconds(20))),
            feeds: ["users": FeedTable(columns: ["name"], rows: [["ann\r\nX-Injected: 1"]])],
            threads: 1
        ).run()
        try await server.shutdown()
        let named = byName(s)
        #expect(named["inject"]?.status == ["200": 3])
        for name in ["captured path", "captured header", "fed header", "fed path"] {
            #expect(named[name]?.transportErrors == ["invalid_request": 3], "\(name)")
        }
        #expect(s.transportErrors["invalid_request"] == 12)
        #expect(server.injectedHeadersSeen == 0)
        #expect(server.requestsReceived == 3, "only the three /inject requests were sent")
    }
}
