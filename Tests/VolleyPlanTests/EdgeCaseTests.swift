import Testing
import VolleyCore
import VolleyPlan

/// YAML corners and limits: merge keys, repeated duplicates, CRLF, block scalars, numbers
/// too large for Core's types.
@Suite struct EdgeCaseTests {
    @Test func mergeKeysBringInAnchoredMaps() throws {
        let yaml = """
            base_url: http://127.0.0.1:8080
            scenarios:
              a: &base
                executor: constant-vus
                duration: 1s
                steps:
                  - request: GET /a
              b:
                <<: *base
                duration: 2s
            """
        let plan = try load(yaml).plan
        #expect(
            plan.scenarios.map(\.executor) == [
                .constantVUs(vus: 1, duration: .seconds(1)), .constantVUs(vus: 1, duration: .seconds(2)),
            ]
        )
        #expect(
            problems("a: &x 1\nscenarios:\n  s:\n    <<: *x\n").contains(
                "4:5: error: \"<<\" must be a map or a list of maps, got 1"
            )
        )
    }

    @Test func aKeyRepeatedThreeTimesIsReportedTwice() {
        let all = problems("scenarios: {}\nname: a\nname: b\nname: c\n")
        #expect(
            all == [
                "1:1: error: the plan has no scenarios",
                "3:1: error: duplicate key \"name\"",
                "4:1: error: duplicate key \"name\"",
            ]
        )
        #expect(problems("scenarios: {}\n'name': a\nname: b\n").last == "3:1: error: duplicate key \"name\"")
        #expect(problems("a: {x: 1, y: 2, x: 3}\nscenarios: {}").contains("1:17: error: duplicate key \"x\""))
    }

    @Test func crlfLineEndingsKeepLocations() {
        let yaml =
            "base_url: http://127.0.0.1:8080\r\nscenarios:\r\n  s:\r\n    executor: constant-vus\r\n    duration: 1x\r\n"
        #expect(
            problems(yaml) == [
                "3:3: error: scenario \"s\" has no steps", "5:15: error: unknown unit \"x\" in duration \"1x\"",
            ]
        )
    }

    @Test func templatesInLiteralBlocksPointAtTheirLine() {
        let yaml = planWithSteps(
            """
                  - request: POST /notes
                    body: |
                      first line
                      id=${nope}
            """
        )
        #expect(problems(yaml) == ["10:14: error: ${nope} is not defined"])
    }

    @Test func theMethodMayComeFromTheEnvironment() throws {
        let yaml = planWithSteps("      - request: ${METHOD:-GET} /x")
        guard case .request(let request)? = try load(yaml).plan.scenarios.first?.steps.first else {
            Issue.record("no request")
            return
        }
        #expect(request.method == "GET")
        #expect(request.name == "GET /x")
        #expect(problems(yaml, environment: ["METHOD": "YEET"]) == ["7:18: error: invalid method \"YEET\""])
    }

    @Test func filePathsAreResolvedAgainstThePlanDirectoryAndStoredAbsolute() throws {
        let yaml = """
            base_url: http://127.0.0.1:8080
            feeds: { users: { file: ../data/users.csv } }
            scenarios:
              s:
                executor: constant-vus
                duration: 1s
                steps:
                  - request: POST /${users.name}
                    body_file: ./../body.txt
            """
        let plan = try PlanLoader.load(
            yaml: yaml,
            file: "plan.yaml",
            baseDirectory: Fixtures.directory + "/data",
            environment: [:]
        ).plan
        #expect(plan.feeds.map(\.path) == [Fixtures.path("data/users.csv")])
        guard case .request(let request)? = plan.scenarios.first?.steps.first else {
            Issue.record("no request")
            return
        }
        #expect(request.body == .file(path: Fixtures.path("body.txt"), contentType: nil))
    }

    @Test func valuesTooLargeForCoreAreErrorsNotCrashes() {
        let keys =
            "base_url: http://x\nscenarios:\n  s:\n    executor: constant-arrival-rate\n    pre_allocated_vus: 1\n"
        let steps = "    steps: [{ request: GET / }]\n"
        #expect(
            problems(keys + "    rate: 1\n    duration: 99999999999999h\n" + steps)
                == ["7:15: error: duration \"99999999999999h\" is too long"]
        )
        #expect(
            problems(keys + "    rate: 1/99999999999999999999h\n    duration: 1s\n" + steps)
                == ["6:11: error: invalid rate period in \"1/99999999999999999999h\""]
        )
        #expect(
            problems(keys + "    rate: 1e300\n    duration: 1s\n" + steps) == [
                "6:11: error: rate \"1e300\" is more than 10,000,000 per second"
            ]
        )
        #expect(
            problems(keys + "    rate: 1\n    duration: 1s\n    max_vus: 99999999999999999999999\n" + steps)
                == ["8:14: error: \"max_vus\" must be a whole number, got \"99999999999999999999999\""]
        )
        let threshold = planWithSteps(
            "      - request: GET /",
            extra: "thresholds: [\"p(95) < \(String(repeating: "9", count: 400))s\"]"
        )
        #expect(problems(threshold).first?.hasSuffix("is too long") == true)
    }
}
