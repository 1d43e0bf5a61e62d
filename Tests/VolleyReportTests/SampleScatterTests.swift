import Foundation
import Testing

@testable import VolleyReport

@Suite struct SampleScatterTests {
    @Test func samplesAreReadAndReservoirSampled() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("samples-\(UUID().uuidString).ndjson")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var text = ""
        for i in 0..<10_000 {
            if i % 100 == 0 {
                text += "{\"t\":\(Double(i) / 1000),\"error\":\"timeout\",\"latency_ms\":5000.000,\"bytes_in\":0}\n"
            } else {
                text +=
                    "{\"t\":\(Double(i) / 1000),\"status\":200,\"latency_ms\":\(i % 50).500,\"request_id\":\"x\",\"bytes_in\":10}\n"
            }
        }
        text += "{\"t\":1.0,\"error\":\"connection_refused\",\"bytes_in\":0}\n"  // no latency: not drawn
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let points = try #require(SampleScatter.load(path: path, limit: 500))
        #expect(points.count == 500)
        #expect(points == points.sorted { $0.t < $1.t })
        #expect(points.contains { $0.failed && $0.latencyMs == 5000 })
        #expect(points.allSatisfy { $0.failed == ($0.latencyMs == 5000) })
        let all = try #require(SampleScatter.load(path: path, limit: 20_000))
        #expect(all.count == 10_000)
        #expect(SampleScatter.load(path: "/nonexistent/samples.ndjson") == nil)
    }
}
