import Testing
import VolleyCore
import VolleyPlan

/// The shipped examples and the `volley init` plan are valid, and mean what they say.
@Suite struct ExampleTests {
    private func example(_ name: String, environment: [String: String] = [:]) throws -> LoadedPlan {
        try PlanLoader.load(path: Fixtures.repository + "/Examples/" + name, environment: environment)
    }

    @Test func plannersAndStudiersMatchesItsDescription() throws {
        let loaded = try example("planners-and-studiers.yaml")
        #expect(loaded.warnings.isEmpty)
        let plan = loaded.plan
        #expect(plan.name == "planners-and-studiers")
        #expect(plan.baseURL == "http://127.0.0.1:8080")
        #expect(plan.scenarios.map(\.name) == ["studiers", "planners"])
        #expect(
            plan.scenarios.first?.executor
                == .rampingVUs(
                    startVUs: 0,
                    stages: [
                        VUStage(duration: .seconds(120), target: 1000), VUStage(duration: .seconds(120), target: 2500),
                        VUStage(duration: .seconds(120), target: 0),
                    ],
                    gracefulRampDown: .seconds(30)
                )
        )
        #expect(
            plan.scenarios.last?.executor == .sharedIterations(vus: 20, iterations: 400, maxDuration: .seconds(600))
        )
        guard let studiers = plan.scenarios.first?.steps, let planners = plan.scenarios.last?.steps,
            case .request(let list) = studiers.first, case .think(let studierThink) = studiers.last,
            planners.count == 4, case .request(let create) = planners[0], case .think(let think) = planners[1],
            case .request(let delete) = planners[2]
        else {
            Issue.record("unexpected steps")
            return
        }
        #expect(
            list.method == "GET" && list.url.source == "/api/v1/todos"
                && list.checks.map(\.condition) == [.status([200])]
        )
        #expect(studierThink.minimum == .seconds(120))
        #expect(create.method == "POST" && create.checks.map(\.condition) == [.status([201])])
        #expect(create.body == .json(.object([("title", .string("${title}")), ("completed", .bool(false))])))
        #expect(create.captures.map(\.source) == [.jsonPath("$.id")])
        #expect(think.minimum == .seconds(10))
        #expect(
            delete.method == "DELETE" && delete.url.source == "/api/v1/todos/${id}"
                && delete.name == "DELETE /api/v1/todos/{id}"
        )
        #expect(delete.checks.map(\.condition) == [.status([200])])
    }

    @Test func plannersAndStudiersShrinksToSecondsFromTheEnvironment() throws {
        let environment = [
            "STUDIERS_RAMP": "1s", "STUDIERS_HOLD": "1s", "STUDIERS_RAMP_DOWN": "1s", "STUDIERS_FIRST": "2",
            "STUDIERS_PEAK": "5", "STUDIERS_THINK": "100ms", "STUDIERS_GRACE": "1s", "PLANNER_VUS": "2",
            "PLANNER_ITERATIONS": "4", "PLANNER_THINK": "50ms", "PLANNER_MAX_DURATION": "30s",
            "ENDPOINT": "http://127.0.0.1:9999",
        ]
        let plan = try example("planners-and-studiers.yaml", environment: environment).plan
        #expect(plan.baseURL == "http://127.0.0.1:9999")
        #expect(
            plan.scenarios.first?.executor
                == .rampingVUs(
                    startVUs: 0,
                    stages: [
                        VUStage(duration: .seconds(1), target: 2), VUStage(duration: .seconds(1), target: 5),
                        VUStage(duration: .seconds(1), target: 0),
                    ],
                    gracefulRampDown: .seconds(1)
                )
        )
        #expect(plan.scenarios.last?.executor == .sharedIterations(vus: 2, iterations: 4, maxDuration: .seconds(30)))
        #expect(
            plan.scenarios.last?.steps[1]
                == .think(
                    ThinkTime(
                        .milliseconds(50),
                        location: plan.scenarios.last.flatMap {
                            if case .think(let t) = $0.steps[1] { return t.location }
                            return nil
                        }
                    )
                )
        )
    }

    @Test func randomIDsDrawsFromTheJSONFile() throws {
        let loaded = try example("random-ids.yaml")
        #expect(loaded.warnings.isEmpty)
        #expect(loaded.plan.feeds.map(\.name) == ["ids"])
        #expect(loaded.plan.feeds.first?.order == .random)
        #expect(loaded.feeds["ids"]?.columns == ["id"])
        #expect((loaded.feeds["ids"]?.rows.count ?? 0) >= 20)
        guard case .request(let request)? = loaded.plan.scenarios.first?.steps.first else {
            Issue.record("no request")
            return
        }
        #expect(request.url.parts == [.literal("/businesses/id/"), .field(feed: "ids", column: "id")])
    }

    @Test func theInitPlanIsValidWithoutWarnings() throws {
        let loaded = try PlanLoader.load(
            yaml: ExamplePlan.yaml,
            file: "volley-plan.yaml",
            baseDirectory: Fixtures.directory,
            environment: [:]
        )
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(loaded.plan.scenarios.count == 2)
        #expect(loaded.plan.thresholds.count == 4)
    }

    @Test func theSummarySaysWhatThePlanWillDo() throws {
        let summary = PlanSummary.describe(try example("planners-and-studiers.yaml"))
        #expect(
            summary
                == "Plan \"planners-and-studiers\" against http://127.0.0.1:8080 runs 2 scenarios at once. "
                + "\"studiers\": ramping-vus, 0 → 1000 → 2500 → 0 VUs over 6m (graceful ramp-down 30s); "
                + "1 request, 1 think time. \"planners\": shared-iterations, 400 iterations shared by 20 VUs "
                + "(at most 10m); 2 requests, 2 think times. Thresholds: p(95) < 500ms; error_rate < 1%."
        )
        let ids = PlanSummary.describe(try example("random-ids.yaml"))
        #expect(ids.contains("constant-arrival-rate, 50 iterations/s for 30s (about 1500) on 10 to 100 VUs"))
        #expect(ids.contains("Feeds: ids (50 rows, random)"))
    }
}
