import Testing
import VolleyCore
import VolleyPlan

/// `probes:` in a plan: the same forms as `--probe`, each with its location for the errors
/// found when the run makes it.
@Suite struct ProbeSectionTests {
    private func plan(_ probes: String) -> String {
        planWithSteps("      - request: GET /todos", extra: "probes:\n" + probes)
    }

    @Test func probesAreReadWithTheirOptionsAndLocations() throws {
        let loaded = try load(
            plan(
                """
                  - http://127.0.0.1:9090/metrics
                  - { probe: "redis://127.0.0.1:6379", queues: [celery, mail] }
                  - probe: http://127.0.0.1:8080/metrics
                    series: lab_db_pool_*
                  - ${PG:-postgres://volley@127.0.0.1:5432/lab}
                  - pid:123
                """
            )
        )
        #expect(
            loaded.plan.probes == [
                PlanProbe("http://127.0.0.1:9090/metrics", location: loc(9, 5)),
                PlanProbe("redis://127.0.0.1:6379", queues: ["celery", "mail"], location: loc(10, 14)),
                PlanProbe("http://127.0.0.1:8080/metrics", series: ["lab_db_pool_*"], location: loc(11, 12)),
                PlanProbe("postgres://volley@127.0.0.1:5432/lab", location: loc(13, 5)),
                PlanProbe("pid:123", location: loc(14, 5)),
            ]
        )
    }

    @Test func theSummaryNamesTheProbesWithoutCredentials() throws {
        let loaded = try load(plan("  - postgres://admin:hunter2@127.0.0.1/lab\n  - pid:7\n"))
        #expect(PlanSummary.describe(loaded).hasSuffix("Probes: postgres://***@127.0.0.1/lab; pid:7."))
    }

    @Test func badProbesAreReportedWhereTheyAre() {
        #expect(
            problems(
                plan(
                    """
                      - mysql://admin:hunter2@127.0.0.1/db
                      - { probe: "http://127.0.0.1/metrics", queues: [celery] }
                      - { probe: "redis://127.0.0.1:6379", series: [x] }
                      - { prob: "pid:1" }
                      - [pid:1]
                    """
                )
            ) == [
                "9:5: error: unknown kind of probe \"mysql://***@127.0.0.1/db\"",
                "10:5: error: \"queues\" applies to redis:// probes only",
                "11:5: error: \"series\" applies to Prometheus (http://…/metrics) probes only",
                "12:5: error: a probe map needs \"probe\"",
                "12:7: error: unknown key \"prob\"",
                "13:5: error: a probe must be a probe address such as http://host/metrics, got a list",
            ]
        )
    }
}
