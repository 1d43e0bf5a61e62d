import Foundation
import Testing
import VolleyTestSupport

@testable import VolleyReport

/// End to end: what the server said is on the screen, in the JSON, in `show` and in the HTML
/// report, and the credential in it is in none of them.
@Suite(.serialized) struct ErrorSampleBinaryTests {
    @Test func errorBodiesReachEveryOutputRedacted() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        let html = home + "-report.html"
        defer {
            try? FileManager.default.removeItem(atPath: home)
            try? FileManager.default.removeItem(atPath: html)
        }
        // "QueuePool timeout; url=postgresql://app:BODYSECRET51@db/app"
        // Every letter of the secret percent-encoded, so that only the body, not the URL, holds it.
        let body =
            "QueuePool%20timeout%3B%20url%3Dpostgresql%3A%2F%2Fapp%3A%42%4F%44%59%53%45%43%52%45%54%35%31%40db%2Fapp"
        let run = try runVolley(
            ["run", server.baseURL + "/error/500?body=" + body, "-c", "2", "-n", "20", "--json", "-q"],
            home: home
        )
        let show = try runVolley(["show", "last"], home: home)
        let report = try runVolley(["report", "last", "--html", html], home: home)
        try await server.shutdown()
        let expected = "QueuePool timeout; url=postgresql://***@db/app"
        let summary = try JSONReport.decode(run.stdout)
        #expect(summary.status == ["500": 20])
        #expect(summary.errorSamples?["500"]?.map(\.excerpt) == [expected])
        #expect(run.stderr.contains("500: \(expected)"), "\(run.stderr)")
        #expect(show.stdout.contains("500: \(expected)") || show.stderr.contains("500: \(expected)"))
        #expect(report.status == 0, "\(report.stderr)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains(expected))
        let stored = try FileManager.default.subpathsOfDirectory(atPath: home).compactMap {
            try? String(contentsOfFile: home + "/" + $0, encoding: .utf8)
        }
        for text in [run.stdout, run.stderr, show.stdout, show.stderr, page] + stored {
            #expect(!text.contains("BODYSECRET51"))
        }
    }
}
