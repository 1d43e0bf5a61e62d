import Testing
import VolleyCore
import VolleyReport

private func sampleSummary(open: Bool = false) -> RunSummary {
    var r = Recorder()
    for i in 0..<95 {
        r.recordResponse(
            status: 200,
            latencyNanos: UInt64(i + 1) * 1_000_000,
            serviceNanos: 500_000,
            bytesIn: 100,
            requestID: "run-\(i)",
            completedAtNanos: UInt64(i) * 10_000_000
        )
    }
    for _ in 0..<3 {
        r.recordResponse(
            status: 503,
            latencyNanos: 2_000_000,
            serviceNanos: nil,
            bytesIn: 10,
            requestID: "x",
            completedAtNanos: 0
        )
    }
    r.recordFailure(.reset, message: "Connection reset by peer")
    r.recordFailure(.noResponse)
    let model: LoadModel =
        open
        ? .open(schedule: ArrivalSchedule(rate: 100, duration: .seconds(1)), maxConnections: 10, preconnect: 0)
        : .closed(connections: 4, limit: .requests(100))
    return RunSummary(
        target: "http://127.0.0.1:8080/",
        method: "GET",
        model: model,
        threads: 2,
        recorder: r,
        duration: 1.0,
        timeline: [TimelineEntry(t: 1, seconds: 1, stats: IntervalStats())],
        interrupted: false
    )
}

@Suite struct ReportTests {
    @Test func humanSummaryShowsTheFiguresThatMatter() {
        let text = SummaryRenderer().render(sampleSummary())
        #expect(text.contains("GET http://127.0.0.1:8080/"))
        #expect(text.contains("closed model, 4 connections, 2 threads"))
        #expect(text.contains("98 completed, 2 failed, 0 unsent of 100 scheduled"))
        #expect(text.contains("5 errors (5.00%)"))
        #expect(text.contains("200: 95"))
        #expect(text.contains("503: 3"))
        #expect(text.contains("reset: 1"))
        #expect(text.contains("no response: 1"))
        #expect(text.contains("Connection reset by peer"))
        #expect(text.contains("run-94"))
        #expect(!text.contains("\u{1B}["), "no colour codes when colour is off")
        #expect(!text.contains("Service time"))
    }

    @Test func openModelSummaryAddsServiceTimeAndLag() {
        let text = SummaryRenderer().render(sampleSummary(open: true))
        #expect(text.contains("open model, 100 req/s target"))
        #expect(text.contains("Service time"))
        #expect(text.contains("sent late"))
    }

    @Test func colourOnlyWhenEnabled() {
        let text = SummaryRenderer(style: Style(enabled: true)).render(sampleSummary())
        #expect(text.contains("\u{1B}["))
    }

    @Test func jsonHasTheDocumentedFieldsAndRoundTrips() throws {
        let summary = sampleSummary(open: true)
        let json = try JSONReport.encode(summary)
        for key in [
            "\"requests\"", "\"completed\"", "\"errors\"", "\"duration_s\"", "\"rps\"", "\"latency_ms\"", "\"p50\"",
            "\"p90\"",
            "\"p95\"", "\"p99\"", "\"p999\"", "\"max\"", "\"min\"", "\"mean\"", "\"service_time_ms\"", "\"status\"",
            "\"transport_errors\"", "\"unsent\"", "\"slowest\"", "\"timeline\"", "\"in_flight\"", "\"scheduled\"",
        ] {
            #expect(json.contains(key), "missing \(key)")
        }
        #expect(json.contains("\"503\" : 3"))
        #expect(json.contains("\"no_response\" : 1"))
        #expect(try JSONReport.decode(json) == summary)
    }

    @Test func progressIsPlainLinesOffATerminalAndABarOnOne() {
        var stats = IntervalStats()
        stats.completed = 500
        stats.errors = 5
        stats.failed = 5
        let entry = TimelineEntry(t: 1, seconds: 1, stats: stats)
        var plain = ProgressRenderer(
            style: Style(enabled: false),
            isTTY: false,
            expectedRequests: 1010,
            expectedSeconds: nil
        )
        let line = plain.update(with: entry)
        #expect(line.hasSuffix("\n"))
        #expect(line.contains("505 req (50%)"))
        #expect(line.contains("500 rps"))
        #expect(line.contains("errors 5 (total 0.99%)"))
        var tty = ProgressRenderer(style: Style(enabled: false), isTTY: true, expectedRequests: nil, expectedSeconds: 4)
        let bar = tty.update(with: entry)
        #expect(bar.hasPrefix("\u{1B}[2K\r"))
        #expect(bar.contains("[=====               ]"))
        #expect(!line.contains("vus"), "URL runs have no VUs")
    }

    /// A plan's progress line and summary show its VUs, as k6 shows vus and vus_max.
    @Test func planRunsShowTheirVUs() throws {
        var stats = IntervalStats()
        stats.completed = 100
        stats.inFlight = 57
        stats.openConnections = 60
        stats.vus = 60
        var progress = ProgressRenderer(
            style: Style(enabled: false),
            isTTY: false,
            expectedRequests: nil,
            expectedSeconds: 10
        )
        let line = progress.update(with: TimelineEntry(t: 1, seconds: 1, stats: stats))
        #expect(line.contains("vus 60  in flight 57"))
        var s = RunSummary(
            target: "http://127.0.0.1:8080",
            method: "*",
            model: .closed(connections: 0, limit: .duration(.seconds(2))),
            threads: 1,
            recorder: Recorder(),
            duration: 2,
            timeline: [
                TimelineEntry(t: 1, seconds: 1, stats: stats),
                TimelineEntry(t: 2, seconds: 1, stats: IntervalStats()),
            ],
            interrupted: false
        )
        s.iterations = IterationStats(completed: 1, interrupted: 0, dropped: 0)
        #expect(SummaryRenderer(style: Style(enabled: false)).render(s).contains("VUs          60 at most"))
        let json = try JSONReport.encode(s)
        #expect(json.contains("\"vus\" : 60"))
        #expect(json.contains("\"connections\" : 60"))
        #expect(try JSONReport.decode(json).timeline.map(\.vus) == [60, nil])
    }
}
