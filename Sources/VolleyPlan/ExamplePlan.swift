/// The commented example plan that `volley init` writes: a tour of the format that is valid
/// as written (the tests load it), so a new plan starts from something that works.
public enum ExamplePlan {
    /// The plan text, comments included; it targets `${ENDPOINT:-http://127.0.0.1:8080}`.
    public static let yaml = #"""
        # A Volley load-test plan. Check it with:  volley validate volley-plan.yaml
        # The format: docs/plan-format.md (editors can use docs/plan.schema.json).
        #
        # ${NAME} anywhere comes from the environment, or from -e NAME=value on the command
        # line; ${NAME:-default} falls back to the default, so this plan works as it is
        # against a local server and scales up without edits:
        #   volley validate volley-plan.yaml -e ENDPOINT=https://staging.example.com -e READERS=500

        name: todo-api
        base_url: ${ENDPOINT:-http://127.0.0.1:8080}

        defaults:                           # every request inherits these
          headers:
            Accept: application/json
            User-Agent: volley (vu ${vu})   # ${vu} is the VU number, ${iteration} its iteration
          timeout: 10s
          max_redirects: 5
          cookies: true                     # one cookie jar per VU, as a browser keeps
          compression: true                 # Accept-Encoding: gzip, deflate, br; checks read bodies decoded
          http: ${HTTP:-1.1}                # or 2 (HTTP/2 over TLS, https://), h2c (HTTP/2 cleartext, http://)

        variables:                          # ${title} in any step, set when each VU starts
          title: Write report ${randomInt(1, 1000)}   # also ${uuid()}, ${randomString(8)}, ${now()}

        # feeds:                            # rows of test data, read as ${users.email}
        #   users:
        #     file: users.csv               # relative to this file: .csv with a header row,
        #     order: random                 # or .json (an array of objects);
        #                                   # order: sequential (default), random or unique

        setup:                              # runs once before the load;
          - request: POST /api/v1/login     # its captures are visible to every VU
            name: login
            json: { user: "${API_USER:-demo}", password: "${API_PASSWORD:-demo}" }
            check: { status: 200 }
            capture:
              token: json $.token           # or "regex <pattern>", or "header <Name>"

        thresholds:                         # pass/fail criteria for the run
          - "p(95) < 500ms"                 # also avg, max, med
          - "error_rate < 1%"
          - "checks > 99%"
          - threshold: "p(99) < 1s"         # one request only
            request: GET /api/v1/todos
            abort_on_fail: false            # true: stop the run as soon as it fails

        scenarios:                          # all scenarios run at the same time
          readers:                          # closed model: VUs loop through the steps
            executor: ramping-vus           # also constant-vus, shared-iterations, per-vu-iterations
            start_vus: 0
            stages:
              - { duration: "${RAMP:-10s}", target: "${READERS:-20}" }
              - { duration: "${HOLD:-30s}", target: "${READERS:-20}" }
              - { duration: 10s, target: 0 }
            graceful_ramp_down: 5s
            steps:
              - request: GET /api/v1/todos
                headers: { Authorization: "Bearer ${token}" }
                query: { limit: "10" }
                check:
                  status: 200
                  header_contains: { Content-Type: json }
                  latency_below: 1s
              - think: 1s..3s               # a pause, uniformly random between the bounds

          writers:                          # open model: iterations start at a set rate
            executor: constant-arrival-rate # also ramping-arrival-rate
            rate: ${WRITE_RATE:-5/s}
            duration: ${DURATION:-50s}
            pre_allocated_vus: 10
            max_vus: 50
            start_after: 5s
            steps:
              - group: create and delete    # reported as one timing too
                steps:
                  - request: POST /api/v1/todos
                    name: create todo       # how the request is reported (default: METHOD url)
                    headers: { Authorization: "Bearer ${token}" }
                    json: { title: "${title}", completed: false }   # or form:, body:, body_file:
                    check:
                      - status: 201
                        json_exists: $.id
                        abort_on_fail: true # no id: end this iteration here
                      - json: { "$.title": "${title}" }
                        body_matches: '"id":\s*\d+'
                    capture:
                      id: json $.id
                  - think: 500ms
                  - request: DELETE /api/v1/todos/${id}
                    name: DELETE /api/v1/todos/{id}
                    headers: { Authorization: "Bearer ${token}" }
                    check: { status: [200, 204] }

        """#
}
