import Foundation
import Testing
import VolleyCore
import VolleyLab
import VolleyProbes

@Suite struct PrometheusTextTests {
    @Test func parsesNamesLabelsAndSpecialValues() {
        let values = PrometheusText.parse(
            """
            # HELP lab_db_pool_waiting Requests waiting.
            # TYPE lab_db_pool_waiting gauge
            lab_db_pool_waiting 12
            lab_http_requests_total{route="GET /books/",method="GET",status="200"} 554 1700000000000
            bucket{le="+Inf"} +Inf
            weird NaN
            not a number here
            """
        )
        #expect(values["lab_db_pool_waiting"] == 12)
        #expect(values[#"lab_http_requests_total{route="GET /books/",method="GET",status="200"}"#] == 554)
        #expect(values[#"bucket{le="+Inf"}"#] == .infinity)
        #expect(values["weird"]?.isNaN == true)
        #expect(values.count == 4)
    }

    @Test func ratesComeFromCountersAndSkipResets() {
        var tracker = RateTracker()
        #expect(tracker.rate("commits", value: 100, at: 0) == nil)
        #expect(tracker.rate("commits", value: 150, at: 0.5) == 100)
        #expect(tracker.rate("commits", value: 10, at: 1.5) == nil)  // reset: no negative rate
        #expect(tracker.rate("commits", value: 30, at: 2.5) == 20)
    }

    @Test func unknownProbeFormsAreRefusedWithTheFormsThatExist() {
        #expect(throws: ProbeError.self) { try ProbeFactory.make("ftp://x") }
        do {
            _ = try ProbeFactory.make("mysql://root:pw@127.0.0.1/db")
        } catch let error as ProbeError {
            #expect(error.description.contains("mysql://***@127.0.0.1/db"))
            #expect(!error.description.contains("pw"))
            #expect(error.description.contains("pid:N"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func seriesPatternsAreAnchoredWildcards() {
        let pool = SeriesPattern("lab_db_pool_*")
        #expect(pool.matches("lab_db_pool_waiting"))
        #expect(!pool.matches("x_lab_db_pool_waiting"))
        let total = SeriesPattern("*_total")
        #expect(total.matches("lab_db_queries_total"))
        #expect(!total.matches("lab_db_queries_total_x"))
        let middle = SeriesPattern("lab_*_seconds_total")
        #expect(middle.matches("lab_log_seconds_total"))
        #expect(!middle.matches("lab_log_lines_total"))
        #expect(SeriesPattern("exact").matches("exact"))
        #expect(!SeriesPattern("exact").matches("exactly"))
        #expect(SeriesPattern("*").matches("anything{a=\"b\"}"))
    }

    @Test func credentialsAreRedacted() {
        #expect(PrometheusProbe.redact("postgres://user:secret@127.0.0.1/db") == "postgres://***@127.0.0.1/db")
        #expect(PrometheusProbe.redact("http://127.0.0.1/metrics") == "http://127.0.0.1/metrics")
        #expect(
            PrometheusProbe(url: URL(string: "http://a:b@127.0.0.1:9/metrics")!).displayName
                == "http://127.0.0.1:9/metrics"
        )
    }
}

/// The lab's /metrics, sampled on the load's clock while Volley saturates its pool.
@Suite(.serialized) struct PrometheusProbeTests {
    @Test func thePoolIsSeenFullWhileTheLoadRuns() async throws {
        let lab = try await LabServer.start(
            smallLab {
                $0.poolSize = 1
                $0.poolOverflow = 1
                $0.queryLatency = .milliseconds(20)
            }
        )
        let probe = PrometheusProbe(url: URL(string: "\(lab.baseURL)/metrics")!)
        try await probe.check()
        let sampler = ProbeSampler(probe)
        sampler.start(at: .now, interval: .milliseconds(250))
        _ = try await hammer("\(lab.baseURL)/books/", connections: 8, duration: .milliseconds(1500))
        let result = await sampler.stop()
        // Only the chosen series, when some are chosen.
        let chosen = PrometheusProbe(url: URL(string: "\(lab.baseURL)/metrics")!, keep: ["lab_db_pool_*"])
        let some = try await chosen.sample(at: 0)
        #expect(!some.isEmpty && some.keys.allSatisfy { $0.hasPrefix("lab_db_pool_") })
        await lab.stop()
        let checkedOut = try #require(result.series["lab_db_pool_checked_out"])
        #expect(checkedOut.count >= 4)
        #expect(checkedOut.map { $0[1] }.max() == 2)
        #expect((result.series["lab_db_pool_waiting"]?.map { $0[1] }.max() ?? 0) >= 4)
        // Samples carry seconds into the run, in order.
        #expect(checkedOut.map { $0[0] } == checkedOut.map { $0[0] }.sorted())
        #expect(result.failedScrapes == 0)
        #expect(result.kind == "prometheus")
    }

    /// Stopping a sampler cancels its task; on Linux, cancelling an async URLSession request
    /// while its answer arrives deadlocked (a full test run hung in `ProbeSampler.stop`, seen
    /// with a debugger). Many stops in the middle of scrapes, each bounded.
    @Test(.timeLimit(.minutes(1))) func stoppingDuringScrapesNeverHangs() async throws {
        let lab = try await LabServer.start(smallLab { _ in })
        var rng = SystemRandomNumberGenerator()
        var samples = 0
        for _ in 0..<60 {
            let sampler = ProbeSampler(PrometheusProbe(url: URL(string: "\(lab.baseURL)/metrics")!))
            sampler.start(at: .now, interval: .milliseconds(2))
            try await Task.sleep(for: .microseconds(Int.random(in: 500...8_000, using: &rng)))
            samples += await sampler.stop().series["lab_db_pool_checked_out"]?.count ?? 0
        }
        await lab.stop()
        #expect(samples > 0)
    }
}
