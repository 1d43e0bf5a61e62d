import Testing
import VolleyCore
import VolleyPlan

/// Literal URLs and headers that could not be sent as written, and sizes one process cannot
/// hold, are refused when the plan is validated, with their position and a hint, instead of
/// failing (or skipping in a busy loop, or growing without bound) during the run.
@Suite struct SendabilityErrorTests {
    @Test func unsendableLiteralURLsAreRefusedWhereTheyAreWritten() {
        let yaml = planWithSteps(
            """
                  - request: GET http://127.0.0.1:99999/x
                  - request: GET http://127.0.0.1:0/x
                  - request: GET http:///x
                  - request: GET http://[::1/x
                  - request: GET /x%zz
                  - request: "GET /x\\r\\nX-Injected: 1"
                  - request: GET ${HOST}/x
            """
        )
        let all = diagnostics(yaml, environment: ["HOST": "http://example.com:70000"])
        #expect(
            all.map(short) == [
                "7:22: error: invalid port \"99999\" in \"http://127.0.0.1:99999/x\"",
                "8:22: error: invalid port \"0\" in \"http://127.0.0.1:0/x\"",
                "9:22: error: URL \"http:///x\" has no host",
                "10:22: error: unclosed IPv6 bracket in \"http://[::1/x\"",
                "11:22: error: URL \"/x%zz\" has an invalid percent-escape at byte 3",
                "12:23: error: URL \"/x\\r\\nX-Injected: 1\" contains a carriage return (\\r) at byte 3",
                "13:22: error: invalid port \"70000\" in \"http://example.com:70000/x\"",
            ]
        )
        #expect(all.allSatisfy { $0.hint != nil })
    }

    @Test func headerValuesWithLineBreaksAreRefused() {
        let yaml = planWithSteps(
            """
                  - request: GET /x
                    headers:
                      X-Ok: "a ${vu}"
                      X-Bad: "a\\r\\nX-Injected: 1"
                      X-Nul: "a\\0b"
            """,
            extra: """
                defaults:
                  headers:
                    X-Default: "v\\nX-Injected: 1"
                """
        )
        #expect(
            problems(yaml) == [
                "10:18: error: the value of header \"X-Bad\" contains a carriage return (\\r) at byte 2",
                "11:18: error: the value of header \"X-Nul\" contains a NUL byte (\\0) at byte 2",
                "14:16: error: the value of header \"X-Default\" contains a line feed (\\n) at byte 2",
            ]
        )
    }

    /// `start_vus: 9223372036854775807` validated and grew the process to 2 GB in 12 s.
    @Test func vuCountsBeyondOneProcessAreRefusedWithAHint() {
        let yaml = """
            base_url: http://127.0.0.1:8080
            scenarios:
              ramp:
                executor: ramping-vus
                start_vus: 9223372036854775807
                stages: [{ duration: 1s, target: 100001 }]
              many:
                executor: constant-vus
                vus: 1000000
                duration: 3s
                steps: [{ request: GET / }]
              arrivals:
                executor: constant-arrival-rate
                rate: 10
                duration: 1s
                pre_allocated_vus: 100001
                steps: [{ request: GET / }]
            """
        let all = diagnostics(yaml)
        #expect(
            all.map(short).filter { $0.contains("VUs") } == [
                "5:16: error: \"start_vus\" is 9223372036854775807, more than one process holds (at most 100000 VUs)",
                "6:38: error: \"target\" is 100001, more than one process holds (at most 100000 VUs)",
                "9:10: error: \"vus\" is 1000000, more than one process holds (at most 100000 VUs)",
                "16:24: error: \"pre_allocated_vus\" is 100001, more than one process holds (at most 100000 VUs)",
            ]
        )
        #expect(all.filter { $0.message.contains("VUs") }.allSatisfy { $0.hint?.contains("distributed runs") == true })
    }

    @Test func scenariosTogetherMayNotExceedOneProcess() {
        let yaml = """
            base_url: http://127.0.0.1:8080
            scenarios:
              a:
                executor: constant-vus
                vus: 60000
                duration: 3s
                steps: [{ request: GET / }]
              b:
                executor: constant-arrival-rate
                rate: 10
                duration: 1s
                pre_allocated_vus: 10
                max_vus: 50000
                steps: [{ request: GET / }]
            """
        #expect(
            problems(yaml) == [
                "2:1: error: the scenarios use 110000 VUs together, more than one process holds (100000)"
            ]
        )
    }
}
