import Testing
import VolleyCore

@Suite struct ArrivalScheduleTests {
    @Test func constantRateSpacesRequestsEvenly() {
        let s = ArrivalSchedule(rate: 100, duration: .seconds(10))
        #expect(s.scheduledCount == 1000)
        #expect(s.dueTime(ofRequest: 0) == 0)
        #expect(abs(s.dueTime(ofRequest: 1)! - 0.01) < 1e-12)
        #expect(abs(s.dueTime(ofRequest: 999)! - 9.99) < 1e-9)
        #expect(s.dueTime(ofRequest: 1000) == nil)
    }

    @Test func fractionalTotalsRoundUpToTheLastDueRequest() {
        // 3 req/s for 1.5 s: due at 0, 0.333, 0.667, 1.0, 1.333 → 5 requests (4.5 arrivals).
        let s = ArrivalSchedule(rate: 3, duration: .milliseconds(1500))
        #expect(s.scheduledCount == 5)
        #expect(s.dueTime(ofRequest: 4) != nil)
        #expect(s.dueTime(ofRequest: 5) == nil)
    }

    @Test func rampFollowsTheIntegralOfTheRate() throws {
        // 0 -> 200 over 10 s: N(t) = 10 t², 1000 requests, request i due at sqrt(i / 10).
        let s = ArrivalSchedule(stages: [RateStage(duration: .seconds(10), startRate: 0, endRate: 200)])
        #expect(s.scheduledCount == 1000)
        for i in [1, 10, 250, 640, 999] {
            let expected = (Double(i) / 10).squareRoot()
            #expect(abs(try #require(s.dueTime(ofRequest: i)) - expected) < 1e-9)
        }
    }

    @Test func stagesChainInOrderAndSkipIdleStages() throws {
        let stages = try RateStage.parseList("2s:0,10s:0->200,30s:200,10s:200->0")
        #expect(stages.count == 4)
        let s = ArrivalSchedule(stages: stages)
        // 0 + 1000 + 6000 + 1000 requests.
        #expect(s.scheduledCount == 8000)
        // The first request waits out the idle stage.
        #expect(abs(try #require(s.dueTime(ofRequest: 0)) - 2) < 1e-9)
        // Request 1000 starts the plateau at t = 12 s; request 1200 is 1 s into it.
        #expect(abs(try #require(s.dueTime(ofRequest: 1000)) - 12) < 1e-9)
        #expect(abs(try #require(s.dueTime(ofRequest: 1200)) - 13) < 1e-9)
        // Due times never go backwards.
        var last = -1.0
        for i in stride(from: 0, to: 8000, by: 7) {
            let t = try #require(s.dueTime(ofRequest: i))
            #expect(t >= last)
            last = t
        }
        #expect(s.rate(at: 20) == 200)
        #expect(abs(s.rate(at: 47) - 100) < 1e-9)
    }

    @Test(arguments: ["10s", "x:100", "10s:a->b", ""])
    func badStagesAreRefused(text: String) {
        #expect(throws: InputError.self) { try RateStage.parseList(text) }
    }
}
