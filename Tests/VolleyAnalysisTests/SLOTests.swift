import Testing
import VolleyCore

@testable import VolleyAnalysis

@Suite struct SLOTests {
    @Test func parsesTheShortAndTheThresholdForms() throws {
        let slo = try SLO.parse("p99<500ms,errors<1%")
        #expect(slo.conditions.map(\.metric) == ["p99", "errors"])
        #expect(slo.conditions.map(\.limit) == [500, 0.01])
        #expect(try SLO.parse("p(95) <= 0.2s, error_rate<0.05").conditions.map(\.limit) == [200, 0.05])
        #expect(slo.description == "p99<500ms,errors<1%")
        for bad in ["", "p99", "p98<1s", "p99<fast", "errors<lots"] {
            #expect(throws: InputError.self, "\(bad)") { try SLO.parse(bad) }
        }
    }

    @Test func theSearchGrowsThenBisects() {
        // A service that holds its SLO up to 730 req/s.
        var search = MaxRateSearch(start: 100, ceiling: 100_000, precision: 0.05)
        var tried: [Double] = []
        while let rate = search.next() {
            tried.append(rate)
            search.record(rate: rate, met: rate <= 730)
        }
        #expect(Array(tried.prefix(5)) == [100, 200, 400, 800, 600])
        let passed = search.passed ?? 0
        let failed = search.failed ?? 0
        #expect(passed <= 730 && failed > 730)
        #expect((failed - passed) / passed <= 0.05)
        #expect(search.steps <= 12)
    }

    @Test func aServiceThatNeverMeetsTheSLOEndsNearOne() {
        var search = MaxRateSearch(start: 50, ceiling: 1000)
        while let rate = search.next() { search.record(rate: rate, met: false) }
        #expect(search.passed == nil)
        #expect(search.steps <= 12)
    }

    @Test func theCeilingStopsTheGrowth() {
        var search = MaxRateSearch(start: 100, ceiling: 300)
        var tried: [Double] = []
        while let rate = search.next() {
            tried.append(rate)
            search.record(rate: rate, met: true)
        }
        #expect(tried == [100, 200, 300])
    }
}
