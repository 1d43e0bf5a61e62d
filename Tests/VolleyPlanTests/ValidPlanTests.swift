import Testing
import VolleyCore
import VolleyPlan

/// Valid plans load to exactly the values a Swift caller would build.
@Suite struct ValidPlanTests {
    private let file = Fixtures.path("full.yaml")

    private func at(_ line: Int, _ column: Int) -> VolleyCore.SourceLocation { loc(line, column, file: file) }

    private var expected: Plan {
        let create = RequestStep(
            name: "create todo",
            method: "POST",
            url: "/api/v1/todos",
            query: [("tag", "a"), ("tag", "b"), ("limit", "10")],
            headers: [TemplatedHeader(name: "Authorization", value: "Bearer ${token}")],
            body: .json(
                .object([
                    ("title", .string("${title}")), ("owner", .string("${user}")), ("n", .number(1.5)),
                    ("ok", .bool(true)), ("none", .null), ("tags", .array([.string("x"), .string("${ids.id}")])),
                ])
            ),
            timeout: .seconds(2),
            checks: [
                Check(.status([201]), abortOnFail: true, location: at(51, 13)),
                Check(
                    .jsonPathEquals(path: "$.title", value: .string("${title}")),
                    abortOnFail: true,
                    location: at(52, 21)
                ),
                Check(.jsonPathExists(path: "$.id"), abortOnFail: true, location: at(53, 27)),
                Check(.jsonPathExists(path: "$['id']"), abortOnFail: true, location: at(53, 33)),
                Check(.headerEquals(name: "Content-Type", value: "application/json"), location: at(55, 23)),
                Check(.headerContains(name: "Content-Type", value: "json"), location: at(56, 32)),
                Check(.headerExists(name: "Location"), location: at(57, 13)),
                Check(.bodyContains("title"), location: at(58, 13)),
                Check(.bodyMatches(regex: #""id":\s*\d+"#), location: at(59, 13)),
                Check(.latencyBelow(.milliseconds(500)), location: at(60, 13)),
            ],
            captures: [
                Capture(name: "id", source: .jsonPath("$.id"), location: at(62, 11)),
                Capture(name: "loc", source: .header("Location"), location: at(63, 11)),
                Capture(name: "num", source: .regex(#""id":(\d+)"#, group: 1), location: at(64, 11)),
                Capture(name: "both", source: .regex("a(b)(c)", group: 2), location: at(65, 11)),
            ],
            location: at(44, 9)
        )
        let browse: [Step] = [
            .request(
                RequestStep(
                    method: "GET",
                    url: "/api/v1/todos/${id}?loc=${loc}&n=${num}&b=${both}",
                    location: at(69, 13)
                )
            ),
            .think(ThinkTime(minimum: .milliseconds(100), maximum: .seconds(2), location: at(70, 13))),
            .request(
                RequestStep(
                    method: "PUT",
                    url: "https://other.example/x",
                    body: .file(path: Fixtures.path("body.txt"), contentType: nil),
                    location: at(71, 13)
                )
            ),
        ]
        return Plan(
            name: "full",
            baseURL: "http://127.0.0.1:8080",
            defaults: PlanDefaults(
                headers: [
                    TemplatedHeader(name: "Accept", value: "application/json"),
                    TemplatedHeader(
                        name: "X-Run",
                        value: Template(parts: [.literal("ci-7")], source: "${RUN_ID:-local}")
                    ),
                ],
                timeout: .seconds(5),
                maxRedirects: 0,
                cookies: false
            ),
            variables: ["title": "Write report", "user": "user-${vu}"],
            feeds: [
                DataFeed(
                    name: "users",
                    path: Fixtures.path("data/users.csv"),
                    format: .csv,
                    order: .unique(recycle: true),
                    location: at(12, 3)
                ),
                DataFeed(
                    name: "ids",
                    path: Fixtures.path("data/ids.json"),
                    format: .json,
                    order: .random,
                    location: at(16, 3)
                ),
            ],
            setup: [
                .request(
                    RequestStep(
                        method: "POST",
                        url: "/login",
                        body: .form([
                            TemplatedHeader(name: "user", value: "${users.name}"),
                            TemplatedHeader(name: "password", value: "secret"),
                        ]),
                        checks: [Check(.status([200, 204]), location: at(22, 14))],
                        captures: [Capture(name: "token", source: .jsonPath("$.token"), location: at(24, 7))],
                        location: at(20, 5)
                    )
                )
            ],
            teardown: [
                .request(
                    RequestStep(
                        method: "POST",
                        url: "/logout",
                        headers: [TemplatedHeader(name: "Authorization", value: "Bearer ${token}")],
                        body: .raw("bye", contentType: "text/plain"),
                        location: at(26, 5)
                    )
                )
            ],
            scenarios: [
                Scenario(
                    name: "main",
                    executor: .perVUIterations(vus: 2, iterations: 3, maxDuration: .seconds(600)),
                    startAfter: .seconds(1),
                    steps: [
                        .request(create),
                        .think(ThinkTime(.seconds(1), location: at(66, 9))),
                        .group(name: "browse", steps: browse, location: at(67, 9)),
                    ],
                    location: at(38, 3)
                )
            ],
            thresholds: [
                Threshold(
                    metric: .latencyPercentile(95),
                    comparison: .lessThan,
                    value: 500,
                    expression: "p(95) < 500ms",
                    location: at(31, 5)
                ),
                Threshold(
                    metric: .latencyMean,
                    comparison: .lessOrEqual,
                    value: 200,
                    expression: "avg <= 200ms",
                    location: at(32, 5)
                ),
                Threshold(
                    metric: .errorRate,
                    comparison: .lessThan,
                    value: 0.01,
                    expression: "error_rate < 1%",
                    location: at(33, 5)
                ),
                Threshold(
                    metric: .checkPassRate,
                    comparison: .greaterOrEqual,
                    value: 0.99,
                    expression: "checks >= 0.99",
                    location: at(34, 5)
                ),
                Threshold(
                    metric: .rps,
                    comparison: .greaterThan,
                    value: 10,
                    expression: "rps > 10/s",
                    location: at(35, 5)
                ),
                Threshold(
                    metric: .latencyMax,
                    comparison: .lessThan,
                    value: 2000,
                    requestName: "create todo",
                    abortOnFail: true,
                    expression: "max < 2s",
                    location: at(36, 18)
                ),
            ]
        )
    }

    @Test func theFullFixtureLoadsToTheExpectedPlan() throws {
        let loaded = try PlanLoader.load(path: file, environment: ["RUN_ID": "ci-7"])
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        let plan = loaded.plan
        let want = expected
        // Piecewise first, so a mismatch points at the part that differs.
        #expect(plan.name == want.name)
        #expect(plan.baseURL == want.baseURL)
        #expect(plan.defaults == want.defaults)
        #expect(plan.variables == want.variables)
        #expect(plan.feeds == want.feeds)
        #expect(plan.setup == want.setup)
        #expect(plan.teardown == want.teardown)
        #expect(plan.thresholds == want.thresholds)
        for (got, wanted) in zip(plan.scenarios.first?.steps ?? [], want.scenarios.first?.steps ?? []) {
            #expect(got == wanted)
        }
        #expect(plan == want)
    }

    @Test func feedRowsAreReadWithThePlan() throws {
        let loaded = try PlanLoader.load(path: file, environment: [:])
        #expect(
            loaded.feeds["users"]
                == FeedTable(
                    columns: ["name", "email"],
                    rows: [["ada", "ada@example.com"], ["Hopper, Grace", "grace@example.com"]]
                )
        )
        #expect(
            loaded.feeds["ids"]
                == FeedTable(columns: ["id", "name", "extra"], rows: [["1", "one", ""], ["two", "", "[1,2]"]])
        )
    }

    @Test func theNameDefaultsToTheFileNameAndTheEnvironmentDefaultIsUsed() throws {
        let plan = try PlanLoader.load(
            yaml:
                "base_url: ${HOST:-http://localhost:9}\nscenarios: { s: { executor: constant-vus, duration: 1s, steps: [{ request: GET / }] } }",
            file: "plans/smoke-test.yaml",
            baseDirectory: "plans",
            environment: [:]
        ).plan
        #expect(plan.name == "smoke-test")
        #expect(plan.baseURL == "http://localhost:9")
        #expect(plan.defaults == PlanDefaults())
        let step = RequestStep(method: "GET", url: "/", location: loc(2, 65, file: "plans/smoke-test.yaml"))
        #expect(
            plan.scenarios == [
                Scenario(
                    name: "s",
                    executor: .constantVUs(vus: 1, duration: .seconds(1)),
                    steps: [.request(step)],
                    location: loc(2, 14, file: "plans/smoke-test.yaml")
                )
            ]
        )
    }
}
