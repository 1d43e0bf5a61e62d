// The planners-and-studiers journey built with Volley's Swift API and run against the
// in-process test server, so it runs anywhere: `swift run volley-swift-api-example`.
import VolleyCore
import VolleyEngine
import VolleyReport
import VolleyTestSupport

let server = try await TestServer.start()

let planners = Scenario(
    name: "planners",
    executor: .sharedIterations(vus: 20, iterations: 400, maxDuration: .seconds(60)),
    steps: [
        .post(
            "/api/v1/todos",
            name: "create todo",
            json: ["title": "Study for the exam", "completed": false],
            checks: [.status(201), .jsonPath(exists: "$.id")],
            captures: [.json("id", "$.id")]
        ),
        .think(.milliseconds(5)...(.milliseconds(15))),
        .delete("/api/v1/todos/${id}", name: "DELETE /api/v1/todos/{id}", checks: [.status(200)]),
    ]
)
let studiers = Scenario(
    name: "studiers",
    executor: .rampingVUs(
        startVUs: 0,
        stages: [VUStage(duration: .seconds(1), target: 50), VUStage(duration: .seconds(1), target: 0)],
        gracefulRampDown: .seconds(1)
    ),
    steps: [.get("/api/v1/todos", checks: [.status(200)]), .think(.milliseconds(100))]
)
let plan = Plan(
    name: "planners-and-studiers (Swift API)",
    baseURL: server.baseURL,
    scenarios: [planners, studiers],
    thresholds: [
        Threshold(metric: .latencyPercentile(95), comparison: .lessThan, value: 500, expression: "p(95) < 500ms")
    ]
)

let summary = try await PlanEngine(plan: plan).run()
try await server.shutdown()
print(SummaryRenderer().render(summary))
