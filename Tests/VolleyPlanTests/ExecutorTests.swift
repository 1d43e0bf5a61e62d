import Testing
import VolleyCore
import VolleyPlan

/// Every executor with its keys, defaults and errors (k6's semantics).
@Suite struct ExecutorTests {
    private func executor(_ keys: String, environment: [String: String] = [:]) throws -> Executor? {
        let yaml = """
            base_url: http://127.0.0.1:8080
            scenarios:
              s:
            \(keys)
                steps:
                  - request: GET /
            """
        return try load(yaml, environment: environment).plan.scenarios.first?.executor
    }

    @Test func eachExecutorWithItsDefaults() throws {
        #expect(
            try executor("    executor: constant-vus\n    vus: 10\n    duration: 30s")
                == .constantVUs(vus: 10, duration: .seconds(30))
        )
        #expect(
            try executor("    executor: constant-vus\n    duration: 1m") == .constantVUs(vus: 1, duration: .seconds(60))
        )
        #expect(
            try executor(
                "    executor: ramping-vus\n    stages: [{ duration: 10s, target: 5 }, { duration: 0s, target: 0 }]"
            )
                == .rampingVUs(
                    startVUs: 0,
                    stages: [VUStage(duration: .seconds(10), target: 5), VUStage(duration: .zero, target: 0)],
                    gracefulRampDown: .seconds(30)
                )
        )
        #expect(
            try executor("    executor: shared-iterations")
                == .sharedIterations(vus: 1, iterations: 1, maxDuration: .seconds(600))
        )
        #expect(
            try executor("    executor: per-vu-iterations\n    vus: 3\n    iterations: 2\n    max_duration: 1m")
                == .perVUIterations(vus: 3, iterations: 2, maxDuration: .seconds(60))
        )
        #expect(
            try executor(
                "    executor: constant-arrival-rate\n    rate: 30/m\n    duration: 1m\n    pre_allocated_vus: 5"
            )
                == .constantArrivalRate(rate: 0.5, duration: .seconds(60), preAllocatedVUs: 5, maxVUs: 5)
        )
        #expect(
            try executor(
                "    executor: constant-arrival-rate\n    rate: 100\n    duration: 1s\n    pre_allocated_vus: 5\n    max_vus: 9"
            )
                == .constantArrivalRate(rate: 100, duration: .seconds(1), preAllocatedVUs: 5, maxVUs: 9)
        )
    }

    @Test func rampingArrivalRateStagesRampFromThePreviousTarget() throws {
        let keys = """
                executor: ramping-arrival-rate
                start_rate: 10
                stages:
                  - { duration: 10s, target: 100/s }
                  - { duration: 30s, target: 100 }
                  - { duration: 10s, target: 0 }
                pre_allocated_vus: 20
                max_vus: 200
            """
        #expect(
            try executor(keys)
                == .rampingArrivalRate(
                    stages: [
                        RateStage(duration: .seconds(10), startRate: 10, endRate: 100),
                        RateStage(duration: .seconds(30), startRate: 100, endRate: 100),
                        RateStage(duration: .seconds(10), startRate: 100, endRate: 0),
                    ],
                    preAllocatedVUs: 20,
                    maxVUs: 200
                )
        )
    }

    @Test func numbersAndDurationsComeFromTheEnvironmentOrTheirDefault() throws {
        let keys = """
                executor: shared-iterations
                vus: ${VUS:-20}
                iterations: "${ITERATIONS:-400}"
                max_duration: ${LIMIT:-10m}
            """
        #expect(try executor(keys) == .sharedIterations(vus: 20, iterations: 400, maxDuration: .seconds(600)))
        #expect(
            try executor(keys, environment: ["VUS": "2", "ITERATIONS": "4", "LIMIT": "5s"])
                == .sharedIterations(vus: 2, iterations: 4, maxDuration: .seconds(5))
        )
    }

    private func errors(_ keys: String, environment: [String: String] = [:]) -> [String] {
        problems(
            """
            base_url: http://127.0.0.1:8080
            scenarios:
              s:
            \(keys)
                steps:
                  - request: GET /
            """,
            environment: environment
        )
    }

    @Test func keysOfAnotherExecutorNameTheExecutorAndListItsKeys() {
        let all = diagnostics(
            """
            base_url: http://127.0.0.1:8080
            scenarios:
              s:
                executor: constant-vus
                duration: 1s
                iterations: 5
                stages: []
                steps:
                  - request: GET /
            """
        )
        #expect(
            all.map(short) == [
                "6:5: error: \"iterations\" does not apply to constant-vus",
                "7:5: error: \"stages\" does not apply to constant-vus",
            ]
        )
        #expect(
            all.first?.hint
                == "constant-vus takes vus, duration; iterations belongs to shared-iterations, per-vu-iterations"
        )
    }

    @Test func missingRequiredKeys() {
        #expect(errors("    executor: constant-vus") == ["3:3: error: scenario \"s\" needs \"duration\""])
        #expect(
            errors("    executor: constant-arrival-rate") == [
                "3:3: error: scenario \"s\" needs \"rate\"",
                "3:3: error: scenario \"s\" needs \"duration\"",
                "3:3: error: scenario \"s\" needs \"pre_allocated_vus\"",
            ]
        )
        #expect(errors("    executor: ramping-vus") == ["3:3: error: scenario \"s\" needs \"stages\""])
        #expect(
            errors("    executor: ramping-vus\n    stages: [{ duration: 1s }]") == [
                "5:14: error: a stage needs \"target\""
            ]
        )
    }

    @Test func negativeCountsBadDurationsAndRates() {
        #expect(
            errors("    executor: constant-vus\n    vus: 0\n    duration: 1s") == [
                "5:10: error: \"vus\" must be at least 1, got 0"
            ]
        )
        #expect(
            errors("    executor: ramping-vus\n    start_vus: -1\n    stages: [{ duration: 1s, target: -5 }]") == [
                "5:16: error: \"start_vus\" must be at least 0, got -1",
                "6:38: error: \"target\" must be at least 0, got -5",
            ]
        )
        #expect(errors("    executor: constant-vus\n    duration: 10") == ["5:15: error: duration \"10\" has no unit"])
        #expect(
            errors("    executor: constant-vus\n    duration: 0s") == ["5:15: error: \"duration\" must be more than 0s"]
        )
        #expect(
            errors("    executor: constant-vus\n    duration: 1y") == [
                "5:15: error: unknown unit \"y\" in duration \"1y\""
            ]
        )
        #expect(
            errors("    executor: constant-arrival-rate\n    rate: fast\n    duration: 1s\n    pre_allocated_vus: 1")
                == ["5:11: error: invalid rate \"fast\""]
        )
        #expect(
            errors("    executor: constant-arrival-rate\n    rate: 0\n    duration: 1s\n    pre_allocated_vus: 1")
                == ["5:11: error: \"rate\" must be more than 0"]
        )
        #expect(
            errors(
                "    executor: constant-arrival-rate\n    rate: 1\n    duration: 1s\n    pre_allocated_vus: 5\n    max_vus: 2"
            )
                == ["8:14: error: \"max_vus\" (2) is less than \"pre_allocated_vus\" (5)"]
        )
        #expect(
            errors("    executor: shared-iterations\n    vus: 10\n    iterations: 5")
                == ["6:17: error: \"iterations\" (5) is less than \"vus\" (10)"]
        )
    }

    @Test func environmentValuesAreParsedAndNamedInErrors() {
        #expect(
            errors("    executor: constant-vus\n    vus: ${VUS}\n    duration: 1s", environment: ["VUS": "many"])
                == ["5:10: error: \"vus\" must be a whole number, got \"many\" (from ${VUS})"]
        )
        let unset = diagnostics(
            """
            base_url: http://127.0.0.1:8080
            scenarios:
              s:
                executor: constant-vus
                vus: ${VUS}
                duration: 1s
                steps:
                  - request: GET /
            """
        )
        #expect(unset.map(short) == ["5:10: error: ${VUS} is not set"])
        #expect(unset.first?.hint == "pass -e VUS=value, or give a default: ${VUS:-value}")
        #expect(
            errors("    executor: constant-vus\n    vus: ${vu}\n    duration: ${randomInt(1, 2)}s") == [
                "5:10: error: \"vus\" can only use environment variables, not ${vu}",
                "6:15: error: \"duration\" can only use environment variables, not ${randomInt(1, 2)}",
            ]
        )
    }
}
