import Foundation
import Testing

@testable import VolleyLab

@Suite struct LabConfigurationTests {
    @Test func defaultsAreTheFieldDefaultsAndValid() throws {
        let c = LabConfiguration()
        #expect(c.poolSize == 5 && c.poolOverflow == 10 && c.poolTimeout == .seconds(30))
        #expect(c.host == "127.0.0.1")
        try c.validate()
    }

    @Test func badKnobsAreRefusedWithTheirFlagName() {
        var c = LabConfiguration()
        c.poolSize = 0
        #expect(throws: LabConfigurationError.self) { try c.validate() }
        do {
            try c.validate()
        } catch {
            #expect(error.message.contains("--pool-size"))
        }
        c = LabConfiguration()
        c.poolTimeout = .zero
        #expect(throws: LabConfigurationError.self) { try c.validate() }
        c = LabConfiguration()
        c.port = 70_000
        #expect(throws: LabConfigurationError.self) { try c.validate() }
        c = LabConfiguration()
        c.queryLatency = .milliseconds(-1)
        #expect(throws: LabConfigurationError.self) { try c.validate() }
    }

    @Test func jsonRoundTripsWithSecondsForDurations() throws {
        var c = LabConfiguration()
        c.queryLatency = .milliseconds(2)
        c.cache = true
        c.workers = 3
        let data = try JSONEncoder().encode(c)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["query_latency_seconds"] as? Double == 0.002)
        #expect(object["pool_size"] as? Int == 5)
        #expect(try JSONDecoder().decode(LabConfiguration.self, from: data) == c)
    }

    @Test func durationsPrintShort() {
        #expect(LabConfiguration.format(.zero) == "0")
        #expect(LabConfiguration.format(.milliseconds(250)) == "250ms")
        #expect(LabConfiguration.format(.milliseconds(1500)) == "1.5s")
        #expect(LabConfiguration.format(.seconds(30)) == "30s")
        #expect(LabConfiguration.format(.microseconds(500)) == "500µs")
    }

    @Test func poolTimeoutReadsLikeSQLAlchemy() {
        let error = ConnectionPool.PoolTimeout(size: 5, overflow: 10, timeout: .seconds(30))
        #expect(
            error.description
                == "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00"
        )
    }
}
