import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// `volley run --h2c/--http2 -m N` through the URL engine against the HTTP/2 test server
/// (swift-nio-http2's server side): counts exact by class, on both sides.
@Suite(.serialized) struct H2EngineTests {
    private func run(
        _ url: String,
        http: HTTPProtocolChoice = .h2c,
        streams: Int,
        model: LoadModel,
        insecure: Bool = false,
        timeout: Duration = .seconds(10),
        follow: Int = 0
    ) async throws -> RunSummary {
        try await runH2(
            url,
            http: http,
            streams: streams,
            model: model,
            insecure: insecure,
            timeout: timeout,
            follow: follow
        )
    }

    private func closed(_ connections: Int, requests: Int) -> LoadModel { closedH2(connections, requests: requests) }

    @Test func closedModelStreamsAreCountedExactly() async throws {
        let server = try await H2TestServer.start()
        let summary = try await run(server.url("/"), streams: 4, model: closed(2, requests: 200))
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.completed == 200)
        #expect(summary.status == ["200": 200])
        #expect(summary.failed == 0)
        #expect(summary.connectionsOpened == 2)
        #expect(counts.connectionsAccepted == 2)
        #expect(counts.streamsOpened == 200)
        #expect(counts.responsesSent == 200)
        #expect(counts.maxConcurrentStreamsObserved <= 4)
    }

    /// Software nobody here wrote: nginx over h2c (scripts/start-nginx), 4 connections × 10
    /// streams in the closed model, where a read's new requests may wait for the rest of
    /// their write (``H2WriteHold``). Every request nginx logged is counted once, and the
    /// hold stays within its bound: half of the requests left within 50 µs of their start.
    @Test func closedModelStreamsAgainstNginxAreCountedAsNginxLogsThem() async throws {
        guard let base = fieldTarget("VOLLEY_TEST_NGINX_H2C"),
            let log = ProcessInfo.processInfo.environment["VOLLEY_TEST_NGINX_H2C_LOG"]
        else {
            try Test.cancel("VOLLEY_TEST_NGINX_H2C(_LOG) not set (eval \"$(scripts/start-nginx)\")")
        }
        // A path of this run's own: other suites may use the same nginx meanwhile.
        let path = "?write-hold=\(UInt32.random(in: 0...UInt32.max))"
        let s = try await run(
            (base.hasSuffix("/") ? base : base + "/") + path,
            streams: 10,
            model: closed(4, requests: 3_000)
        )
        let logged = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .filter { $0.hasSuffix("/" + path) }
        #expect(logged.count == 3_000)
        #expect(logged.allSatisfy { $0 == "HTTP/2.0 200 /\(path)" })
        #expect(s.completed == 3_000)
        #expect(s.failed == 0)
        #expect(s.connectionsOpened == 4)
        let send = try #require(s.phases?.send)
        #expect(send.count == 3_000)
        #expect(send.p50Ms <= 0.05, "\(send)")
    }

    @Test func theServersStreamLimitIsHonoured() async throws {
        let server = try await H2TestServer.start(.init(maxConcurrentStreams: 3))
        let summary = try await run(server.url("/delay/5"), streams: 10, model: closed(1, requests: 60))
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.completed == 60)
        #expect(summary.failed == 0)
        #expect(counts.streamLimitViolations == 0)
        #expect(counts.maxConcurrentStreamsObserved <= 3)
    }

    @Test func theFirstBurstWaitsForTheServersSettings() async throws {
        // -m 10 against a 3-stream server: before its SETTINGS arrives only the first stream
        // goes out, so the limit holds from the first request, not only once acknowledged.
        let server = try await H2TestServer.start(.init(maxConcurrentStreams: 3))
        let summary = try await run(server.url("/delay/5"), streams: 10, model: closed(1, requests: 30))
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.completed == 30)
        #expect(summary.failed == 0)
        #expect(counts.streamsOpenedBeforeSettingsAck == 1)
        #expect(counts.maxConcurrentStreamsBeforeSettingsAck == 1)
        #expect(counts.maxConcurrentStreamsObserved <= 3)
        #expect(counts.streamLimitViolations == 0)
    }

    @Test func goAwayLosesNoRequest() async throws {
        let server = try await H2TestServer.start(.init(goAwayAfter: 10))
        let summary = try await run(server.url("/"), streams: 4, model: closed(2, requests: 100))
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.completed == 100, "\(summary.transportErrors)")
        #expect(summary.status == ["200": 100])
        #expect(counts.goAwaysSent >= 9)
        #expect(counts.responsesSent == 100)
        #expect(summary.connectionsOpened == counts.connectionsAccepted)
    }

    @Test func resetStreamsAreTheirOwnClass() async throws {
        let server = try await H2TestServer.start(.init(resetEvery: 5))
        let summary = try await run(server.url("/"), streams: 4, model: closed(1, requests: 100))
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.requests == 100)
        #expect(summary.completed == 80)
        #expect(summary.transportErrors == ["stream_reset": 20])
        #expect(counts.resetsSent == 20)
        // The connection stays: one connection for all of them.
        #expect(summary.connectionsOpened == 1)
    }

    @Test func theOpenModelsArrivalsAreEachOneStream() async throws {
        let server = try await H2TestServer.start()
        let schedule = ArrivalSchedule(rate: 400, duration: .seconds(1))
        let summary = try await run(
            server.url("/"),
            streams: 4,
            model: .open(schedule: schedule, maxConnections: 10, preconnect: 1)
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.scheduled == 400)
        #expect(summary.completed == 400)
        #expect(counts.streamsOpened == 400)
    }

    @Test func aTimedOutStreamIsResetAndTheConnectionStays() async throws {
        let server = try await H2TestServer.start()
        let summary = try await run(
            server.url("/delay/2000"),
            streams: 2,
            model: closed(1, requests: 4),
            timeout: .milliseconds(200)
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.transportErrors == ["timeout": 4])
        #expect(counts.resetsReceived == 4)
        #expect(summary.connectionsOpened == 1)
    }

    @Test func tlsNegotiatesH2WithALPNOrFailsClearly() async throws {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        let cert = fixtures.appendingPathComponent("cert.pem").path
        let key = fixtures.appendingPathComponent("key.pem").path
        let server = try await H2TestServer.start(.init(mode: .tls(certificatePath: cert, keyPath: key)))
        let summary = try await run(
            server.url("/json"),
            http: .http2,
            streams: 4,
            model: closed(1, requests: 40),
            insecure: true
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.completed == 40)
        #expect(counts.http2Connections == 1)
        #expect(summary.phases?[.tls] != nil)

        let refusing = try await H2TestServer.start(.init(mode: .tlsRefusingH2(certificatePath: cert, keyPath: key)))
        let refused = try await run(
            refusing.url("/"),
            http: .http2,
            streams: 1,
            model: closed(1, requests: 3),
            insecure: true
        )
        try await refusing.shutdown()
        #expect(refused.completed == 0)
        #expect(refused.failed == 3)
        #expect(refused.transportErrorSamples.values.contains { $0.contains("did not agree to HTTP/2") })
    }

    /// `--follow` over HTTP/2: a hop on the same host is another stream (with the hop's own
    /// request, not the run's again); a hop to another host is an HTTP/2 connection there.
    @Test func redirectsAreFollowedOverHTTP2() async throws {
        let server = try await H2TestServer.start()
        let summary = try await run(server.url("/redirect/3"), streams: 4, model: closed(2, requests: 40), follow: 5)
        #expect(summary.completed == 40)
        #expect(summary.status == ["200": 40])
        let counts = server.counts
        #expect(counts.requestsPerPath == ["/redirect/3": 40, "/redirect/2": 40, "/redirect/1": 40, "/redirect/0": 40])
        #expect(counts.connectionsAccepted == 2)

        let other = try await H2TestServer.start()
        let moved = try await run(
            server.url("/elsewhere/\(other.port)"),
            streams: 2,
            model: closed(1, requests: 10),
            follow: 2
        )
        let there = other.counts
        try await other.shutdown()
        try await server.shutdown()
        #expect(moved.completed == 10)
        #expect(moved.status == ["200": 10])
        #expect(there.requestsPerPath == ["/json": 10])
        #expect(there.http2Connections == there.connectionsAccepted)
        #expect(there.http1Requests == 0)
    }
}
