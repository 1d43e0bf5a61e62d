import Foundation
import Testing
import VolleyCore
import VolleyEngine
import VolleyTestSupport

/// Runs one scenario named "s" of `steps` under `executor` against `server`.
private func runScenario(
    _ steps: [Step],
    _ executor: Executor,
    on server: TestServer,
    threads: Int = 1,
    thresholds: [Threshold] = [],
    host: String = "127.0.0.1",
    directSockets: Bool = true
) async throws -> RunSummary {
    let plan = Plan(
        name: "test",
        baseURL: server.baseURL.replacingOccurrences(of: "127.0.0.1", with: host),
        scenarios: [Scenario(name: "s", executor: executor, steps: steps)],
        thresholds: thresholds
    )
    return try await PlanEngine(plan: plan, threads: threads, directSockets: directSockets).run()
}

/// Plans executed end to end against the in-process server's todos API.
@Suite(.serialized) struct PlanEngineTests {
    private func plannerSteps() -> [Step] {
        [
            .request(
                RequestStep(
                    name: "create todo",
                    method: "POST",
                    url: "/api/v1/todos",
                    body: .json(.object([("title", .string("x ${vu}"))])),
                    checks: [Check(.status([201])), Check(.jsonPathExists(path: "$.id"))],
                    captures: [
                        Capture(name: "id", source: .jsonPath("$.id")),
                        Capture(name: "nothere", source: .jsonPath("$.nothere")),
                    ]
                )
            ),
            .think(ThinkTime(minimum: .milliseconds(1), maximum: .milliseconds(3))),
            .request(
                RequestStep(
                    name: "DELETE /api/v1/todos/{id}",
                    method: "DELETE",
                    url: "/api/v1/todos/${id}",
                    checks: [Check(.status([200])), Check(.jsonPathEquals(path: "$.deleted", value: .string("${id}")))]
                )
            ),
            .request(RequestStep(name: "never sent", method: "GET", url: "/api/v1/todos/${nothere}")),
        ]
    }

    @Test func sharedIterationsCaptureAndReuseIDs() async throws {
        let server = try await TestServer.start()
        let plan = Plan(
            name: "planners",
            baseURL: server.baseURL,
            scenarios: [
                Scenario(
                    name: "planners",
                    executor: .sharedIterations(vus: 4, iterations: 40, maxDuration: .seconds(20)),
                    steps: plannerSteps()
                )
            ]
        )
        let s = try await PlanEngine(plan: plan, threads: 2).run()
        try await server.shutdown()
        let byName = Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
        #expect(byName["create todo"]?.requests == 40)
        #expect(byName["create todo"]?.status == ["201": 40])
        #expect(byName["create todo"]?.captureFailures == 40)
        #expect(byName["DELETE /api/v1/todos/{id}"]?.status == ["200": 40], "every id was captured and deleted once")
        #expect(byName["never sent"]?.skipped == 40)
        #expect(byName["never sent"]?.skipReason == "${nothere} has no value")
        #expect(byName["never sent"]?.requests == 0)
        #expect(s.iterations == IterationStats(completed: 40, interrupted: 0, dropped: 0))
        let checks = Dictionary(uniqueKeysWithValues: (s.checks ?? []).map { ($0.name, $0) })
        #expect(checks["create todo › status is 201"]?.passes == 40)
        #expect(checks["DELETE /api/v1/todos/{id} › status is 200"]?.passes == 40)
        #expect(checks["DELETE /api/v1/todos/{id} › $.deleted equals expected"]?.passes == 40)
        #expect(s.completed == 80)
        #expect(s.scheduled == s.completed + s.failed + s.unsent)
    }

    @Test func failedChecksAreCountedAndAbortEndsTheIteration() async throws {
        let server = try await TestServer.start()
        let steps: [Step] = [
            .request(
                RequestStep(name: "mix", method: "GET", url: "/mix", checks: [Check(.status([200]), abortOnFail: true)])
            ),
            .request(RequestStep(name: "after", method: "GET", url: "/")),
        ]
        let s = try await runScenario(
            steps,
            .perVUIterations(vus: 2, iterations: 10, maxDuration: .seconds(10)),
            on: server
        )
        try await server.shutdown()
        let checks = try #require(s.checks?.first)
        #expect(checks.passes == 16)
        #expect(checks.fails == 4)
        #expect(s.iterations?.completed == 16)
        #expect(s.iterations?.interrupted == 4)
        #expect(s.requestsByName?.first { $0.name == "after" }?.requests == 16)
    }

    @Test func constantVUsRunForTheirDurationAndThinkBetweenRequests() async throws {
        let server = try await TestServer.start()
        let steps: [Step] = [.request(RequestStep(method: "GET", url: "/")), .think(ThinkTime(.milliseconds(100)))]
        let plan = Plan(
            name: "c",
            baseURL: server.baseURL,
            scenarios: [Scenario(name: "s", executor: .constantVUs(vus: 3, duration: .seconds(1)), steps: steps)]
        )
        let started = ContinuousClock.now
        let s = try await PlanEngine(plan: plan, threads: 2).run()
        let elapsed = ContinuousClock.now - started
        try await server.shutdown()
        // 3 VUs × ~10 iterations of (request + 100 ms think) in 1 s.
        #expect(s.completed >= 24 && s.completed <= 33, "completed \(s.completed)")
        #expect(elapsed < .seconds(3))
    }

    @Test func setupCapturesReachEveryVUAndThresholdsAreJudged() async throws {
        let server = try await TestServer.start()
        let setup: [Step] = [
            .request(
                RequestStep(
                    name: "seed",
                    method: "POST",
                    url: "/api/v1/todos",
                    captures: [Capture(name: "seed", source: .jsonPath("$.id"))]
                )
            )
        ]
        let steps: [Step] = [.request(RequestStep(name: "delete seed", method: "DELETE", url: "/api/v1/todos/${seed}"))]
        let plan = Plan(
            name: "setup",
            baseURL: server.baseURL,
            setup: setup,
            teardown: [.request(RequestStep(name: "list", method: "GET", url: "/api/v1/todos"))],
            scenarios: [
                Scenario(
                    name: "s",
                    executor: .perVUIterations(vus: 2, iterations: 1, maxDuration: .seconds(10)),
                    steps: steps
                )
            ],
            thresholds: [
                Threshold(
                    metric: .latencyPercentile(95),
                    comparison: .lessThan,
                    value: 10_000,
                    expression: "p(95) < 10s"
                ),
                Threshold(metric: .errorRate, comparison: .lessThan, value: 0.01, expression: "error_rate < 1%"),
                Threshold(
                    metric: .rps,
                    comparison: .greaterThan,
                    value: 0,
                    requestName: "no such request",
                    expression: "rps > 0"
                ),
            ]
        )
        let s = try await PlanEngine(plan: plan, threads: 2).run()
        try await server.shutdown()
        let byName = Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
        #expect(byName["seed"]?.status == ["201": 1])
        // Both VUs got the setup's id: one deletes it, the other finds it gone.
        #expect(byName["delete seed"]?.status == ["200": 1, "404": 1])
        #expect(byName["list"]?.requests == 1)
        let results = try #require(s.thresholds)
        #expect(results.map(\.passed) == [true, false, false])
        #expect(results[1].actual == 0.25)
        #expect(results[2].actual == nil)
    }

    @Test func redirectsAreFollowedAndCookiesKeptPerVU() async throws {
        let server = try await TestServer.start()
        let steps: [Step] = [
            .request(
                RequestStep(
                    name: "redirects",
                    method: "GET",
                    url: "/redirect/3",
                    checks: [Check(.bodyContains("arrived"))]
                )
            ),
            .request(
                RequestStep(name: "too many", method: "GET", url: "/redirect/20", checks: [Check(.status([302]))])
            ),
            .request(RequestStep(name: "set", method: "GET", url: "/cookie/set")),
            .request(
                RequestStep(
                    name: "echo",
                    method: "GET",
                    url: "/cookie/echo",
                    checks: [Check(.bodyContains("session=s3cr3t"))]
                )
            ),
        ]
        let s = try await runScenario(
            steps,
            .perVUIterations(vus: 2, iterations: 2, maxDuration: .seconds(10)),
            on: server
        )
        try await server.shutdown()
        #expect((s.checks ?? []).allSatisfy { $0.fails == 0 && $0.passes == 4 }, "\(s.checks ?? [])")
        let byName = Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
        // Each hop is a request: 3 redirects + the final answer, 4 times.
        #expect(byName["redirects"]?.status == ["302": 12, "200": 4])
        // The default limit is 10 redirects: the 11th response (a 302) is final.
        #expect(byName["too many"]?.requests == 44)
    }

    @Test func groupsAreTimedAsAWhole() async throws {
        let server = try await TestServer.start()
        let steps: [Step] = [
            .group(name: "browse", steps: [.get("/"), .think(.milliseconds(50)), .get("/")], location: nil)
        ]
        let s = try await runScenario(
            steps,
            .perVUIterations(vus: 2, iterations: 3, maxDuration: .seconds(10)),
            on: server
        )
        try await server.shutdown()
        let group = try #require(s.groups?.first)
        #expect(group.name == "browse")
        #expect(group.count == 6)
        #expect(group.durationMs.p50 >= 50 && group.durationMs.p50 < 150, "\(group.durationMs)")
    }

    @Test func abortOnFailThresholdStopsTheRunEarly() async throws {
        let server = try await TestServer.start()
        let started = ContinuousClock.now
        let s = try await runScenario(
            [.get("/status/500"), .think(.milliseconds(10))],
            .constantVUs(vus: 2, duration: .seconds(20)),
            on: server,
            thresholds: [
                Threshold(
                    metric: .errorRate,
                    comparison: .lessThan,
                    value: 0.01,
                    abortOnFail: true,
                    expression: "error_rate < 1%"
                )
            ]
        )
        try await server.shutdown()
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(s.abortedBy == "error_rate < 1%")
        #expect(s.thresholds?.first?.passed == false)
    }

    @Test func uniqueFeedsGiveEachRowOnceThenStop() async throws {
        let server = try await TestServer.start()
        let table = FeedTable(columns: ["id"], rows: (1...10).map { [String($0)] })
        let plan = Plan(
            name: "feed",
            baseURL: server.baseURL,
            feeds: [DataFeed(name: "ids", path: "ids.json", format: .json, order: .unique(recycle: false))],
            scenarios: [
                Scenario(
                    name: "s",
                    executor: .perVUIterations(vus: 2, iterations: 20, maxDuration: .seconds(10)),
                    steps: [.get("/businesses/id/${ids.id}", name: "lookup")]
                )
            ]
        )
        let s = try await PlanEngine(plan: plan, feeds: ["ids": table], threads: 1, requestIDHeader: "X-Request-ID")
            .run()
        try await server.shutdown()
        // 10 rows, unique, no recycling: exactly 10 iterations run, then the scenario stops.
        #expect(s.requestsByName?.first?.requests == 10)
        #expect(s.status == ["200": 10])
    }

    @Test func virtualUsersSpeakTLS() async throws {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        let context = try TestServer.makeTLSContext(
            certificatePath: fixtures.appendingPathComponent("cert.pem").path,
            keyPath: fixtures.appendingPathComponent("key.pem").path
        )
        let server = try await TestServer.start(tls: context)
        let plan = Plan(
            name: "tls",
            baseURL: server.baseURL,
            scenarios: [
                Scenario(
                    name: "s",
                    executor: .perVUIterations(vus: 2, iterations: 5, maxDuration: .seconds(10)),
                    steps: [
                        .post("/api/v1/todos", checks: [.status(201)], captures: [.json("id", "$.id")]),
                        .delete("/api/v1/todos/${id}"),
                    ]
                )
            ]
        )
        let ok = try await PlanEngine(plan: plan, threads: 1, insecure: true).run()
        let refused = try await PlanEngine(plan: plan, threads: 1).run()
        try await server.shutdown()
        #expect(ok.status == ["201": 10, "200": 10])
        #expect(refused.transportErrors["tls"] ?? 0 > 0)
        #expect(refused.completed == 0)
    }

    @Test func slowStepsTimeOutOnTheirOwnTimeout() async throws {
        let server = try await TestServer.start()
        let slow = RequestStep(name: "slow", method: "GET", url: "/delay/3000", timeout: .milliseconds(200))
        let started = ContinuousClock.now
        let s = try await runScenario(
            [.request(slow), .get("/")],
            .perVUIterations(vus: 2, iterations: 2, maxDuration: .seconds(10)),
            on: server
        )
        try await server.shutdown()
        #expect(ContinuousClock.now - started < .seconds(2))
        let byName = Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
        #expect(byName["slow"]?.transportErrors == ["timeout": 4])
        #expect(byName["GET /"]?.status == ["200": 4], "the VU goes on after a timeout, on a new connection")
    }

    /// VUs write with `send(2)` on sockets they connect themselves (plain HTTP on Linux);
    /// through NIO's own connect and write path the same plan must count the same. With
    /// `localhost`, the first connection of each loop resolves the name through NIO while
    /// the VUs that start with it wait for its address.
    @Test(arguments: [(true, "127.0.0.1"), (true, "localhost"), (false, "127.0.0.1")])
    func bothWritePathsRunPlansAlike(direct: Bool, host: String) async throws {
        let server = try await TestServer.start()
        var steps = plannerSteps()
        // POST: a reset of a request that is not safe to repeat stays a failure (RetryPolicy).
        steps.append(.request(RequestStep(name: "reset", method: "POST", url: "/reset/5")))
        steps.append(.get("/close", name: "close"))
        let s = try await runScenario(
            steps,
            .sharedIterations(vus: 8, iterations: 40, maxDuration: .seconds(20)),
            on: server,
            threads: 2,
            host: host,
            directSockets: direct
        )
        try await server.shutdown()
        let byName = Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
        #expect(byName["create todo"]?.status == ["201": 40])
        #expect(byName["DELETE /api/v1/todos/{id}"]?.status == ["200": 40])
        #expect(byName["reset"]?.status == ["200": 32])
        #expect(byName["reset"]?.transportErrors == ["reset": 8])
        #expect(byName["close"]?.status == ["200": 40])
        #expect(s.iterations == IterationStats(completed: 40, interrupted: 0, dropped: 0))
        #expect(s.scheduled == s.completed + s.failed + s.unsent)
    }

    /// A host name met only in a step (not the base URL) is resolved by the first connection
    /// of each loop through NIO, while the VUs that start with it wait for its address.
    @Test func aHostNameInAStepIsResolvedOnceWhileOthersWait() async throws {
        let server = try await TestServer.start()
        let s = try await runScenario(
            [
                .get(try Template(parsing: "http://localhost:\(server.port)/close"), name: "by name"),
                .get("/", name: "by base"),
            ],
            .sharedIterations(vus: 8, iterations: 40, maxDuration: .seconds(20)),
            on: server,
            threads: 2
        )
        try await server.shutdown()
        let byName = Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
        #expect(byName["by name"]?.status == ["200": 40])
        #expect(byName["by base"]?.status == ["200": 40])
        #expect(s.failed == 0)
    }

    @Test func connectionCloseResponsesMakeTheNextStepReconnect() async throws {
        let server = try await TestServer.start()
        let s = try await runScenario(
            [.get("/close", name: "close"), .get("/http10", name: "http10"), .get("/", name: "root")],
            .perVUIterations(vus: 2, iterations: 5, maxDuration: .seconds(10)),
            on: server
        )
        try await server.shutdown()
        #expect(s.status == ["200": 30])
        #expect(s.failed == 0)
    }

    @Test func rampingVUsFollowTheirStages() {
        let schedule = VUSchedule(
            startVUs: 0,
            stages: [VUStage(duration: .seconds(10), target: 100), VUStage(duration: .seconds(10), target: 0)]
        )
        #expect(schedule.target(at: 0) == 0)
        #expect(schedule.target(at: 5) == 50)
        #expect(schedule.target(at: 10) == 100)
        #expect(schedule.target(at: 15) == 50)
        #expect(schedule.target(at: 25) == 0)
    }

    @Test func arrivalRateDropsIterationsThatFindNoVU() async throws {
        let server = try await TestServer.start()
        let steps: [Step] = [.request(RequestStep(method: "GET", url: "/delay/200"))]
        let s = try await runScenario(
            steps,
            .constantArrivalRate(rate: 50, duration: .seconds(1), preAllocatedVUs: 2, maxVUs: 5),
            on: server
        )
        try await server.shutdown()
        let it = try #require(s.iterations)
        // 50 arrivals; 5 VUs each finish an iteration every ~200 ms → about 25 run, the rest drop.
        #expect(it.completed + it.interrupted + it.dropped == 50, "\(it)")
        #expect(it.dropped >= 15, "\(it)")
    }
}
