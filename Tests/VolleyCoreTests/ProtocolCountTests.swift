import Foundation
import Testing

@testable import VolleyCore

/// Connections by protocol (`protocols` in the summary): added when loops and segments merge,
/// absent for HTTP/1.1 runs, kept by a distributed run's bundle.
@Suite struct ProtocolCountTests {
    private func summary(_ r: Recorder) -> RunSummary {
        RunSummary(
            target: "https://127.0.0.1:1/",
            method: "GET",
            model: .closed(connections: 2, limit: .requests(10)),
            threads: 1,
            recorder: r,
            duration: 1,
            timeline: [],
            interrupted: false
        )
    }

    private func recorder(h2: Int, fellBack: Int) -> Recorder {
        var r = Recorder()
        r.connectionsOpened = h2 + fellBack
        r.h2Connections = h2
        r.http1FallbackConnections = fellBack
        return r
    }

    @Test func loopsAddTheirCountsByProtocol() throws {
        var merged = recorder(h2: 3, fellBack: 0)
        merged.merge(recorder(h2: 1, fellBack: 4))
        #expect(summary(merged).protocols == ["h2": 4, "http/1.1": 4])
        let object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(summary(merged))) as? [String: Any]
        )
        #expect(object["protocols"] as? [String: Int] == ["h2": 4, "http/1.1": 4])
    }

    @Test func anHTTP1RunHasNoProtocolCounts() throws {
        var r = Recorder()
        r.connectionsOpened = 5
        #expect(summary(r).protocols == nil)
        let json = String(decoding: try JSONEncoder().encode(summary(r)), as: UTF8.self)
        #expect(!json.contains("\"protocols\""))
    }

    @Test func aBundleKeepsTheCountsAndOldBundlesStillDecode() throws {
        let data = RecorderData(recorder(h2: 2, fellBack: 6))
        let decoded = try JSONDecoder().decode(RecorderData.self, from: JSONEncoder().encode(data))
        let back = try decoded.recorder()
        #expect(back.h2Connections == 2 && back.http1FallbackConnections == 6)
        let old = try JSONDecoder().decode(RecorderData.self, from: JSONEncoder().encode(RecorderData(Recorder())))
        #expect(old.protocols == nil)
        #expect(try old.recorder().h2Connections == 0)
    }
}
