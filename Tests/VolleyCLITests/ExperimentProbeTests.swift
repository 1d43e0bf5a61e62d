import Foundation
import Testing
import VolleyCore
import VolleyReport
import VolleyStore
import VolleyTestSupport

/// The server side of experiments: a matrix samples probes in every cell and saves every cell
/// as a run; a sweep's HTML report shows the findings it printed and the probe series across
/// its levels; `volley show` prints a saved run's probes and findings as `volley run` did.
@Suite(.serialized) struct ExperimentProbeTests {
    /// Lines of `text` from the one that starts with `title` to the next blank line.
    func block(_ text: String, from title: String) -> [Substring] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix(title) }) else { return [] }
        return Array(lines[start...].prefix { !$0.isEmpty })
    }

    @Test func aProbedMatrixSavesEveryCellAsARunThatShowAndDiagnoseRead() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(
            [
                "matrix", "--base", server.baseURL, "--counts", "4,8", "--offsets", "10ms,30ms", "--route", "/",
                "--route", "/status/500", "--probe", "pid:\(getpid())", "--label", "m",
            ],
            limit: 60,
            home: home
        )
        try await server.shutdown()
        #expect(r.status == 0, "\(r.stderr)")
        // Four cells, each a saved run whose id ends its row.
        let history = try runVolley(["history", "--label", "matrix m", "--json"], home: home)
        let runs = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]])
        #expect(runs.count == 4, "\(history.stdout.prefix(300))")
        let ids = runs.compactMap { $0["id"] as? Int }.sorted()
        try #require(ids.count == 4)
        for id in ids { #expect(r.stdout.contains("#\(id)\n"), "cell row with run #\(id)") }
        #expect(runs.contains { $0["label"] as? String == "matrix m n8 30ms" })
        // Each cell reads back with its probe, its series and the diagnosis.
        let shown = try runVolley(["show", String(ids[0])], home: home)
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("Probe pid:\(getpid()) (process)"), "\(shown.stdout.suffix(600))")
        #expect(shown.stdout.contains("proc.threads  min "), "\(shown.stdout.suffix(600))")
        #expect(shown.stdout.contains("Diagnosis"))
        #expect(try runVolley(["diagnose", String(ids[1])], home: home).status == 0)
        let together = try runVolley(["diagnose", "E1"], home: home)
        #expect(together.status == 0, "\(together.stderr)")
        #expect(together.stdout.contains("Matrix E1") && together.stdout.contains("4 runs"))
        // The field report's "Overall": one row per offset, then all; every timing column in ms.
        let overall = block(r.stdout, from: "overall")
        #expect(overall.count == 5, "\(overall)")
        let header = overall.count > 1 ? String(overall[1]) : ""
        for column in ["fastest ms", "median ms", "mean ms", "slowest ms"] {
            #expect(header.contains(column), "\(header)")
        }
        #expect(overall.dropFirst(2).map { $0.split(separator: " ").first ?? "" } == ["10ms", "30ms", "all"])
        // Half the requests go to /status/500 in every offset.
        #expect(overall.dropFirst(2).allSatisfy { $0.contains("50.0%") }, "\(overall)")
        let perRoute = block(r.stdout, from: "per route")
        #expect(perRoute.count == 5, "\(perRoute)")
        #expect(perRoute.last?.hasPrefix("  all routes combined") == true)
        #expect(block(r.stdout, from: "count 4").dropFirst().first?.contains("slowest ms") == true)
        // The report draws the probe across the cells.
        let html = FileManager.default.temporaryDirectory.appendingPathComponent("m-\(UUID().uuidString).html").path
        defer { try? FileManager.default.removeItem(atPath: html) }
        #expect(try runVolley(["experiment", "E1", "--html", html], home: home).status == 0)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("Server side across the cells") && page.contains("<th>median ms</th>"))
    }

    @Test func aSweepReportShowsTheFindingsItPrintedAndTheProbesAcrossLevels() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        // Every third request is answered with a reset and no 5xx ever: a finding without services.
        let r = try runVolley(
            [
                "sweep", server.baseURL + "/reset/3", "--concurrency", "1,2", "-d", "2s", "--probe",
                "pid:\(getpid())", "--json",
            ],
            limit: 60,
            home: home
        )
        try await server.shutdown()
        #expect(r.status == 0, "\(r.stderr)")
        let output = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let findings = try #require(output["findings"] as? [[String: Any]])
        let titles = findings.compactMap { $0["title"] as? String }
        #expect(!titles.isEmpty, "\(r.stderr)")
        let html = FileManager.default.temporaryDirectory.appendingPathComponent("s-\(UUID().uuidString).html").path
        defer { try? FileManager.default.removeItem(atPath: html) }
        #expect(try runVolley(["experiment", "E1", "--html", html], home: home).status == 0)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        for title in titles {
            #expect(r.stderr.contains(title), "printed: \(title)")
            #expect(page.contains(title), "in the report: \(title)")
        }
        for evidence in findings.flatMap({ $0["evidence"] as? [String] ?? [] }) {
            #expect(page.contains(evidence.replacingOccurrences(of: "'", with: "&#39;")), "\(evidence)")
        }
        #expect(page.contains("Server side across the levels"))
        // One chart per moving series of the probe (at most 12), each with the level boundaries.
        let charts = page.components(separatedBy: "class=\"probe-chart\"").count - 1
        #expect(charts >= 1 && charts <= 12, "\(charts) charts")
        #expect(page.contains("data-series=\"proc.threads\"") || page.contains("data-series=\"proc.cpu_percent\""))
        #expect(page.components(separatedBy: "class=\"boundary\"").count - 1 == 2 * charts)
        #expect(page.contains(">c2</text>"))
    }

    @Test func showPrintsTheProbesAndTheFindingsTheRunPrinted() async throws {
        let server = try await TestServer.start()
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let live = try runVolley(
            ["run", server.baseURL + "/reset/3", "-c", "2", "-d", "2s", "--probe", "pid:\(getpid())"],
            home: home
        )
        try await server.shutdown()
        #expect(live.status == 0, "\(live.stderr)")
        let shown = try runVolley(["show", "last"], home: home)
        #expect(shown.status == 0)
        // The probe's lines and the diagnosis, exactly as the live run printed them.
        let probe = block(live.stdout, from: "Probe pid:")
        #expect(probe.count >= 3, "\(live.stdout.suffix(800))")
        #expect(probe.dropFirst().contains { $0.contains(" min ") && $0.contains(" median ") && $0.contains(" max ") })
        for line in probe { #expect(shown.stdout.contains(line + "\n"), "\(line)") }
        let diagnosis = block(live.stdout, from: "Diagnosis")
        #expect(diagnosis.contains { $0.contains("Connections dropped before any 5xx") }, "\(diagnosis)")
        let shownDiagnosis = block(shown.stdout, from: "Diagnosis")
        #expect(shownDiagnosis == diagnosis)
        #expect(!shown.stdout.contains("diagnosed again"))
        // A run saved without its findings (before the diagnosis existed) is diagnosed again
        // from its saved summary, and the text says so.
        let json = try runVolley(["export", "last", "--format", "json"], home: home)
        var summary = try JSONReport.decode(json.stdout)
        summary.findings = nil
        let old = RunRecord(
            startedAt: Date(),
            label: "saved before findings",
            kind: "url",
            target: summary.target,
            plan: nil,
            command: ["run"],
            environment: .current(),
            summary: summary,
            exitCode: 0
        )
        let id = try HistoryStore(directory: home).save(old, histograms: nil)
        let again = try runVolley(["show", String(id)], home: home)
        #expect(again.status == 0)
        #expect(block(again.stdout, from: "Diagnosis").contains { $0.contains("Connections dropped before any 5xx") })
        #expect(again.stdout.contains("(diagnosed again from the saved summary"), "\(again.stdout.suffix(500))")
    }
}
