import Testing
import VolleyCore
import VolleyPlan

/// Requests, bodies, checks and captures: each mistake with its message and position.
@Suite struct StepErrorTests {
    @Test func methodsAndURLs() {
        let yaml = planWithSteps(
            """
                  - request: GTE /todos
                  - request: get /todos
                  - request: FETCH /todos
                  - request: GET
                  - request: GET todos
                  - request: GET /a b
            """
        )
        let all = diagnostics(yaml)
        #expect(
            all.map(short) == [
                "7:18: error: invalid method \"GTE\"",
                "8:18: error: invalid method \"get\"",
                "9:18: error: invalid method \"FETCH\"",
                "10:18: error: request \"GET\" has no URL",
                "11:22: error: request URL \"todos\" must start with / or http(s)://",
                "12:22: error: request URL \"/a b\" contains a space",
            ]
        )
        #expect(
            all.map(\.hint).prefix(3) == [
                "did you mean \"GET\"?", "did you mean \"GET\"?",
                "methods are GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, TRACE",
            ]
        )
    }

    @Test func aPathNeedsABaseURL() {
        let yaml = """
            scenarios:
              s:
                executor: constant-vus
                duration: 1s
                steps:
                  - request: GET /todos
                  - request: GET https://example.com/todos
                  - request: GET ${URL:-http://example.com}/x
            """
        #expect(problems(yaml) == ["6:22: error: request path \"/todos\" needs a base_url"])
        #expect(problems("base_url: ftp://x\n" + yaml).first == "1:11: error: unsupported URL scheme in \"ftp://x\"")
    }

    @Test func bodies() {
        let yaml = planWithSteps(
            """
                  - request: POST /a
                    json: { a: 1 }
                    form: { b: 2 }
                  - request: POST /b
                    json: { a: 1 }
                    content_type: text/plain
                  - request: POST /c
                    body_file: missing.bin
                  - request: POST /d
                    body: { a: 1 }
            """
        )
        #expect(
            problems(yaml) == [
                "9:9: error: \"json\" and \"form\" cannot be combined",
                "12:9: error: \"content_type\" applies to body and body_file only",
                "14:20: error: body_file \"missing.bin\" cannot be read: No such file or directory",
                "16:15: error: \"body\" must be text, got a map",
            ]
        )
    }

    @Test func checks() {
        let yaml = planWithSteps(
            """
                  - request: GET /
                    check:
                      status: [200, 2000]
                      json: { "id": 1, "$.a[x]": 2 }
                      json_exists: [$.ok, $..deep]
                      body_matches: "a(b"
                      latency_below: fast
                      abort_on_fail: maybe
                      header_exists: [[X]]
                      staus: 200
            """
        )
        let all = diagnostics(yaml)
        #expect(
            all.map(short) == [
                "9:25: error: invalid status 2000",
                "10:19: error: JSON path \"id\" must start with $",
                "10:28: error: invalid JSON path \"$.a[x]\": \"[x]\" is neither an index nor a quoted key",
                "11:31: error: invalid JSON path \"$..deep\": empty or wildcard key after \".\"",
                "12:25: error: invalid regex \"a(b\": expected ')'",
                "13:26: error: invalid duration \"fast\"",
                "14:26: error: \"abort_on_fail\" must be true or false, got \"maybe\"",
                "15:27: error: \"header_exists\" must be text, got a list",
                "16:11: error: unknown key \"staus\"",
            ]
        )
        #expect(all.last?.hint == "did you mean \"status\"?")
    }

    @Test func captures() {
        let yaml = planWithSteps(
            """
                  - request: GET /
                    capture:
                      a: jsn $.id
                      b: json
                      c: regex (unclosed
                      my-id: json $.id
                      vu: json $.id
                      d: { regex: "x(y)", json: $.x }
                      e: { header: Location, group: 2 }
                      f: xpath //id
            """
        )
        let all = diagnostics(yaml)
        #expect(
            all.map(short) == [
                "9:14: error: invalid capture \"jsn $.id\"",
                "10:14: error: capture \"b\" has no path",
                "11:14: error: invalid regex \"(unclosed\": expected ')'",
                "12:11: error: invalid capture name \"my-id\"",
                "13:11: error: invalid capture name \"vu\"",
                "14:14: error: a capture takes one of json, regex or header",
                "15:34: error: \"group\" applies to regex captures only",
                "16:14: error: invalid capture \"xpath //id\"",
            ]
        )
        #expect(all.first?.hint == "did you mean \"json\"?")
        #expect(all.last?.hint == "write \"json $.path\", \"regex <pattern>\" or \"header <Name>\"")
    }

    @Test func thinkTimes() {
        let yaml = planWithSteps(
            """
                  - request: GET /
                  - think: 10s..5s
                  - think: 5
                  - think: 1s..2s..3s
                  - think: 2s
                    name: pause
            """
        )
        #expect(
            problems(yaml) == [
                "8:16: error: think range \"10s..5s\" goes backwards",
                "9:16: error: duration \"5\" has no unit",
                "10:16: error: invalid think time \"1s..2s..3s\"",
                "12:9: error: unknown key \"name\"",
            ]
        )
    }
}
