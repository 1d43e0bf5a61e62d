import Testing
import VolleyCore
import VolleyPlan

@Suite struct PhaseThresholdTests {
    private static let ms: UInt64 = 1_000_000

    private func thresholds(_ items: String) -> [String] {
        problems(planWithSteps("      - request: GET /todos", extra: "thresholds:\n" + items))
    }

    private func plan(_ items: String) throws -> Plan {
        try load(
            planWithSteps(
                "      - request: GET /todos\n      - request: GET /slow",
                extra: "thresholds:\n" + items
            )
        ).plan
    }

    @Test func parsesEveryPhaseByEveryName() throws {
        let p = try plan(
            """
              - "p(95) of ttfb < 200ms"
              - "p(99) of connect < 50ms"
              - "avg of tls < 20ms"
              - "max of receive < 1s"
              - "med of dns <= 5ms"
              - "p(99.9) of http_req_waiting < 300ms"
              - "mean of tls_handshaking < 20ms"
              - "p(90)  of  Sending < 1ms"
              - "max of http_req_receiving >= 0ms"
              - { threshold: "p(95) of wait < 100ms", request: GET /slow }
            """
        )
        #expect(
            p.thresholds.map(\.metric) == [
                .phase(.wait, .percentile(95)),
                .phase(.connect, .percentile(99)),
                .phase(.tls, .mean),
                .phase(.receive, .max),
                .phase(.dns, .percentile(50)),
                .phase(.wait, .percentile(99.9)),
                .phase(.tls, .mean),
                .phase(.send, .percentile(90)),
                .phase(.receive, .max),
                .phase(.wait, .percentile(95)),
            ]
        )
        #expect(p.thresholds.map(\.value) == [200, 50, 20, 1000, 5, 300, 20, 1, 0, 100])
        #expect(p.thresholds.last?.requestName == "GET /slow")
    }

    @Test func badPhaseThresholdsSayWhereAndWhichNamesExist() {
        let all = diagnostics(
            planWithSteps(
                "      - request: GET /todos",
                extra: """
                    thresholds:
                      - "p(95) of ttbf < 200ms"
                      - "p(95) of blocked < 200ms"
                      - "error_rate of ttfb < 1%"
                      - "p(95) of < 1s"
                      - "of tls < 1s"
                      - "p(95) of tls < 20"
                      - "p(101) of tls < 20ms"
                    """
            )
        )
        #expect(
            all.map(short) == [
                "9:5: error: unknown phase \"ttbf\"",
                "10:5: error: unknown phase \"blocked\"",
                "11:5: error: \"error_rate\" cannot be taken of a phase",
                "12:5: error: no phase after \"of\" in \"p(95) of\"",
                "13:5: error: no statistic before \"of tls\"",
                "14:5: error: duration \"20\" has no unit",
                "15:5: error: invalid percentile \"p(101)\"",
            ]
        )
        #expect(all.first?.hint?.hasPrefix("did you mean \"ttfb\"? phases are dns, connect, tls") == true)
        #expect(all[1].hint?.contains("wait (ttfb, waiting)") == true)
        #expect(all[2].hint?.contains("write p(N), med, avg or max of ttfb") == true)
        #expect(all.allSatisfy { $0.location?.file == "plan.yaml" })
    }

    /// Overall: waits of 1…100 ms on 100 requests, one TLS handshake of 30 ms. "GET /slow":
    /// waits of 300 ms on plain HTTP. "GET /todos": no phase recorded.
    private func recorders() -> (overall: Recorder, byName: [String: Recorder]) {
        var overall = Recorder()
        var slow = Recorder(slowestCapacity: 0)
        for i in 0..<100 as Range<UInt64> {
            overall.recordPhases(
                PhaseSample(
                    connectNanos: i == 0 ? 1 * Self.ms : nil,
                    tlsNanos: i == 0 ? 30 * Self.ms : nil,
                    sendNanos: 50_000,
                    waitNanos: (1 + i) * Self.ms,
                    receiveNanos: 2 * Self.ms
                )
            )
            slow.recordPhases(
                PhaseSample(
                    connectNanos: i == 0 ? Self.ms : nil,
                    sendNanos: 1,
                    waitNanos: 300 * Self.ms,
                    receiveNanos: 1
                )
            )
        }
        return (overall, ["GET /slow": slow, "GET /todos": Recorder(slowestCapacity: 0)])
    }

    @Test func evaluatesPhasesOverallAndPerName() throws {
        let p = try plan(
            """
              - "p(95) of ttfb < 200ms"
              - "p(95) of ttfb < 90ms"
              - "avg of tls < 20ms"
              - "max of tls <= 31ms"
              - "max of receive < 1s"
              - "p(99) of dns < 5ms"
              - { threshold: "p(95) of wait < 200ms", request: GET /slow }
              - { threshold: "avg of tls < 20ms", request: GET /slow }
              - { threshold: "p(95) of wait < 200ms", request: GET /todos }
            """
        )
        let (overall, byName) = recorders()
        let results = p.thresholds.map {
            $0.evaluate(overall: overall, byName: byName, checkPasses: 0, checkFails: 0, duration: 1)
        }
        #expect(results.map(\.passed) == [true, false, false, true, true, false, false, false, false])
        #expect(results[0].actual.map { ($0 - 95).magnitude < 0.1 } == true)
        #expect(results[2].actual.map { ($0 - 30).magnitude < 0.03 } == true)
        #expect(results[6].actual.map { ($0 - 300).magnitude < 0.3 } == true)
        #expect(results[6].request == "GET /slow")
        // No samples: no value, and the threshold fails (as for a request name that never ran).
        #expect(results[5].actual == nil)
        #expect(results[7].actual == nil)
        #expect(results[8].actual == nil)
    }
}
