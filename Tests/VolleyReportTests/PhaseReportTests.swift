import Testing
import VolleyCore
import VolleyReport

/// 12 TLS connections for 1,200 requests (waits of 1…100 ms) under "GET /a", none under "GET /b".
private func phasedSummary() -> RunSummary {
    var overall = Recorder()
    var named = Recorder(slowestCapacity: 0)
    for i in 0..<1200 as Range<UInt64> {
        overall.recordResponse(
            status: 200,
            latencyNanos: 60_000_000,
            serviceNanos: nil,
            bytesIn: 10,
            requestID: "r",
            completedAtNanos: i
        )
        let sample = PhaseSample(
            dnsNanos: i == 0 ? 3_000_000 : nil,
            connectNanos: i % 100 == 0 ? 2_000_000 : nil,
            tlsNanos: i % 100 == 0 ? 30_000_000 : nil,
            sendNanos: 100_000,
            waitNanos: (1 + i % 100) * 1_000_000,
            receiveNanos: 4_000_000
        )
        overall.recordPhases(sample)
        named.recordPhases(sample)
    }
    var s = RunSummary(
        target: "https://example.test/",
        method: "GET",
        model: .closed(connections: 12, limit: .requests(1200)),
        threads: 1,
        recorder: overall,
        duration: 1,
        timeline: [],
        interrupted: false
    )
    s.requestsByName = [
        NamedRequestStats(name: "GET /a", recorder: named, duration: 1, skipped: 0, captureFailures: 0),
        NamedRequestStats(
            name: "GET /b",
            recorder: Recorder(slowestCapacity: 0),
            duration: 1,
            skipped: 0,
            captureFailures: 0
        ),
    ]
    return s
}

@Suite struct PhaseReportTests {
    @Test func theTerminalSummaryHasAPhasesBlock() throws {
        let text = SummaryRenderer().render(phasedSummary())
        let lines = text.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("  Phases (ms)") })
        #expect(lines[header].contains("p50") && lines[header].contains("p99") && lines[header].contains("max"))
        let rows = lines[(header + 1)...].prefix(6).map { $0.split(separator: " ").map(String.init) }
        #expect(rows.map { $0.first ?? "" } == ["dns", "connect", "tls", "send", "wait", "receive"])
        // wait (ttfb): p50 50, p95 95, p99 99, max 100 ms; 1,200 requests.
        #expect(rows[4] == ["wait", "(ttfb)", "50.0", "95.0", "99.0", "100.0", "1,200"])
        #expect(rows[2] == ["tls", "30.0", "30.0", "30.0", "30.0", "12"])
        #expect(text.contains("connections reused: 99.00% (12 new for 1,200 requests)"))
    }

    @Test func theTerminalShowsEachRequestNamesPhases() throws {
        let lines = SummaryRenderer().render(phasedSummary()).split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("  phases p95 (ms)") })
        #expect(
            lines[header].split(separator: " ").suffix(7)
                == ["dns", "connect", "tls", "send", "ttfb", "receive", "reused"]
        )
        let row = lines[header + 1].split(separator: " ").map(String.init)
        // GET /a: tls 30 ms, ttfb p95 95 ms, 99 % reused; GET /b recorded no phase: no row.
        #expect(row.prefix(2) == ["GET", "/a"])
        #expect(row[4] == "30.0" && row[6] == "95.0" && row.last == "99.00%")
        #expect(header + 2 >= lines.count || !lines[header + 2].hasPrefix("  GET /b"))
    }

    @Test func noPhasesNoBlock() {
        var s = phasedSummary()
        s.phases = nil
        let text = SummaryRenderer().render(s)
        #expect(!text.contains("Phases"))
        #expect(!text.contains("connections reused"))
    }

    @Test func theHTMLReportHasAPhasesTableAndOnePerName() {
        let html = HTMLReport.render(phasedSummary(), histograms: nil, context: ReportContext())
        #expect(html.contains("<h2>Phases</h2>"))
        #expect(html.contains("connections reused: 99.00% (12 new for 1,200 requests)"))
        #expect(html.contains("<tr><td>wait (ttfb)</td><td>1,200</td>"))
        #expect(html.contains("<h3>p95 ms per phase, by request name</h3>"))
        #expect(html.contains("<tr><td>GET /a</td><td>99.00%</td>"))
        let perName = html.components(separatedBy: "<h3>p95 ms per phase").last ?? ""
        #expect(perName.contains("<td>GET /a</td>"))
        #expect(!perName.contains("GET /b"), "a name without phases has no row")
        var old = phasedSummary()
        old.phases = nil
        old.requestsByName = nil
        #expect(!HTMLReport.render(old, histograms: nil, context: ReportContext()).contains("<h2>Phases</h2>"))
    }

    @Test func theJSONSummaryCarriesPhasesOverallAndPerName() throws {
        let text = try JSONReport.encode(phasedSummary())
        #expect(text.contains("\"phases\" : {"))
        #expect(text.contains("\"reuse_rate\" : 0.99"))
        #expect(text.contains("\"new_connections\" : 12"))
        let back = try JSONReport.decode(text)
        #expect(back.phases == phasedSummary().phases)
        #expect(back.requestsByName?.first?.phases?.tls?.count == 12)
    }
}
