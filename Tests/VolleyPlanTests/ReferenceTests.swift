import Testing
import VolleyCore
import VolleyPlan

/// `${...}` against what defines it: variables, captures in step order, setup, built-ins,
/// the environment, feeds; and environment values written in when the plan is loaded.
@Suite struct ReferenceTests {
    @Test func aCaptureUsedBeforeItsStepIsAnErrorNamingWhereItIsCaptured() {
        let yaml = planWithSteps(
            """
                  - request: DELETE /todos/${id}
                  - request: POST /todos
                    capture:
                      id: json $.id
                  - request: GET /todos/${id}
            """
        )
        let all = diagnostics(yaml)
        #expect(all.map(short) == ["7:32: error: ${id} is used before any step captures it"])
        #expect(
            all.first?.hint
                == "\"id\" is captured at plan.yaml:10:11 (scenario \"s\"); a capture is visible to the later steps "
                + "of its scenario, and to every scenario when captured in setup"
        )
    }

    @Test func aBrokenStepStillDefinesItsCaptures() {
        let yaml = planWithSteps(
            """
                  - request: GTE /todos
                    capture: { id: jsn $.id }
                  - request: GET /todos/${id}
            """
        )
        #expect(problems(yaml) == ["7:18: error: invalid method \"GTE\"", "8:24: error: invalid capture \"jsn $.id\""])
    }

    @Test func aCaptureOfAnotherScenarioIsNotVisible() {
        let yaml = """
            base_url: http://127.0.0.1:8080
            scenarios:
              a:
                executor: constant-vus
                duration: 1s
                steps:
                  - request: POST /todos
                    capture: { id: json $.id }
              b:
                executor: constant-vus
                duration: 1s
                steps:
                  - request: GET /todos/${id}
            """
        #expect(problems(yaml) == ["13:29: error: ${id} is used before any step captures it"])
    }

    @Test func setupCapturesAreVisibleEverywhereAndDefaultsAllowedWithAFallback() throws {
        let yaml = """
            base_url: http://127.0.0.1:8080
            setup:
              - request: POST /login
                capture: { token: json $.token }
            teardown:
              - request: POST /logout
                headers: { Authorization: "Bearer ${token}" }
            scenarios:
              s:
                executor: constant-vus
                duration: 1s
                steps:
                  - request: GET /todos/${id:-0}
                    headers: { Authorization: "Bearer ${token}", X-VU: "${vu}-${iteration}" }
                  - request: POST /todos
                    capture: { id: json $.id }
                  - request: GET /todos/${id}
            """
        #expect(try load(yaml).warnings.isEmpty)
    }

    @Test func undefinedNamesSuggestKnownOnes() {
        let yaml = planWithSteps(
            """
                  - request: POST /todos
                    json: { title: "${titel}", owner: "${nobody}" }
            """,
            extra: "variables:\n  title: x"
        )
        let all = diagnostics(yaml)
        #expect(all.map(short) == ["8:25: error: ${titel} is not defined", "8:44: error: ${nobody} is not defined"])
        #expect(all.first?.hint == "did you mean ${title}?")
        #expect(
            all.last?.hint
                == "define it under variables:, capture it in an earlier step, pass -e nobody=value, "
                + "or give a default: ${nobody:-value}"
        )
    }

    @Test func unusedCapturesAreWarnings() throws {
        let loaded = try load(
            planWithSteps(
                """
                      - request: POST /todos
                        capture:
                          id: json $.id
                """
            )
        )
        #expect(loaded.warnings.map(short) == ["9:11: warning: capture \"id\" is never used"])
        #expect(loaded.warnings.first?.hint == "use it as ${id} in a later step, or remove it")
    }

    @Test func planVariablesMayOnlyUseTheEnvironmentBuiltInsAndFunctions() {
        let yaml = planWithSteps(
            """
                  - request: POST /todos
                    json: { a: "${a}", b: "${b}", c: "${c}" }
                    capture: { id: json $.id }
            """,
            extra: "variables:\n  a: user-${vu}-${uuid()}-${HOME_DIR:-x}\n  b: ${a}\n  c: ${id}/${f.x}"
        )
        #expect(
            problems(yaml) == [
                "12:6: error: plan variable \"b\" cannot use ${a}",
                "13:6: error: plan variable \"c\" cannot use ${id}",
                "13:12: error: plan variable \"c\" cannot use ${f.x}",
            ]
        )
    }

    @Test func environmentValuesAreWrittenIntoTemplatesButNotOverPlanNames() throws {
        let yaml = """
            base_url: ${HOST:-http://127.0.0.1:8080}
            variables:
              title: ${TITLE:-untitled} by ${vu}
            scenarios:
              s:
                executor: constant-vus
                duration: 1s
                steps:
                  - request: POST /todos/${TENANT}
                    headers: { X-Title: "${title}", X-Token: "${TOKEN:-none}" }
                    json: { t: "${TENANT}" }
                    capture: { id: json $.id }
                  - request: DELETE /todos/${id}
            """
        let environment = ["HOST": "http://h:1", "TITLE": "Report", "TENANT": "acme", "title": "env", "id": "env"]
        let plan = try load(yaml, environment: environment).plan
        #expect(plan.baseURL == "http://h:1")
        #expect(plan.variables["title"]?.parts == [.literal("Report by "), .variable(name: "vu", fallback: nil)])
        guard case .request(let request)? = plan.scenarios.first?.steps.first else {
            Issue.record("no request")
            return
        }
        #expect(request.url.parts == [.literal("/todos/acme")])
        #expect(request.url.source == "/todos/${TENANT}")
        #expect(request.name == "POST /todos/${TENANT}")
        #expect(
            request.headers.map(\.value.parts) == [
                [.variable(name: "title", fallback: nil)], [.variable(name: "TOKEN", fallback: "none")],
            ]
        )
        #expect(
            request.body == .json(.object([("t", .string(Template(parts: [.literal("acme")], source: "${TENANT}")))]))
        )
        guard case .request(let delete)? = plan.scenarios.first?.steps.last else {
            Issue.record("no second request")
            return
        }
        #expect(delete.url.parts == [.literal("/todos/"), .variable(name: "id", fallback: nil)])
    }

    @Test func aMissingEnvironmentVariableWithoutDefaultIsUndefined() {
        let yaml = planWithSteps("      - request: GET /${TENANT}")
        #expect(problems(yaml) == ["7:23: error: ${TENANT} is not defined"])
        #expect(problems(yaml, environment: ["TENANT": "a"]).isEmpty)
    }
}
