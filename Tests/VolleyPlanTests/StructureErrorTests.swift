import Testing
import VolleyCore
import VolleyPlan

/// Problems with the shape of a plan: keys, types, sections, YAML itself. Each asserts the
/// exact message and where it points.
@Suite struct StructureErrorTests {
    @Test func unknownKeysSuggestTheClosestOne() {
        let yaml = planWithSteps(
            """
                  - request: GET /todos
                    captrue:
                      id: json $.id
            """,
            extra: "threshold: []"
        )
        let all = diagnostics(yaml)
        #expect(all.map(short) == ["8:9: error: unknown key \"captrue\"", "10:1: error: unknown key \"threshold\""])
        #expect(all.first?.hint == "did you mean \"capture\"?")
        #expect(all.last?.hint == "did you mean \"thresholds\"?")
        #expect(
            all.first?.description
                == "plan.yaml:8:9: error: unknown key \"captrue\"\n    hint: did you mean \"capture\"?"
        )
    }

    @Test func anUnknownKeyWithNothingCloseListsTheKeys() {
        let all = diagnostics("scenarios: {}\nbananas: 3\n")
        #expect(all.map(short) == ["1:1: error: the plan has no scenarios", "2:1: error: unknown key \"bananas\""])
        #expect(
            all.last?.hint == "a plan takes "
                + "name, base_url, defaults, variables, feeds, setup, teardown, thresholds, scenarios, probes"
        )
    }

    @Test func emptyFilesAndNonMapsAreRefused() {
        #expect(problems("") == ["1:1: error: the plan is empty"])
        #expect(problems("# only a comment\n") == ["1:1: error: the plan is empty"])
        #expect(problems("- a\n- b\n") == ["1:1: error: a plan must be a map of keys such as scenarios:, got a list"])
        #expect(
            problems("just text") == ["1:1: error: a plan must be a map of keys such as scenarios:, got \"just text\""]
        )
        #expect(problems("base_url: http://x\n") == ["1:1: error: the plan has no scenarios"])
    }

    @Test func invalidYAMLIsReportedWithItsPosition() {
        let tabs = diagnostics("scenarios:\n\ts: 1\n")
        #expect(tabs.map(short) == ["2:1: error: invalid YAML: found character that cannot start any token"])
        #expect(tabs.first?.hint == "indent with spaces: YAML does not allow tabs for indentation")
        #expect(problems("a: \"open\nb: 1\n") == ["3:1: error: invalid YAML: found unexpected end of stream"])
        #expect(problems("a: 1\n---\nb: 2\n") == ["2:1: error: the file holds more than one YAML document"])
        #expect(problems("a: *nowhere\n") == ["1:4: error: invalid YAML: found undefined alias"])
    }

    @Test func duplicateKeysAreAllReportedAlongWithOtherProblems() {
        let yaml = """
            base_url: http://127.0.0.1:8080
            scenarios:
              s:
                executor: constant-vus
                duration: 1s
                vus: 2
                duration: 2s
                steps:
                  - request: GET /
                    check: { status: 200, status: 201 }
                  - think: 1x
            base_url: http://other
            """
        let all = diagnostics(yaml)
        #expect(
            all.map(short) == [
                "7:5: error: duplicate key \"duration\"",
                "10:31: error: duplicate key \"status\"",
                "11:16: error: unknown unit \"x\" in duration \"1x\"",
                "12:1: error: duplicate key \"base_url\"",
            ]
        )
        #expect(all.first?.hint == "\"duration\" is already set at line 5, column 5; a map keeps one value per key")
    }

    @Test func wrongTypesNameWhatWasFound() {
        let yaml = """
            base_url: http://127.0.0.1:8080
            defaults: [1, 2]
            variables: text
            scenarios:
              s:
                executor: constant-vus
                vus: abc
                duration: { a: 1 }
                steps:
                  - GET /
                  - request: [GET, /]
                  - request: GET /
                    headers: [Accept]
                    check: 200
            """
        #expect(
            problems(yaml) == [
                "2:11: error: \"defaults\" must be a map, got a list",
                "3:12: error: \"variables\" must be a map, got \"text\"",
                "7:10: error: \"vus\" must be a whole number, got \"abc\"",
                "8:15: error: \"duration\" must be a duration such as 30s, got a map",
                "10:9: error: a step must be a map, got \"GET /\"",
                "11:18: error: \"request\" must be a method and a URL, got a list",
                "13:18: error: \"headers\" must be a map, got a list",
                "14:16: error: \"check\" must be a map, got 200",
            ]
        )
    }

    @Test func stepsNeedAKind() {
        let yaml = planWithSteps(
            """
                  - reqest: GET /
                  - name: lonely
                  - request: GET /
                    think: 1s
            """
        )
        let all = diagnostics(yaml)
        #expect(
            all.map(short) == [
                "7:9: error: unknown key \"reqest\"",
                "8:9: error: a step needs \"request\", \"think\" or \"group\"",
                "10:9: error: a step is one of \"request\", \"think\" or \"group\", this one has both \"request\" and \"think\"",
            ]
        )
        #expect(all.first?.hint == "did you mean \"request\"?")
    }

    @Test func scenariosNeedStepsAndAKnownExecutor() {
        let yaml = """
            base_url: http://127.0.0.1:8080
            scenarios:
              a:
                executor: ramping-vu
                steps: []
              b:
                duration: 1s
                steps:
                  - request: GET /
              c:
                executor: constant-vus
                duration: 1s
              d:
                executor: constant-vus
                duration: 1s
                steps:
                  - group: empty
                    steps: []
            """
        let all = diagnostics(yaml)
        #expect(
            all.map(short) == [
                "4:15: error: unknown executor \"ramping-vu\"",
                "5:12: error: scenario \"a\" has no steps",
                "6:3: error: scenario \"b\" has no executor",
                "10:3: error: scenario \"c\" has no steps",
                "18:16: error: group \"empty\" has no steps",
            ]
        )
        #expect(all.first?.hint == "did you mean \"ramping-vus\"?")
    }

    @Test func templateSyntaxErrorsPointAtTheColumn() {
        let yaml = planWithSteps(
            """
                  - request: GET /todos/${id
                  - request: GET /x/${}
                  - request: GET /y
                    headers: { X-A: "a ${randomInt(5)}" }
                  - request: GET /z/${bad-name}
            """
        )
        #expect(
            problems(yaml) == [
                "7:29: error: unclosed \"${\"",
                "8:25: error: empty \"${}\"",
                "10:28: error: randomInt() takes 2 arguments, got 1",
                "11:25: error: invalid name \"bad-name\" in \"${bad-name}\"",
            ]
        )
    }

    @Test func fiveMistakesGiveFiveDiagnostics() throws {
        let path = Fixtures.path("five-mistakes.yaml")
        do {
            _ = try PlanLoader.load(path: path, environment: [:])
            Issue.record("loaded")
        } catch {
            #expect(
                error.diagnostics.map(short) == [
                    "6:10: error: \"vus\" must be at least 1, got -3",
                    "7:15: error: duration \"30\" has no unit",
                    "10:9: error: unknown key \"captrue\"",
                    "12:32: error: ${id} is not defined",
                    "14:15: error: unknown executor \"shared-iteration\"",
                ]
            )
            #expect(error.diagnostics.allSatisfy { $0.location?.file == path && $0.hint != nil })
            #expect(error.description.hasPrefix("\(path):6:10: error: \"vus\" must be at least 1, got -3\n"))
        }
    }

    @Test func aMissingPlanFileIsOneErrorWithoutLocation() {
        do {
            _ = try PlanLoader.load(path: "/nonexistent/plan.yaml", environment: [:])
            Issue.record("loaded")
        } catch {
            #expect(
                error.diagnostics.map(\.description) == [
                    "error: no plan file at \"/nonexistent/plan.yaml\"\n    hint: volley init /nonexistent/plan.yaml writes an example plan"
                ]
            )
        }
    }
}
