import NIOCore
import Testing
import VolleyCore

@testable import VolleyEngine

/// One default-header policy for both engines: `volley run` sends raw-byte requests like wrk,
/// plans ask for compression like browsers and k6; a header the user sets always wins.
@Suite struct DefaultHeadersTests {
    private func runHead(_ headers: [HTTPHeader]) throws -> String {
        let url = try TargetURL(parsing: "http://127.0.0.1:8080/")
        let encoder = RequestEncoder(spec: RequestSpec(url: url, headers: headers), runPrefix: 1)
        var buffer = ByteBuffer()
        encoder.encode(into: &buffer, loop: 0, sequence: 1)
        return String(buffer: buffer)
    }

    @Test func volleyRunSendsNoAcceptEncodingUnlessAsked() throws {
        let plain = try runHead([])
        #expect(plain.contains("\r\nAccept: */*\r\n"))
        #expect(!plain.lowercased().contains("accept-encoding"))
        let asked = try runHead([HTTPHeader(name: "Accept-Encoding", value: "gzip")])
        #expect(asked.components(separatedBy: "ccept-Encoding").count == 2)
        #expect(asked.contains("\r\nAccept-Encoding: gzip\r\n"))
    }

    @Test func plansAskForEveryDecodedEncodingByDefault() {
        let names = DefaultHeaders.plan(compression: true).headers.map(\.name)
        #expect(names == ["User-Agent", "Accept", "Accept-Encoding"])
        #expect(DefaultHeaders.plan(compression: true).headers.last?.value == ContentDecoder.supported)
        #expect(DefaultHeaders.plan(compression: false).headers.map(\.name) == ["User-Agent", "Accept"])
        #expect(DefaultHeaders.run.headers.map(\.name) == ["User-Agent", "Accept"])
    }

    @Test func aHeaderTheRequestSetsIsNotAddedAgain() {
        let missing = DefaultHeaders.plan(compression: true).missing { $0 == "accept-encoding" || $0 == "accept" }
        #expect(missing.map(\.name) == ["User-Agent"])
    }
}
