import Testing
import VolleyCore

@Suite struct PhaseRecorderTests {
    private static let ms: UInt64 = 1_000_000

    /// A request on a reused connection: only send, wait and receive.
    private func reused(wait: UInt64, receive: UInt64 = 1, send: UInt64 = 1) -> PhaseSample {
        PhaseSample(sendNanos: send * Self.ms / 10, waitNanos: wait * Self.ms, receiveNanos: receive * Self.ms)
    }

    /// A request that opened its connection: connect (and dns, tls when given) as well.
    private func opening(connect: UInt64, dns: UInt64? = nil, tls: UInt64? = nil, wait: UInt64) -> PhaseSample {
        PhaseSample(
            dnsNanos: dns.map { $0 * Self.ms },
            connectNanos: connect * Self.ms,
            tlsNanos: tls.map { $0 * Self.ms },
            sendNanos: Self.ms / 10,
            waitNanos: wait * Self.ms,
            receiveNanos: 2 * Self.ms
        )
    }

    @Test func allocatesAPhaseOnlyWhenItIsFirstRecorded() {
        var r = PhaseRecorder()
        #expect(r.recordedPhases.isEmpty)
        #expect(Recorder(slowestCapacity: 0).phases.recordedPhases.isEmpty)
        r.record(reused(wait: 5))
        #expect(r.recordedPhases == [.send, .wait, .receive])
        // A plain-HTTP connection to an address: connect, but no name lookup and no handshake.
        r.record(opening(connect: 1, wait: 5))
        #expect(r.recordedPhases == [.connect, .send, .wait, .receive])
        r.record(opening(connect: 1, dns: 3, tls: 30, wait: 5))
        #expect(r.recordedPhases == Phase.allCases)
        #expect(r.histogram(.tls)?.totalCount == 1)
        #expect(r.histogram(.connect)?.totalCount == 2)
        #expect(r.histogram(.wait)?.totalCount == 3)
    }

    @Test func countsNewConnectionsForTheReuseRate() {
        var r = PhaseRecorder()
        #expect(r.reuseRate == nil)
        r.record(opening(connect: 2, wait: 10))
        for _ in 0..<999 { r.record(reused(wait: 10)) }
        #expect(r.requests == 1000)
        #expect(r.newConnections == 1)
        #expect(r.reuseRate == 0.999)
    }

    @Test func mergingSplitSamplesEqualsOneRecorderBucketByBucket() {
        var samples: [PhaseSample] = []
        for i in 0..<600 as Range<UInt64> {
            samples.append(
                i % 50 == 0
                    ? opening(connect: 1 + i % 7, dns: i % 100 == 0 ? 2 : nil, tls: 20 + i % 11, wait: 3 + i % 40)
                    : reused(wait: 3 + i % 97, receive: 1 + i % 13, send: 1 + i % 3)
            )
        }
        var single = PhaseRecorder()
        var parts = [PhaseRecorder(), PhaseRecorder(), PhaseRecorder()]
        for (i, s) in samples.enumerated() {
            single.record(s)
            parts[i % 3 == 0 && i < 100 ? 0 : (i % 2 == 0 ? 1 : 2)].record(s)
        }
        var merged = PhaseRecorder()
        for p in parts { merged.merge(p) }
        #expect(merged.requests == single.requests)
        #expect(merged.newConnections == single.newConnections)
        for phase in Phase.allCases {
            let a = merged.histogram(phase)
            let b = single.histogram(phase)
            #expect(a != nil, "\(phase) recorded")
            #expect(a == b, "\(phase) equal")
            #expect(a?.recordedValues().map(\.count) == b?.recordedValues().map(\.count), "\(phase) buckets")
            #expect(a?.recordedValues().map(\.value) == b?.recordedValues().map(\.value), "\(phase) values")
        }
    }

    @Test func mergeKeepsAnUnrecordedPhaseUnallocated() {
        var a = PhaseRecorder()
        a.record(reused(wait: 4))
        var b = PhaseRecorder()
        b.record(reused(wait: 6))
        a.merge(b)
        a.merge(PhaseRecorder())
        #expect(a.recordedPhases == [.send, .wait, .receive])
        #expect(a.histogram(.wait)?.totalCount == 2)
    }

    @Test func recorderMergeCarriesPhases() {
        var a = Recorder()
        var b = Recorder(slowestCapacity: 0)
        a.recordPhases(opening(connect: 4, tls: 25, wait: 10))
        b.recordPhases(reused(wait: 30))
        a.merge(b)
        #expect(a.phases.requests == 2)
        #expect(a.phases.newConnections == 1)
        #expect(a.phases.histogram(.wait)?.totalCount == 2)
        #expect(a.phases.histogram(.tls).map { $0.max / 25 } == 1000)
    }

    @Test func phaseNamesAndAliases() {
        #expect(Phase(named: "ttfb") == .wait)
        #expect(Phase(named: "TTFB") == .wait)
        #expect(Phase(named: "http_req_waiting") == .wait)
        #expect(Phase(named: "tls_handshaking") == .tls)
        #expect(Phase(named: "http_req_connecting") == .connect)
        #expect(Phase(named: "sending") == .send)
        #expect(Phase(named: "receiving") == .receive)
        #expect(Phase(named: "dns") == .dns)
        #expect(Phase(named: "blocked") == nil)
    }
}
