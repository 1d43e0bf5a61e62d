import Foundation
import Testing
import VolleyCore
import VolleyReport
import VolleyTestSupport

@testable import volley

/// `--follow N` from the command line: parsed into the run's configuration, refused with the
/// flag's name when out of range or given with a plan, and shown in the JSON and terminal
/// summaries of a real run.
@Suite(.serialized) struct FollowFlagTests {
    @Test func runAndTimeTakeFollow() throws {
        let run = try RunCommand.parse(["http://127.0.0.1:8080/", "--follow", "5"]).makeConfiguration()
        #expect(run.followRedirects == 5)
        let off = try RunCommand.parse(["http://127.0.0.1:8080/"]).makeConfiguration()
        #expect(off.followRedirects == 0)
        let time = try TimeCommand.parse(["http://127.0.0.1:8080/", "--follow", "2"]).job()
        #expect(try time.request.configuration().followRedirects == 2)
    }

    @Test func theExperimentsPassFollowToEachRun() throws {
        let url = "http://127.0.0.1:8080/"
        let sweep = try SweepCommand.parse([url, "--concurrency", "1,2", "--follow", "2"]).job(level: 2, closed: true)
        #expect(try sweep.request.configuration().followRedirects == 2)
        let findMax = try FindMaxCommand.parse([url, "--slo", "p99<1s", "--follow", "3"]).job(rate: 10)
        #expect(try findMax.request.configuration().followRedirects == 3)
        let ab = try AbCommand.parse(["--a", url, "--b", url + "x", "--follow", "4"])
        #expect(try ab.job(for: url + "x").request.configuration().followRedirects == 4)
        #expect(throws: RunCommand.followWithPlan) {
            try AbCommand.parse(["--a", "plan.yaml", "--b", url, "--follow", "1"]).job(for: "plan.yaml")
        }
    }

    @Test func aFollowOutOfRangeOrWithAPlanIsAnInputError() throws {
        let negative = try runVolley(["run", "http://127.0.0.1:1/", "-n", "1", "--follow", "-1"])
        #expect(negative.status == 2)
        #expect(negative.stderr.contains("--follow must be between 0 and 100 hops, got -1"), "\(negative.stderr)")
        #expect(negative.stderr.contains("hint: e.g. --follow 5"), "\(negative.stderr)")
        let plan = FileManager.default.temporaryDirectory.appendingPathComponent("follow-\(UUID().uuidString).yaml")
        try
            "name: p\nbase_url: http://127.0.0.1:1\nscenarios:\n  s:\n    vus: 1\n    iterations: 1\n    steps:\n      - get: /\n"
            .write(to: plan, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: plan) }
        let withPlan = try runVolley(["run", plan.path, "--follow", "3"])
        #expect(withPlan.status == 2)
        #expect(withPlan.stderr.contains("--follow does not apply to a plan file"), "\(withPlan.stderr)")
        #expect(withPlan.stderr.contains("max_redirects"), "\(withPlan.stderr)")
    }

    @Test func theSummariesCountTheHopsAndTheCutChains() async throws {
        let server = try await RedirectServer.start()
        let followed = try runVolley(
            ["run", server.url("/chain/3"), "-c", "2", "-n", "10", "--follow", "5", "--json", "-q", "--no-save"]
        )
        let looped = try runVolley(
            ["run", server.url("/loop"), "-c", "1", "-n", "4", "--follow", "2", "--json", "-q", "--no-save"]
        )
        try await server.shutdown()
        #expect(followed.status == 0, "\(followed.stderr)")
        let summary = try JSONReport.decode(followed.stdout)
        #expect(summary.completed == 10)
        #expect(summary.status == ["200": 10])
        #expect(summary.redirectsFollowed == 30)
        #expect(followed.stdout.contains("\"redirects_followed\" : 30"), "\(followed.stdout)")
        #expect(followed.stderr.contains("Redirects    30 followed"), "\(followed.stderr)")
        let loop = try JSONReport.decode(looped.stdout)
        #expect(loop.status == ["302": 4])
        #expect(loop.redirectsFollowed == 8)
        #expect(loop.redirectLimit == 4)
        #expect(looped.stderr.contains("4 ended at the --follow limit"), "\(looped.stderr)")
    }
}
