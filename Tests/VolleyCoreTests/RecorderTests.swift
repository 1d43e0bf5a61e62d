import Testing
import VolleyCore

@Suite struct RecorderTests {
    private func response(_ r: inout Recorder, status: Int, ms: UInt64, id: String = "x", at: UInt64 = 0) {
        r.recordResponse(
            status: status,
            latencyNanos: ms * 1_000_000,
            serviceNanos: nil,
            bytesIn: 100,
            requestID: id,
            completedAtNanos: at
        )
    }

    @Test func countsStatusesErrorsAndBytes() {
        var r = Recorder()
        for _ in 0..<8 { response(&r, status: 200, ms: 5) }
        response(&r, status: 404, ms: 5)
        response(&r, status: 500, ms: 5)
        r.recordFailure(.reset)
        r.recordFailure(.timeout, message: "slow")
        #expect(r.completed == 10)
        #expect(r.failed == 2)
        #expect(r.errors == 4)
        #expect(r.statuses == [200: 8, 404: 1, 500: 1])
        #expect(r.transportErrors == [.reset: 1, .timeout: 1])
        #expect(r.transportSamples[.timeout] == "slow")
        #expect(r.bytesIn == 1000)
    }

    @Test func keepsTheSlowestInConstantSpace() {
        var r = Recorder(slowestCapacity: 3)
        for ms in [5, 50, 1, 70, 2, 60, 3] as [UInt64] { response(&r, status: 200, ms: ms, id: "id\(ms)") }
        #expect(r.slowest.sorted.map(\.requestID) == ["id70", "id60", "id50"])
    }

    @Test func aRecorderWithoutASlowestListNeverSpellsOutRequestIDs() {
        var r = Recorder(slowestCapacity: 0)
        var spelled = 0
        func id() -> String {
            spelled += 1
            return "id"
        }
        for latency in [1_000, 5_000_000, 900_000_000] as [UInt64] {
            r.recordResponse(
                status: 200,
                latencyNanos: latency,
                serviceNanos: nil,
                bytesIn: 1,
                requestID: id(),
                completedAtNanos: latency
            )
        }
        #expect(spelled == 0)
        #expect(r.completed == 3)
        var kept = Recorder(slowestCapacity: 2)
        kept.recordResponse(
            status: 200,
            latencyNanos: 7,
            serviceNanos: nil,
            bytesIn: 1,
            requestID: id(),
            completedAtNanos: 7
        )
        #expect(spelled == 1)
    }

    @Test func mergingAddsHistogramsInsteadOfAveragingPercentiles() {
        var a = Recorder()
        var b = Recorder()
        for _ in 0..<90 { response(&a, status: 200, ms: 1) }
        for _ in 0..<10 { response(&b, status: 200, ms: 100) }
        a.merge(b)
        let stats = LatencyStats(a.latency)
        #expect(a.completed == 100)
        // p95 of the union is 100 ms; an average of the two p95s would say ~50 ms.
        #expect(abs(stats.p95 - 100) < 0.2)
        #expect(abs(stats.p50 - 1) < 0.01)
    }

    @Test func intervalsResetAfterTaking() {
        var r = Recorder()
        response(&r, status: 200, ms: 10)
        r.recordFailure(.noResponse)
        let first = r.takeInterval(inFlight: 3, openConnections: 4, waiting: 0)
        #expect(first.completed == 1)
        #expect(first.failed == 1)
        #expect(first.errors == 1)
        #expect(first.inFlight == 3)
        let second = r.takeInterval(inFlight: 0, openConnections: 4, waiting: 0)
        #expect(second.completed == 0)
        #expect(second.latency.totalCount == 0)
        #expect(r.completed == 1)
    }

    @Test func lateSendsAreCountedPastTheThreshold() {
        var r = Recorder()
        r.recordSend(bytes: 10, lagNanos: 1_000_000)
        r.recordSend(bytes: 10, lagNanos: 50_000_000)
        r.recordSend(bytes: 10, lagNanos: nil)
        #expect(r.sent == 3)
        #expect(r.sentLate == 1)
        #expect(r.bytesOut == 30)
    }
}

@Suite struct RunSummaryTests {
    @Test func accountingIdentityHolds() {
        var r = Recorder()
        r.recordResponse(
            status: 200,
            latencyNanos: 1_000_000,
            serviceNanos: 500_000,
            bytesIn: 1,
            requestID: "a",
            completedAtNanos: 0
        )
        r.recordFailure(.noResponse)
        r.unsent = 5
        let s = RunSummary(
            target: "http://127.0.0.1/",
            method: "GET",
            model: .open(schedule: ArrivalSchedule(rate: 7, duration: .seconds(1)), maxConnections: 10, preconnect: 0),
            threads: 1,
            recorder: r,
            duration: 1,
            timeline: [],
            interrupted: false
        )
        #expect(s.scheduled == s.completed + s.failed + s.unsent)
        #expect(s.scheduled == 7)
        #expect(s.errorRate == 0.5)
        #expect(s.serviceTimeMs != nil)
        #expect(s.rate == 7)
        #expect(s.transportErrors == ["no_response": 1])
    }
}
