import Foundation
import Testing
import VolleyTestSupport

/// Is a browser available, or required (scripts/test sets VOLLEY_REQUIRE_BROWSER=1 after
/// installing Debian's chromium, so that CI never skips this check silently)?
let browserCheckEnabled: Bool = {
    if ProcessInfo.processInfo.environment["VOLLEY_REQUIRE_BROWSER"] == "1" { return true }
    return ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].contains {
        FileManager.default.isExecutableFile(atPath: $0)
    }
}()

/// The package root, found from this file's path (scripts/ lives there).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

@Suite(.serialized) struct ReportCommandTests {
    /// The report of a real run, opened in headless Chromium: it loads without errors, draws
    /// its charts, and shows the run's numbers.
    @Test(.enabled(if: browserCheckEnabled)) func theHTMLReportRendersInARealBrowser() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volley-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: home)
            try? FileManager.default.removeItem(at: dir)
        }
        let html = dir.appendingPathComponent("run.html").path
        let r = try runVolley(
            ["run", server.baseURL + "/mix", "-c", "4", "-n", "1234", "-q", "--label", "browser", "--html", html],
            home: home
        )
        #expect(r.stderr.contains("wrote the HTML report"))
        // The same report again from the history.
        let again = dir.appendingPathComponent("again.html").path
        #expect(try runVolley(["report", "last", "--html", again], home: home).status == 0)
        #expect(FileManager.default.fileExists(atPath: again))

        let png = dir.appendingPathComponent("run.png").path
        let check = Process()
        check.executableURL = packageRoot.appendingPathComponent("scripts/check-report")
        check.arguments = [html, png]
        let err = Pipe()
        check.standardError = err
        check.standardOutput = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(check.terminationStatus == 0, "check-report: \(log)")
        let dom = try String(contentsOfFile: png + ".dom.html", encoding: .utf8)
        #expect(dom.contains("1,234"))  // the requests card
        #expect(dom.contains("browser"))  // the label
        #expect(dom.contains("Latency distribution"))
        let size = (try FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
        #expect(size > 20_000)
        try await server.shutdown()
    }

    @Test func reportOfAMissingRunIsAUsageError() throws {
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(["report", "last", "--html", "/tmp/never.html"], home: home)
        #expect(r.status == 2)
        #expect(r.stderr.contains("history is empty"))
    }
}
