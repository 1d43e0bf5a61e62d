import Testing
import VolleyCore
import VolleyPlan

/// `http:` in defaults and on request steps: the values, and URLs whose scheme cannot carry
/// the HTTP asked for, caught when the plan is read.
@Suite struct PlanHTTPTests {
    private func steps(_ plan: Plan) -> [RequestStep] {
        plan.scenarios[0].steps.compactMap {
            if case .request(let r) = $0 { return r }
            return nil
        }
    }

    @Test func defaultsAndStepsSayWhichHTTP() throws {
        let loaded = try load(
            """
            base_url: http://127.0.0.1:8080
            defaults:
              http: h2c
            scenarios:
              s:
                executor: constant-vus
                duration: 1s
                steps:
                  - request: GET /a
                  - request: GET /b
                    http: 1.1
                  - request: GET https://127.0.0.1:8443/c
                    http: 2
                  - request: GET https://127.0.0.1:8443/d
                    http: h2
            """
        )
        #expect(loaded.plan.defaults.http == .h2c)
        #expect(steps(loaded.plan).map(\.http) == [nil, .http1, .http2, .http2])
        #expect(try load(planWithSteps("      - request: GET /")).plan.defaults.http == .http1)
    }

    @Test func http1FallbackIsADefaultThatIsOffUnlessSaid() throws {
        let on = try load(
            """
            base_url: https://127.0.0.1:8443
            defaults:
              http: 2
              http1_fallback: true
            scenarios:
              s:
                executor: constant-vus
                duration: 1s
                steps:
                  - request: GET /
            """
        )
        #expect(on.plan.defaults.http1Fallback)
        #expect(try !load(planWithSteps("      - request: GET /")).plan.defaults.http1Fallback)
        let wrong = diagnostics(
            """
            base_url: https://127.0.0.1:8443
            defaults:
              http1_fallback: sometimes
            scenarios:
              s:
                executor: constant-vus
                duration: 1s
                steps:
                  - request: GET /
            """
        )
        #expect(wrong.map(short).first?.hasPrefix("3:19: error:") == true, "\(wrong.map(short))")
    }

    @Test func anUnknownValueIsRefusedWithTheChoices() {
        let found = diagnostics(planWithSteps("      - request: GET /\n        http: 3"))
        #expect(found.map(short) == ["8:15: error: invalid http \"3\""])
        #expect(found.first?.hint?.contains("h2c (HTTP/2 over cleartext") == true)
    }

    @Test func aSchemeThatCannotCarryTheHTTPIsCaughtWhereItIsWritten() {
        // defaults http: 2 (TLS) with an http:// base URL: the request that would fail.
        let tlsOnCleartext = problems(
            """
            base_url: http://127.0.0.1:8080
            defaults:
              http: 2
            scenarios:
              s:
                executor: constant-vus
                duration: 1s
                steps:
                  - request: GET /a
                  - request: GET https://127.0.0.1:8443/b
            """
        )
        #expect(
            tlsOnCleartext == [
                "9:18: error: defaults: http: 2 is HTTP/2 over TLS, but this request goes to an http:// URL"
            ]
        )
        // h2c on a step whose URL is https.
        let cleartextOnTLS = problems(planWithSteps("      - request: GET https://127.0.0.1:8443/\n        http: h2c"))
        #expect(
            cleartextOnTLS == [
                "8:15: error: http: h2c is HTTP/2 over cleartext, but this request goes to an https:// URL"
            ]
        )
        // A URL known only at run time (a variable, a capture, a feed) is checked per request.
        let late = planWithSteps(
            "      - request: GET ${target}/x\n        http: 2",
            extra: "variables:\n  target: http://h"
        )
        #expect(problems(late).isEmpty)
    }

    @Test func theEnvironmentCanChooseTheHTTP() throws {
        let yaml = planWithSteps("      - request: GET /").replacingOccurrences(
            of: "scenarios:",
            with: "defaults:\n  http: ${HTTP:-1.1}\nscenarios:"
        )
        #expect(try load(yaml).plan.defaults.http == .http1)
        #expect(try load(yaml, environment: ["HTTP": "h2c"]).plan.defaults.http == .h2c)
    }
}
