import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// What the server said when it failed, as both engines keep it: error body excerpts per
/// status and captures that found nothing, bounded and redacted.
@Suite(.serialized) struct ErrorSampleTests {
    static let pool = "QueuePool limit of size 5 overflow 10 reached, connection timed out"

    @Test func closedRunsKeepTheFirstErrorBodiesPerStatus() async throws {
        let server = try await TestServer.start()
        let s = try await runLoad(server.baseURL + "/error/500", model: closed(4, requests: 200))
        try await server.shutdown()
        #expect(s.status["500"] == 200)
        let samples = try #require(s.errorSamples?["500"])
        #expect(samples.map(\.excerpt) == [Self.pool])
        // Two loops sample at most three responses each: bounded, whatever the error count.
        let sampled = samples.compactMap(\.count).reduce(0, +)
        #expect(sampled >= 1 && sampled <= 2 * ResponseSamples.maxPerKey, "\(sampled)")
    }

    @Test func successfulResponsesLeaveNoSamples() async throws {
        let server = try await TestServer.start()
        let s = try await runLoad(server.baseURL + "/", model: closed(2, requests: 50))
        try await server.shutdown()
        #expect(s.status["200"] == 50)
        #expect(s.errorSamples == nil)
    }

    @Test func eachStatusKeepsItsOwnSamples() async throws {
        let server = try await TestServer.start()
        let s = try await runLoad(server.baseURL + "/mix", model: closed(2, requests: 100))
        try await server.shutdown()
        #expect(s.errorSamples?["500"]?.map(\.excerpt) == ["mix error"])
        #expect(s.errorSamples?["404"]?.map(\.excerpt) == ["mix not found"])
        #expect(s.errorSamples?["200"] == nil)
    }

    @Test func openRunsKeepChunkedErrorBodiesDechunked() async throws {
        let server = try await TestServer.start()
        let model = LoadModel.open(
            schedule: ArrivalSchedule(rate: 100, duration: .milliseconds(300)),
            maxConnections: 8,
            preconnect: 2
        )
        let s = try await runLoad(
            server.baseURL + "/error/503?chunked=1&body=worker%20timeout%3A%20all%2016%20threads%20busy",
            model: model
        )
        try await server.shutdown()
        #expect(s.status["503"] == 30)
        #expect(s.errorSamples?["503"]?.map(\.excerpt) == ["worker timeout: all 16 threads busy"])
    }

    @Test func excerptsAreRedactedAndBounded() async throws {
        let server = try await TestServer.start()
        let secret = try await runLoad(
            server.baseURL
                + "/error/500?body=could%20not%20connect%20to%20postgresql%3A%2F%2Fu%3Asecret%40host%2Fdb%0A%1B%5B31m",
            model: closed(1, requests: 5)
        )
        let long = try await runLoad(
            server.baseURL + "/error/502?body=" + String(repeating: "x", count: 1000),
            model: closed(1, requests: 2)
        )
        try await server.shutdown()
        let excerpt = try #require(secret.errorSamples?["500"]?.first?.excerpt)
        #expect(excerpt == "could not connect to postgresql://***@host/db \\u{1B}[31m")
        #expect(!excerpt.contains("secret"))
        let cut = try #require(long.errorSamples?["502"]?.first?.excerpt)
        #expect(cut == String(repeating: "x", count: ResponseSamples.excerptBytes) + "…")
    }

    @Test func plansKeepErrorBodiesAndSayWhichCaptureFoundNothing() async throws {
        let server = try await TestServer.start()
        let plan = Plan(
            name: "samples",
            baseURL: server.baseURL,
            scenarios: [
                Scenario(
                    name: "s",
                    executor: .perVUIterations(vus: 2, iterations: 5, maxDuration: .seconds(10)),
                    steps: [
                        .get("/error/500", name: "login", captures: [.json("token", "$.token")]),
                        .get("/", name: "home"),
                    ]
                )
            ]
        )
        let s = try await PlanEngine(plan: plan, threads: 1).run()
        try await server.shutdown()
        #expect(s.status["500"] == 10)
        #expect(s.errorSamples?["500"]?.map(\.excerpt) == [Self.pool])
        let byName = Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
        #expect(byName["login"]?.errorSamples?["500"]?.map(\.excerpt) == [Self.pool])
        #expect(byName["home"]?.errorSamples == nil)
        let failures = try #require(s.captureFailureSamples)
        #expect(failures.count == ResponseSamples.maxPerKey)
        let first = try #require(failures.first)
        #expect(first.request == "login")
        #expect(first.capture == "token")
        #expect(first.source == "json $.token")
        #expect(first.status == 500)
        #expect(first.excerpt == Self.pool)
    }

    @Test func aCompressedErrorPageIsSampledDecodedWhenTheRunAskedForCompression() async throws {
        let server = try await TestServer.start()
        let spec = RequestSpec(
            url: try TargetURL(parsing: server.baseURL + "/encoded/gzip?status=500"),
            headers: [HTTPHeader(name: "Accept-Encoding", value: "gzip")]
        )
        let config = RunConfiguration(request: spec, model: closed(1, requests: 3), threads: 1)
        let asked = try await LoadEngine(configuration: config).run()
        try await server.shutdown()
        let sample = try #require(asked.errorSamples?["500"]?.first)
        // Decoded, and its token masked like any secret in a sample.
        #expect(sample.excerpt.hasPrefix("{\"id\":42,\"token\":\"***\",\"items\""))
        #expect(asked.status == ["500": 3])
    }
}
