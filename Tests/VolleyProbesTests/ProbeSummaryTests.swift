import Testing
import VolleyCore
import VolleyProbes

/// The probe lines `volley run` and `volley show` print.
@Suite struct ProbeSummaryTests {
    @Test func minMedianAndMaxAreOverTheLoadedSecondsWithTheNotes() {
        let result = ProbeResult(
            probe: "pid:7",
            series: [
                // Idle at 0 before and after the load; 40, 60, 90, 50 while it ran.
                "proc.cpu_percent": [[0, 0], [1, 40], [2, 60], [3, 90], [4, 50], [9, 0]],
                "proc.cores": [[0, 2], [9, 2]],
            ],
            failedScrapes: 0,
            kind: "process",
            notes: ["2 CPUs online"]
        )
        let lines = ProbeSummary.lines(result, loaded: 0.5...4)
        #expect(lines.first == "Probe pid:7 (process): 2 series, over the loaded seconds")
        // The series that moved first.
        #expect(lines.dropFirst().first == "  proc.cpu_percent  min 40  median 55  max 90")
        #expect(lines.contains("  proc.cores  min 2  median 2  max 2"), "no reading inside: all of them")
        #expect(lines.last == "  · 2 CPUs online")
        let unbounded = ProbeSummary.lines(result)
        #expect(unbounded.contains("  proc.cpu_percent  min 0  median 45  max 90"))
    }

    @Test func atMostTheLimitOfSeriesThenACount() {
        var series: [String: [[Double]]] = [:]
        for i in 0..<25 { series["s\(i)"] = [[0, Double(i)]] }
        let lines = ProbeSummary.lines(ProbeResult(probe: "x", series: series, failedScrapes: 3))
        #expect(lines.count == 22)
        #expect(lines.first == "Probe x: 25 series, 3 scrapes failed")
        #expect(lines.last == "  … 5 more series in the JSON summary")
    }
}
