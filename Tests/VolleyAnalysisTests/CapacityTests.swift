import Testing
import VolleyCore

@testable import VolleyAnalysis

@Suite struct CapacityTests {
    @Test func littlesLawArithmetic() throws {
        let e = CapacityEstimate(serviceTimeMs: 25, workers: 5, threads: 1, instances: 2, targetRate: 300)
        #expect(e.slots == 10)
        #expect(abs(e.maxRate - 400) < 1e-9)
        #expect(abs(try #require(e.concurrencyNeeded) - 7.5) < 1e-9)
        #expect(e.workersNeeded == 4)
        #expect(abs(try #require(e.utilisation) - 0.75) < 1e-9)
        #expect(e.databaseConnections == 10)
        #expect(CapacityEstimate.suggestedWorkers(cores: 2) == 5)
    }
}
