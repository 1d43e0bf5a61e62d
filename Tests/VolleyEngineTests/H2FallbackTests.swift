import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// `--http2 --http1-fallback`: a connection whose server does not agree to h2 in ALPN speaks
/// HTTP/1.1 (each lane of its session a connection of its own), one that agrees speaks h2, and
/// the summary counts both; without the flag the refusal still fails every request clearly.
@Suite(.serialized) struct H2FallbackTests {
    private func tlsFiles() throws -> (cert: String, key: String) {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        return (fixtures.appendingPathComponent("cert.pem").path, fixtures.appendingPathComponent("key.pem").path)
    }

    private func run(
        _ url: String,
        fallback: Bool,
        streams: Int,
        model: LoadModel,
        threads: Int = 1
    ) async throws -> RunSummary {
        try await runH2(
            url,
            http: .http2,
            streams: streams,
            model: model,
            threads: threads,
            insecure: true,
            fallback: fallback
        )
    }

    private func closed(_ connections: Int, requests: Int) -> LoadModel { closedH2(connections, requests: requests) }

    @Test func aServerRefusingH2IsSpokenToInHTTP1LaneByLane() async throws {
        let files = try tlsFiles()
        let server = try await H2TestServer.start(
            .init(mode: .tlsRefusingH2(certificatePath: files.cert, keyPath: files.key))
        )
        // -c 2 -m 4: eight requests in flight, so eight HTTP/1.1 connections.
        let summary = try await run(server.url("/json"), fallback: true, streams: 4, model: closed(2, requests: 200))
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.scheduled == 200)
        #expect(summary.completed == 200, "\(summary.transportErrors) \(summary.transportErrorSamples)")
        #expect(summary.status == ["200": 200])
        #expect(summary.failed == 0)
        #expect(counts.http1Requests == 200)
        #expect(counts.responsesSent == 200)
        #expect(counts.http2Connections == 0)
        #expect(summary.connectionsOpened == 8)
        #expect(counts.connectionsAccepted == 8)
        #expect(summary.protocols == ["h2": 0, "http/1.1": 8])
        // Each connection's set-up is counted once: TLS phases for the eight new connections.
        #expect(summary.phases?.newConnections == 8)
        #expect(summary.phases?[.tls] != nil)
    }

    @Test func aServerWithoutALPNIsSpokenToInHTTP1() async throws {
        let files = try tlsFiles()
        let server = try await H2TestServer.start(
            .init(mode: .tlsWithoutALPN(certificatePath: files.cert, keyPath: files.key))
        )
        let summary = try await run(server.url("/"), fallback: true, streams: 2, model: closed(1, requests: 50))
        let strict = try await run(server.url("/"), fallback: false, streams: 2, model: closed(1, requests: 5))
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.completed == 50, "\(summary.transportErrorSamples)")
        #expect(summary.protocols == ["h2": 0, "http/1.1": 2])
        #expect(counts.http1Requests == 50)
        // Without the flag, the silence is a refusal: every request fails, saying so.
        #expect(strict.completed == 0 && strict.failed == 5)
        #expect(strict.transportErrorSamples.values.contains { $0.contains("(ALPN: none)") })
        #expect(strict.protocols == nil)
    }

    @Test func theFallbackFlagStillSpeaksH2WhereTheServerAgrees() async throws {
        let files = try tlsFiles()
        let server = try await H2TestServer.start(.init(mode: .tls(certificatePath: files.cert, keyPath: files.key)))
        let summary = try await run(server.url("/"), fallback: true, streams: 4, model: closed(2, requests: 200))
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.completed == 200)
        #expect(summary.connectionsOpened == 2)
        #expect(summary.protocols == ["h2": 2, "http/1.1": 0])
        #expect(counts.http2Connections == 2)
        #expect(counts.streamsOpened == 200)
        #expect(counts.http1Requests == 0)
    }

    /// 300 arrivals in 1 s, `-m 4`, on 2 loops, against a server refusing h2 in ALPN.
    private func openRunAgainstARefusal(fallback: Bool) async throws -> (RunSummary, H2TestServer.Counts) {
        let files = try tlsFiles()
        let server = try await H2TestServer.start(
            .init(mode: .tlsRefusingH2(certificatePath: files.cert, keyPath: files.key))
        )
        let schedule = ArrivalSchedule(rate: 300, duration: .seconds(1))
        let summary = try await run(
            server.url("/"),
            fallback: fallback,
            streams: 4,
            model: .open(schedule: schedule, maxConnections: 4, preconnect: 1),
            threads: 2
        )
        let counts = server.counts
        try await server.shutdown()
        return (summary, counts)
    }

    @Test func openModelArrivalsOnFallenBackConnectionsAreCountedExactly() async throws {
        let (summary, counts) = try await openRunAgainstARefusal(fallback: true)
        #expect(summary.scheduled == 300)
        #expect(summary.completed == 300, "\(summary.transportErrors) \(summary.transportErrorSamples)")
        #expect(counts.http1Requests == 300)
        #expect(summary.connectionsOpened == counts.connectionsAccepted)
        #expect(summary.protocols?["http/1.1"] == summary.connectionsOpened)
        #expect(summary.protocols?["h2"] == 0)
    }

    /// Lanes told to close while their connection was still being refused used to leave
    /// without reporting: the run counted 299 of 300 arrivals and never ended.
    @Test(.timeLimit(.minutes(1))) func anOpenModelRunAgainstARefusalEnds() async throws {
        let (summary, _) = try await openRunAgainstARefusal(fallback: false)
        #expect(summary.scheduled == 300)
        #expect(summary.completed == 0)
        #expect(summary.failed + summary.unsent == 300)
        #expect(summary.transportErrors.keys.sorted() == ["tls"])
    }

    @Test func withoutTheFlagARefusalStillFailsClearly() async throws {
        let files = try tlsFiles()
        let server = try await H2TestServer.start(
            .init(mode: .tlsRefusingH2(certificatePath: files.cert, keyPath: files.key))
        )
        let summary = try await run(server.url("/"), fallback: false, streams: 4, model: closed(1, requests: 6))
        let counts = server.counts
        try await server.shutdown()
        #expect(summary.completed == 0)
        #expect(summary.failed == 6)
        #expect(summary.transportErrors == ["tls": 6])
        #expect(summary.connectionsOpened == 0)
        #expect(counts.http1Requests == 0)
        #expect(summary.transportErrorSamples.values.contains { $0.contains("did not agree to HTTP/2") })
    }

    /// Software nobody here wrote, a mixed fleet: nginx's stream module balancing connections
    /// round robin (TLS passed through) over two nginx servers, one agreeing to h2 in ALPN and
    /// one without `http2` on its listener — one address, as during a rollout. Each connection
    /// speaks what its own server agreed to; every request is logged once, by one of them.
    @Test func aMixedFleetBehindOneAddressIsSpokenToConnectionByConnection() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let mixed = fieldTarget("VOLLEY_TEST_NGINX_TLS_MIXED"), let log = env["VOLLEY_TEST_NGINX_TLS_LOG"],
            let h2 = env["VOLLEY_TEST_NGINX_TLS_H2"].flatMap(URL.init(string:))?.port,
            let http1 = env["VOLLEY_TEST_NGINX_TLS_HTTP1"].flatMap(URL.init(string:))?.port
        else {
            try Test.cancel("VOLLEY_TEST_NGINX_TLS_MIXED (_H2, _HTTP1, _LOG) not set (eval \"$(scripts/start-nginx)\")")
        }
        // A query of this run's own: other suites may use the same servers meanwhile.
        let query = "?fleet=\(UInt32.random(in: 0...UInt32.max))"
        let summary = try await run(mixed + query, fallback: true, streams: 5, model: closed(4, requests: 400))
        let logged = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .filter { $0.hasSuffix("/" + query) }
        let overH2 = logged.filter { $0 == "\(h2) HTTP/2.0 200 /\(query)" }.count
        let overHTTP1 = logged.filter { $0 == "\(http1) HTTP/1.1 200 /\(query)" }.count
        #expect(logged.count == 400, "\(logged.prefix(3))")
        #expect(overH2 + overHTTP1 == 400, "each request in the protocol its server speaks")
        #expect(overH2 > 0 && overHTTP1 > 0, "both servers served: \(overH2) over h2, \(overHTTP1) over HTTP/1.1")
        #expect(summary.completed == 400, "\(summary.transportErrors) \(summary.transportErrorSamples)")
        #expect(summary.failed == 0)
        #expect(summary.status == ["200": 400])
        let h2Connections = try #require(summary.protocols?["h2"])
        let http1Connections = try #require(summary.protocols?["http/1.1"])
        #expect(h2Connections > 0 && http1Connections > 0)
        #expect(h2Connections + http1Connections == summary.connectionsOpened)
    }
}
