import Testing
import VolleyCore
import VolleyPlan

@Suite struct ThresholdAndFeedTests {
    private func thresholds(_ items: String) -> [String] {
        problems(
            planWithSteps(
                "      - request: GET /todos",
                extra: "thresholds:\n" + items
            )
        )
    }

    @Test func badThresholds() {
        #expect(
            thresholds(
                """
                  - "p95 < 500ms"
                  - "p(101) < 1s"
                  - "p(95) < 500"
                  - "error_rate < 5"
                  - "latency < 1s"
                  - "checks = 99%"
                  - "rps 100"
                  - { threshold: "avg < 1s", request: GET /todo }
                  - { request: GET /todos }
                """
            ) == [
                "9:5: error: unknown threshold metric \"p95\"",
                "10:5: error: invalid percentile \"p(101)\"",
                "11:5: error: duration \"500\" has no unit",
                "12:5: error: invalid rate \"5\" for error_rate",
                "13:5: error: unknown threshold metric \"latency\"",
                "14:5: error: invalid threshold \"checks = 99%\"",
                "15:5: error: invalid threshold \"rps 100\"",
                "16:39: error: no request is named \"GET /todo\"",
                "17:5: error: a threshold map needs \"threshold\"",
            ]
        )
    }

    @Test func probeSeriesThresholds() throws {
        let plan = try load(
            planWithSteps(
                "      - request: GET /todos",
                extra: """
                    thresholds:
                      - "pg.connections.active < 90"
                      - "avg(proc.cpu_percent) < 80%"
                      - "last(proc.rss_bytes) < 512MB"
                      - 'max(lab_http_requests_total{route="GET /books/"}) >= 1'
                    """
            )
        ).plan
        #expect(
            plan.thresholds.map(\.metric) == [
                .probe(series: "pg.connections.active", reduce: .max),
                .probe(series: "proc.cpu_percent", reduce: .avg),
                .probe(series: "proc.rss_bytes", reduce: .last),
                .probe(series: #"lab_http_requests_total{route="GET /books/"}"#, reduce: .max),
            ]
        )
        #expect(plan.thresholds.map(\.value) == [90, 80, 512 * 1_048_576, 1])
        #expect(
            thresholds("  - \"max(pg.connections.active) < lots\"\n  - \"max(9lives) < 1\"\n") == [
                "9:5: error: invalid value \"lots\" for max(pg.connections.active)",
                "10:5: error: invalid probe series \"9lives\" in max(…)",
            ]
        )
        // Judged on what the probes returned; a series nobody returned fails.
        let probes = [
            ProbeResult(
                probe: "pg",
                series: ["pg.connections.active": [[0, 12], [1, 95], [2, 40]]],
                failedScrapes: 0
            )
        ]
        let results = plan.thresholds.map { $0.evaluate(probes: probes) }
        #expect(results[0].actual == 95)
        #expect(results[0].passed == false)
        #expect(results[1].actual == nil && results[1].passed == false)
    }

    @Test func thresholdValuesAreNormalised() throws {
        let plan = try load(
            planWithSteps(
                "      - request: GET /todos",
                extra: "thresholds: [\"med>=1.5s\", \"checks > 99.5%\", \"rps >= 30/m\", \"p(99.9) <= 250ms\"]"
            )
        ).plan
        #expect(
            plan.thresholds.map(\.metric) == [.latencyPercentile(50), .checkPassRate, .rps, .latencyPercentile(99.9)]
        )
        #expect(plan.thresholds.map(\.comparison) == [.greaterOrEqual, .greaterThan, .greaterOrEqual, .lessOrEqual])
        #expect(plan.thresholds.map(\.value) == [1500, 0.995, 0.5, 250])
    }

    private func feeds(_ feeds: String, step: String = "GET /${f.id}") -> [String] {
        problems(planWithSteps("      - request: \(step)", extra: "feeds:\n" + feeds))
    }

    @Test func feedFileProblemsPointAtTheFileValue() {
        #expect(feeds("  f:\n    file: nope.csv") == ["10:11: error: feed file \"nope.csv\" does not exist"])
        #expect(
            feeds("  f:\n    file: data/bad.json")
                == [
                    "10:11: error: feed file \"data/bad.json\" is not valid JSON: expected a key in double quotes at line 2, column 11"
                ]
        )
        #expect(
            feeds("  f:\n    file: data/ragged.csv") == [
                "10:11: error: feed file \"data/ragged.csv\" has 1 field on line 3, the header has 2"
            ]
        )
        #expect(
            feeds("  f:\n    file: body.txt") == ["10:11: error: cannot tell the format of \"body.txt\" from its name"]
        )
        #expect(
            feeds("  f:\n    file: body.txt\n    format: json") == [
                "10:11: error: feed file \"body.txt\" must hold a JSON array of objects"
            ]
        )
        #expect(
            feeds("  f:\n    file: data/users.csv\n    format: xml") == ["11:13: error: unknown feed format \"xml\""]
        )
        #expect(feeds("  f:\n    order: random") == ["9:3: error: feed \"f\" has no file"])
    }

    @Test func feedOptions() {
        #expect(
            feeds("  f:\n    file: data/users.csv\n    order: randm", step: "GET /${f.name}")
                == ["11:12: error: unknown feed order \"randm\""]
        )
        #expect(
            feeds("  f:\n    file: data/users.csv\n    when_exhausted: stop", step: "GET /${f.name}")
                == ["11:5: error: \"when_exhausted\" applies to order: unique only"]
        )
        #expect(
            feeds("  f:\n    file: data/users.csv\n    order: unique\n    when_exhausted: loop", step: "GET /${f.name}")
                == ["12:21: error: \"when_exhausted\" must be stop or recycle, got \"loop\""]
        )
    }

    @Test func feedFieldsMustNameADeclaredFeedAndAnExistingColumn() {
        let all = diagnostics(
            planWithSteps(
                "      - request: GET /${users.nmae}/${user.email}/${ids.id}",
                extra: "feeds:\n  users:\n    file: data/users.csv\n  ids:\n    file: nope.json"
            )
        )
        #expect(
            all.map(short) == [
                "7:23: error: feed \"users\" has no column \"nmae\"",
                "7:37: error: feed \"user\" is not defined",
                "12:11: error: feed file \"nope.json\" does not exist",
            ]
        )
        #expect(all.map(\.hint).prefix(2) == ["did you mean \"name\"?", "did you mean \"users\"?"])
    }

    @Test func anUnusedFeedIsAWarning() throws {
        let loaded = try load(
            planWithSteps("      - request: GET /", extra: "feeds:\n  users:\n    file: data/users.csv")
        )
        #expect(loaded.warnings.map(short) == ["9:3: warning: feed \"users\" is never used"])
        #expect(loaded.feeds["users"]?.rows.count == 2)
    }
}
