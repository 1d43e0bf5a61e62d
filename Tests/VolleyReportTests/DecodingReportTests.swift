import Testing
import VolleyCore

@testable import VolleyReport

/// Compressed bodies in the summary: the decoded bytes beside the wire's, and the bodies that
/// could not be decoded, on the screen and in the JSON.
@Suite struct DecodingReportTests {
    func summary(decoded: UInt64, failures: Int) -> RunSummary {
        var recorder = Recorder()
        recorder.recordResponse(
            status: 200,
            latencyNanos: 1_000_000,
            serviceNanos: nil,
            bytesIn: 600,
            requestID: "r",
            completedAtNanos: 1_000_000_000
        )
        recorder.bytesDecoded = decoded
        recorder.decodeFailures = failures
        for _ in 0..<failures {
            recorder.responseSamples.recordDecodeFailure(
                request: "login",
                status: 200,
                message: "Content-Encoding gzip: invalid header (the body starts 3c 68 74 6d, not 1f 8b)"
            )
        }
        return RunSummary(
            target: "http://127.0.0.1:8080/",
            method: "GET",
            model: .closed(connections: 1, limit: .requests(1)),
            threads: 1,
            recorder: recorder,
            duration: 1,
            timeline: [],
            interrupted: false
        )
    }

    @Test func theTerminalSaysWhatWasDecodedAndWhatCouldNotBe() {
        let text = SummaryRenderer().render(summary(decoded: 2048, failures: 5))
        #expect(text.contains("  Decoded      2.0 KiB of compressed bodies read by checks and captures"))
        #expect(text.contains("  Decoding     5 bodies could not be decoded"))
        #expect(
            text.contains(
                "login in a 200: Content-Encoding gzip: invalid header (the body starts 3c 68 74 6d, not 1f 8b) (×3)"
            )
        )
        #expect(text.components(separatedBy: "login in a 200").count == 2)
        let quiet = SummaryRenderer().render(summary(decoded: 0, failures: 0))
        #expect(!quiet.contains("Decoded") && !quiet.contains("Decoding"))
    }

    @Test func theJSONCarriesTheNewKeysAndOmitsThemWhenZero() throws {
        let text = try JSONReport.encode(summary(decoded: 2048, failures: 5))
        #expect(text.contains("\"bytes_decoded\" : 2048"))
        #expect(text.contains("\"decode_failures\" : 5"))
        let back = try JSONReport.decode(text)
        #expect(back.decodeFailureSamples?.count == ResponseSamples.maxPerKey)
        #expect(back.decodeFailureSamples?.first?.request == "login")
        let quiet = try JSONReport.encode(summary(decoded: 0, failures: 0))
        #expect(!quiet.contains("bytes_decoded") && !quiet.contains("decode_failure"))
    }

    @Test func theHTMLReportShowsDecodedBytesAndWhyBodiesCouldNotBeDecoded() {
        let html = HTMLReport.render(summary(decoded: 2048, failures: 2), histograms: nil, context: ReportContext())
        #expect(html.contains("<h2>Compressed bodies</h2>"))
        #expect(html.contains("Decoded 2,048 bytes of compressed bodies"))
        #expect(html.contains("2 bodies could not be decoded"))
        #expect(html.contains("<td>login</td><td>200</td><td>Content-Encoding gzip: invalid header"))
        let quiet = HTMLReport.render(summary(decoded: 0, failures: 0), histograms: nil, context: ReportContext())
        #expect(!quiet.contains("Compressed bodies"))
    }
}
