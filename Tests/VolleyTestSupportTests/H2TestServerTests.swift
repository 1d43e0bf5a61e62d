import Foundation
import Testing
import VolleyTestSupport

/// The HTTP/2 proof server, checked with clients nobody here wrote: curl (libcurl on nghttp2)
/// and h2load (Debian's nghttp2-client, installed by scripts/install-deps). The server's own
/// counters must match what those clients report, class by class.
@Suite struct H2TestServerTests {
    static func tlsFiles() throws -> (certificate: String, key: String) {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        return (fixtures.appendingPathComponent("cert.pem").path, fixtures.appendingPathComponent("key.pem").path)
    }

    static func tlsMode(refusingH2: Bool = false) throws -> H2TestServer.Mode {
        let files = try tlsFiles()
        return refusingH2
            ? .tlsRefusingH2(certificatePath: files.certificate, keyPath: files.key)
            : .tls(certificatePath: files.certificate, keyPath: files.key)
    }

    /// Runs `body` against a fresh server and shuts it down afterwards, also when `body` throws.
    static func withServer<T>(
        _ options: H2TestServer.Options = .init(),
        _ body: (H2TestServer) async throws -> T
    ) async throws -> T {
        let server = try await H2TestServer.start(options)
        do {
            let result = try await body(server)
            try await server.shutdown()
            return result
        } catch {
            try? await server.shutdown()
            throw error
        }
    }

    // MARK: curl

    @Test func curlWithPriorKnowledgeGetsEveryRouteOverH2c() async throws {
        let curl = try ExternalTool.require("curl", feature: "HTTP2")
        try await Self.withServer { server in
            let cases: [(path: String, status: Int, body: String)] = [
                ("/", 200, "hello"),
                ("/delay/30", 200, "hello"),
                ("/status/503", 503, "status"),
                ("/json", 200, "{\"id\":42,\"name\":\"volley\"}"),
                ("/nothing/here", 404, "not found"),
            ]
            for item in cases {
                let reply = try curl.run([
                    "--http2-prior-knowledge", "-sS", "-i", "--max-time", "5", server.url(item.path),
                ])
                try #require(reply.status == 0, "curl \(item.path): \(reply.stderr)")
                #expect(reply.stdout.hasPrefix("HTTP/2 \(item.status)"), "\(item.path): \(reply.stdout)")
                #expect(reply.stdout.hasSuffix("\r\n\r\n" + item.body), "\(item.path): \(reply.stdout)")
            }
            let gzip = try curl.run(["--http2-prior-knowledge", "-sS", "-i", "--compressed", server.url("/gzip")])
            #expect(gzip.stdout.lowercased().contains("content-encoding: gzip"), "\(gzip.stdout)")
            #expect(gzip.stdout.hasSuffix("{\"id\":42,\"name\":\"volley\"}"), "\(gzip.stdout)")
            // Followed by hand, one curl per hop: curl 7.88 (Debian 12) cannot reuse a
            // prior-knowledge connection (curl/curl#10634, fixed in 8.0), so `-L` fails there.
            var target = "/redirect/3"
            var hops: [String] = []
            for _ in 0..<5 {
                let hop = try curl.run(["--http2-prior-knowledge", "-sS", "-i", "--max-time", "5", server.url(target)])
                #expect(hop.stdout.hasPrefix("HTTP/2 "), "\(hop.stdout)")
                hops.append("\(hop.stdout.split(separator: " ").dropFirst().first ?? "") \(target)")
                let location = hop.stdout.split(separator: "\r\n").first { $0.hasPrefix("location: ") }
                guard let location else {
                    #expect(hop.stdout.hasSuffix("\r\n\r\narrived"), "\(hop.stdout)")
                    break
                }
                target = String(location.dropFirst("location: ".count))
            }
            #expect(hops == ["302 /redirect/3", "302 /redirect/2", "302 /redirect/1", "200 /redirect/0"])
            let counts = server.counts
            #expect(counts.connectionsAccepted == cases.count + 5)
            #expect(counts.http2Connections == cases.count + 5)
            #expect(counts.streamsOpened == cases.count + 5)
            #expect(counts.responsesSent == cases.count + 5)
            #expect(counts.http1Requests == 0)
            #expect((0...3).allSatisfy { counts.requestsPerPath["/redirect/\($0)"] == 1 })
            #expect(counts.requestsPerPath["/delay/30"] == 1)
        }
    }

    @Test func curlOverTLSChoosesH2ByALPN() async throws {
        let curl = try ExternalTool.require("curl", feature: "HTTP2")
        try await Self.withServer(.init(mode: try Self.tlsMode())) { server in
            #expect(server.baseURL == "https://127.0.0.1:\(server.port)")
            let h2 = try curl.run(["--http2", "-k", "-sS", "-i", "--max-time", "5", server.url("/json")])
            try #require(h2.status == 0, "curl: \(h2.stderr)")
            #expect(h2.stdout.hasPrefix("HTTP/2 200"), "\(h2.stdout)")
            #expect(h2.stdout.contains("content-type: application/json"), "\(h2.stdout)")
            // A client that asks for HTTP/1.1 gets the same routes over it.
            let h1 = try curl.run(["--http1.1", "-k", "-sS", "-i", "--max-time", "5", server.url("/status/201")])
            #expect(h1.stdout.hasPrefix("HTTP/1.1 201"), "\(h1.stdout)")
            let gzip = try curl.run(["--http1.1", "-k", "-sS", "-i", "--compressed", server.url("/gzip")])
            #expect(gzip.stdout.hasPrefix("HTTP/1.1 200"), "\(gzip.stdout)")
            #expect(gzip.stdout.contains("Content-Encoding: gzip"), "\(gzip.stdout)")
            #expect(gzip.stdout.hasSuffix("{\"id\":42,\"name\":\"volley\"}"), "\(gzip.stdout)")
            let counts = server.counts
            #expect(counts.http2Connections == 1 && counts.streamsOpened == 1)
            #expect(counts.http1Requests == 2 && counts.responsesSent == 3)
            #expect(counts.requestsPerPath == ["/json": 1, "/status/201": 1, "/gzip": 1])
        }
    }

    @Test func serverRefusingH2InALPNServesHTTP1() async throws {
        let curl = try ExternalTool.require("curl", feature: "HTTP2")
        try await Self.withServer(.init(mode: try Self.tlsMode(refusingH2: true))) { server in
            let reply = try curl.run(["--http2", "-k", "-sS", "-v", "-i", "--max-time", "5", server.url("/")])
            try #require(reply.status == 0, "curl: \(reply.stderr)")
            #expect(reply.stderr.contains("ALPN: server accepted http/1.1"), "\(reply.stderr)")
            #expect(reply.stdout.hasPrefix("HTTP/1.1 200"), "\(reply.stdout)")
            #expect(reply.stdout.hasSuffix("hello"))
            // A client that offers only h2 gets no protocol at all: the refusal a client reports.
            let negotiated = try await ALPNProbe.negotiate(port: server.port, offering: ["h2"])
            #expect(negotiated == nil)
            let both = try await ALPNProbe.negotiate(port: server.port, offering: ["h2", "http/1.1"])
            #expect(both == "http/1.1")
            let counts = server.counts
            #expect(counts.http2Connections == 0 && counts.streamsOpened == 0)
            #expect(counts.http1Requests == 1 && counts.responsesSent == 1)
            #expect(counts.connectionsAccepted == 3)
        }
    }

    @Test func serverWithoutALPNServesHTTP1AndChoosesNothing() async throws {
        let curl = try ExternalTool.require("curl", feature: "HTTP2")
        let files = try Self.tlsFiles()
        let mode = H2TestServer.Mode.tlsWithoutALPN(certificatePath: files.certificate, keyPath: files.key)
        try await Self.withServer(.init(mode: mode)) { server in
            let negotiated = try await ALPNProbe.negotiate(port: server.port, offering: ["h2", "http/1.1"])
            #expect(negotiated == nil)
            let reply = try curl.run(["--http2", "-k", "-sS", "-i", "--max-time", "5", server.url("/")])
            try #require(reply.status == 0, "curl: \(reply.stderr)")
            #expect(reply.stdout.hasPrefix("HTTP/1.1 200"), "\(reply.stdout)")
            let counts = server.counts
            #expect(counts.http2Connections == 0 && counts.http1Requests == 1)
        }
    }

    @Test func tlsServerChoosesH2WhenOffered() async throws {
        try await Self.withServer(.init(mode: try Self.tlsMode())) { server in
            let both = try await ALPNProbe.negotiate(port: server.port, offering: ["h2", "http/1.1"])
            let http1 = try await ALPNProbe.negotiate(port: server.port, offering: ["http/1.1"])
            #expect(both == "h2" && http1 == "http/1.1")
        }
    }

    // MARK: h2load

    /// h2load over TLS takes h2 from ALPN; against the server that refuses h2 it falls back to
    /// HTTP/1.1 when it also offers that, and fails every request when it offers only h2.
    @Test func h2loadOverTLSNegotiatesH2OrFailsWhereRefused() async throws {
        let h2load = try ExternalTool.require("h2load")
        try await Self.withServer(.init(mode: try Self.tlsMode())) { server in
            let report = try H2LoadReport(h2load.run(["-n", "100", "-c", "2", "-m", "5", server.url("/json")]))
            #expect(report.succeeded == 100 && report.status2xx == 100, "\(report.raw)")
            let counts = server.counts
            #expect(counts.http2Connections == 2 && counts.streamsOpened == 100 && counts.http1Requests == 0)
        }
        try await Self.withServer(.init(mode: try Self.tlsMode(refusingH2: true))) { server in
            // h2load offers h2 and http/1.1 by default and takes the server's http/1.1.
            let fallback = try H2LoadReport(h2load.run(["-n", "10", "-c", "1", server.url("/")]))
            #expect(fallback.succeeded == 10 && fallback.status2xx == 10, "\(fallback.raw)")
            #expect(fallback.raw.contains("Application protocol: http/1.1"), "\(fallback.raw)")
            // Offering only h2, it gets no protocol and fails every request.
            let refused = try H2LoadReport(h2load.run(["--npn-list=h2", "-n", "10", "-c", "1", server.url("/")]))
            #expect(refused.succeeded == 0 && refused.failed == 10, "\(refused.raw)")
            let counts = server.counts
            #expect(counts.http2Connections == 0 && counts.streamsOpened == 0)
            #expect(counts.http1Requests == 10 && counts.responsesSent == 10)
        }
    }

    @Test func h2loadThousandRequestsAllSucceed() async throws {
        let h2load = try ExternalTool.require("h2load")
        try await Self.withServer { server in
            let report = try H2LoadReport(h2load.run(["-n", "1000", "-c", "4", "-m", "10", server.url("/")]))
            #expect(report.total == 1000 && report.succeeded == 1000 && report.failed == 0 && report.errored == 0)
            #expect(report.status2xx == 1000)
            let counts = server.counts
            #expect(counts.connectionsAccepted == 4 && counts.http2Connections == 4)
            #expect(counts.streamsOpened == 1000 && counts.responsesSent == 1000)
            #expect(counts.requestsPerPath == ["/": 1000])
            #expect(counts.resetsSent == 0 && counts.goAwaysSent == 0 && counts.streamLimitViolations == 0)
        }
    }

    /// The server's measure of concurrency sees h2load's ten streams when nothing limits them,
    /// and at most three when it announces three: h2load honours SETTINGS_MAX_CONCURRENT_STREAMS.
    @Test func streamLimitIsAnnouncedAndMeasured() async throws {
        let h2load = try ExternalTool.require("h2load")
        let arguments = ["-n", "120", "-c", "2", "-m", "10"]
        let (openObserved, openReport) = try await Self.withServer { server in
            let report = try H2LoadReport(h2load.run(arguments + [server.url("/delay/20")]))
            return (server.maxConcurrentStreamsObserved, report)
        }
        try await Self.withServer(.init(maxConcurrentStreams: 3)) { server in
            let report = try H2LoadReport(h2load.run(arguments + [server.url("/delay/20")]))
            #expect(openReport.succeeded == 120 && report.succeeded == 120)
            #expect(openObserved == 10)
            // Streams h2load sent with its preface, before it could know the limit, are
            // counted apart (RFC 9113 allows them); every later one respected it.
            #expect(server.maxConcurrentStreamsObserved == 3)
            #expect(server.counts.streamLimitViolations == 0)
            #expect(server.responsesSent == 120)
        }
    }

    /// A client that ignores the limit (a raw h2c client: it acknowledges the SETTINGS, then
    /// opens five streams at once) loses the connection to GOAWAY PROTOCOL_ERROR, and the server
    /// counts the violation: the measure above can fail.
    @Test func clientIgnoringTheStreamLimitIsCaughtAndCounted() async throws {
        let python = try ExternalTool.require("python3")
        try await Self.withServer(.init(maxConcurrentStreams: 3)) { server in
            let outcome = try python.run(
                ["-c", RawH2Client.script, String(server.port), "5", "/delay/300"],
                seconds: 20
            )
            #expect(outcome.status == 0, "\(outcome.stderr)")
            // GOAWAY PROTOCOL_ERROR (0x1), no response, then the close.
            #expect(outcome.stdout == "goaway 1\nclosed\n", "\(outcome.stdout)")
            let closed = await Self.eventually { server.counts.connectionsClosed == 1 }
            let counts = server.counts
            #expect(
                closed && counts.streamLimitViolations == 1 && counts.maxConcurrentStreamsObserved == 3,
                "\(counts)"
            )
            #expect(
                counts.streamsOpened == 3 && counts.responsesSent == 0 && counts.streamsOpenedBeforeSettingsAck == 0
            )
        }
    }

    /// A client that cancels hundreds of streams (as a load generator's timeouts do) is counted,
    /// not cut off: swift-nio-http2's default heuristics would end the connection with GOAWAY
    /// ENHANCE_YOUR_CALM after 200 RST_STREAMs in 30 s.
    @Test func manyCancelledStreamsAreCountedNotPunished() async throws {
        let python = try ExternalTool.require("python3")
        try await Self.withServer { server in
            let outcome = try python.run(
                ["-c", RawH2Client.script, String(server.port), "300", "/delay/5000", "cancel"],
                seconds: 20
            )
            #expect(outcome.status == 0, "\(outcome.stderr)")
            #expect(outcome.stdout == "headers 601\n", "\(outcome.stdout)")
            let counts = server.counts
            #expect(
                counts.resetsReceived == 300 && counts.streamsOpened == 301 && counts.responsesSent == 1,
                "\(counts)"
            )
        }
    }

    /// After ten streams each connection is told to go away: h2load gets those ten answered,
    /// counts the streams it had already sent beyond the GOAWAY's last stream and every request
    /// not yet sent as failed (it does not retry on a new connection), and the server closes
    /// both connections once they are idle.
    @Test func goAwayAfterTenStreamsPerConnection() async throws {
        let h2load = try ExternalTool.require("h2load")
        try await Self.withServer(.init(goAwayAfter: 10)) { server in
            let report = try H2LoadReport(h2load.run(["-n", "100", "-c", "2", "-m", "4", server.url("/")]))
            #expect(report.succeeded == 20 && report.failed == 80 && report.status2xx == 20, "\(report.raw)")
            // Sent but beyond the last stream: refused, never seen by the handler.
            #expect(report.started > 20 && report.started <= 20 + 2 * 3, "\(report.raw)")
            let closed = await Self.eventually { server.counts.connectionsClosed == 2 }
            let counts = server.counts
            #expect(closed, "\(counts)")
            #expect(counts.goAwaysSent == 2 && counts.connectionsAccepted == 2)
            #expect(counts.streamsOpened == 20 && counts.responsesSent == 20 && counts.resetsSent == 0)
        }
    }

    /// Polls `condition` every 10 ms for at most `seconds`.
    static func eventually(seconds: Double = 2, _ condition: () -> Bool) async -> Bool {
        for _ in 0..<Int(seconds * 100) {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test(arguments: [H2TestServer.ResetCode.internalError, .refusedStream])
    func everyFifthStreamIsReset(code: H2TestServer.ResetCode) async throws {
        let h2load = try ExternalTool.require("h2load")
        try await Self.withServer(.init(resetEvery: 5, resetCode: code)) { server in
            let report = try H2LoadReport(h2load.run(["-n", "100", "-c", "2", "-m", "4", server.url("/")]))
            let counts = server.counts
            #expect(report.succeeded == 80 && report.failed == 20 && report.errored == 20, "\(report.raw)")
            #expect(counts.streamsOpened == 100 && counts.resetsSent == 20 && counts.responsesSent == 80, "\(counts)")
        }
    }
}
