import Foundation
import Testing
import VolleyTestSupport

/// `volley run --http2 --http1-fallback` end to end: against a server that refuses h2 in
/// ALPN, the terminal summary counts the connections by protocol and warns that they fell
/// back, and `--json` carries the same counts.
@Suite(.serialized) struct HTTP1FallbackBinaryTests {
    private func refusingServer() async throws -> H2TestServer {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../VolleyEngineTests/Fixtures").standardized
        let mode = H2TestServer.Mode.tlsRefusingH2(
            certificatePath: fixtures.appendingPathComponent("cert.pem").path,
            keyPath: fixtures.appendingPathComponent("key.pem").path
        )
        return try await H2TestServer.start(.init(mode: mode))
    }

    @Test func theSummaryCountsAndWarnsAboutFallenBackConnections() async throws {
        let server = try await refusingServer()
        let base = [
            "run", server.url("/"), "--http2", "--http1-fallback", "-c", "1", "-m", "2", "-n", "20",
            "--insecure", "--no-save", "--threads", "1",
        ]
        let text = try runVolley(base)
        let json = try runVolley(base + ["--json", "-q"])
        let counts = server.counts
        try await server.shutdown()
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("Protocols    0 HTTP/2 · 2 fell back to HTTP/1.1"), "\(text.stdout)")
        #expect(text.stdout.contains("! 2 of 2 connections spoke HTTP/1.1: the server did not agree to h2 in ALPN"))
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any],
            "\(json.stdout)"
        )
        #expect(object["completed"] as? Int == 20)
        #expect(object["connections_opened"] as? Int == 2)
        #expect(object["protocols"] as? [String: Int] == ["h2": 0, "http/1.1": 2])
        #expect(counts.http1Requests == 40)
        #expect(counts.http2Connections == 0)
    }
}
