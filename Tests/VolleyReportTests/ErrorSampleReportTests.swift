import Testing
import VolleyCore

@testable import VolleyReport

/// Error body samples on the screen, in the JSON and in the HTML report.
@Suite struct ErrorSampleReportTests {
    func summary() -> RunSummary {
        var recorder = Recorder()
        for i in 0..<20 {
            let status = i % 4 == 0 ? 500 : 200
            recorder.recordResponse(
                status: status,
                latencyNanos: 1_000_000,
                serviceNanos: nil,
                bytesIn: 100,
                requestID: "r\(i)",
                completedAtNanos: 1_000_000_000
            )
            if status == 500 {
                recorder.responseSamples.recordError(
                    status: 500,
                    body: Array("QueuePool limit of size 5 overflow 10 reached <b>".utf8)
                )
            }
        }
        recorder.responseSamples.recordCaptureFailure(
            request: "login",
            capture: "token",
            source: "json $.token",
            status: 500,
            body: Array("<html>oops</html>".utf8)
        )
        return RunSummary(
            target: "http://127.0.0.1:8080/",
            method: "GET",
            model: .closed(connections: 2, limit: .requests(20)),
            threads: 1,
            recorder: recorder,
            duration: 1,
            timeline: [],
            interrupted: false
        )
    }

    @Test func theTerminalShowsTheSamplesUnderTheStatusLine() throws {
        let lines = SummaryRenderer().render(summary()).split(separator: "\n").map(String.init)
        let status = try #require(lines.firstIndex { $0.hasPrefix("  Status") })
        #expect(lines[status + 1].trimmingPrefixSpaces == "500: QueuePool limit of size 5 overflow 10 reached <b> (×3)")
        #expect(
            lines.contains {
                $0.trimmingPrefixSpaces == "login › token (json $.token) in a 500: <html>oops</html>"
            }
        )
    }

    @Test func theJSONCarriesThemAndReadsThemBack() throws {
        let text = try JSONReport.encode(summary())
        #expect(text.contains("\"error_samples\""))
        #expect(text.contains("\"capture_failure_samples\""))
        let back = try JSONReport.decode(text)
        #expect(back.errorSamples?["500"]?.first?.excerpt == "QueuePool limit of size 5 overflow 10 reached <b>")
        #expect(back.captureFailureSamples?.first?.source == "json $.token")
    }

    @Test func theHTMLReportShowsThemEscaped() {
        let html = HTMLReport.render(summary(), histograms: nil, context: ReportContext())
        #expect(html.contains("QueuePool limit of size 5 overflow 10 reached &lt;b&gt;"))
        #expect(html.contains("&lt;html&gt;oops&lt;/html&gt;"))
        #expect(!html.contains("<b>"))
        #expect(html.contains("Captures that found nothing"))
    }
}

extension String {
    fileprivate var trimmingPrefixSpaces: String { String(drop { $0 == " " }) }
}
