import Testing
import VolleyCore

@testable import VolleyReport

@Suite struct HTMLReportTests {
    func summary() -> (RunSummary, RunHistograms) {
        var recorder = Recorder()
        var timeline: [TimelineEntry] = []
        for second in 1...5 {
            var interval = IntervalStats()
            for i in 0..<100 {
                let nanos = UInt64(1_000_000 * (1 + i % 40))
                recorder.recordResponse(
                    status: i % 25 == 0 ? 503 : 200,
                    latencyNanos: nanos,
                    serviceNanos: nanos,
                    bytesIn: 100,
                    requestID: "id-\(second)-\(i)",
                    completedAtNanos: UInt64(second) * 1_000_000_000
                )
                interval.completed += 1
                _ = interval.latency.record(LatencyHistogram.micros(nanos))
            }
            timeline.append(TimelineEntry(t: Double(second), seconds: 1, stats: interval))
        }
        var s = RunSummary(
            target: "http://127.0.0.1:8080/a?b=<c>",
            method: "GET",
            model: .closed(connections: 4, limit: .duration(.seconds(5))),
            threads: 2,
            recorder: recorder,
            duration: 5,
            timeline: timeline,
            interrupted: false
        )
        s.thresholds = [
            ThresholdResult(expression: "p(95) < 30ms", request: nil, actual: 38, passed: false)
        ]
        s.checks = [CheckResult(name: "GET /a › status is 200", passes: 480, fails: 20)]
        return (s, RunHistograms(latency: recorder.latency, serviceTime: recorder.serviceTime))
    }

    @Test func theReportShowsTheNumbersAndIsSelfContained() {
        let (s, h) = summary()
        let html = HTMLReport.render(s, histograms: h, context: ReportContext(runID: 7, label: "cache <on>"))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("run #7"))
        #expect(html.contains("cache &lt;on&gt;"))
        #expect(html.contains("http://127.0.0.1:8080/a?b=&lt;c&gt;"))
        #expect(html.contains(">500<"))  // requests card
        #expect(html.contains("HTTP 503"))
        #expect(html.contains("p(95) &lt; 30ms"))
        #expect(html.contains("GET /a › status is 200"))
        #expect(!html.contains("Stopped early"))
        #expect(html.components(separatedBy: "<svg").count - 1 == 4)
        for axis in ["time into test (s)", "latency (ms)", "percentile", "per second"] {
            #expect(html.contains(axis), "axis label \(axis)")
        }
        // Nothing is fetched: no external sources, links or scripts.
        for reference in ["src=", "href=", "url(", "<script", "@import"] {
            #expect(!html.contains(reference), "\(reference)")
        }
    }

    @Test func planRunsChartTheirVUs() {
        var (s, h) = summary()
        #expect(!HTMLReport.render(s, histograms: h, context: ReportContext()).contains(">VUs<"))
        for i in s.timeline.indices { s.timeline[i].vus = 60 }
        #expect(HTMLReport.render(s, histograms: h, context: ReportContext()).contains(">VUs<"))
    }

    @Test func aRunStoppedByAThresholdSaysSo() {
        var (s, h) = summary()
        s.abortedBy = "max(pool_waiting) < 5"
        let html = HTMLReport.render(s, histograms: h, context: ReportContext(runID: 8, label: nil))
        #expect(html.contains("Stopped early: threshold \"max(pool_waiting) &lt; 5\" failed"))
    }

    @Test func niceTicksAreRound() {
        #expect(SVGChart.niceTicks(from: 0, to: 9.3) == [0, 2, 4, 6, 8, 10])
        #expect(SVGChart.niceTicks(from: 0, to: 1500) == [0, 500, 1000, 1500])
        let small = SVGChart.niceTicks(from: 0, to: 0.27)
        #expect(small.count == 4)
        #expect(abs(small[1] - 0.1) < 1e-9 && abs(small[3] - 0.3) < 1e-9)
    }

    @Test func anEmptyRunStillRenders() {
        let s = RunSummary(
            target: "http://127.0.0.1:1/",
            method: "GET",
            model: .closed(connections: 1, limit: .requests(1)),
            threads: 1,
            recorder: Recorder(),
            duration: 0,
            timeline: [],
            interrupted: false
        )
        let html = HTMLReport.render(s, histograms: nil, context: ReportContext())
        #expect(html.contains("no data"))
    }
}
