import Foundation
import Testing
import VolleyCore
import VolleyPlan
import VolleyTestSupport

@testable import VolleyEngine

/// Plans over HTTP/2 (`http: h2c` / `http: 2`), read from YAML as users write them and run
/// against the HTTP/2 test server: every feature of a request (checks, captures, compressed
/// bodies, redirects, cookies' jar, timeouts) as over HTTP/1.1, counts exact on both sides.
@Suite(.serialized) struct PlanH2Tests {
    private func run(_ yaml: String, insecure: Bool = false) async throws -> RunSummary {
        let loaded = try PlanLoader.load(yaml: yaml, file: "plan.yaml", baseDirectory: "/tmp", environment: [:])
        return try await PlanEngine(plan: loaded.plan, threads: 1, insecure: insecure).run()
    }

    private func byName(_ s: RunSummary) -> [String: NamedRequestStats] {
        Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
    }

    private static var fixtures: (cert: String, key: String) {
        let dir = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
        return (dir.appendingPathComponent("cert.pem").path, dir.appendingPathComponent("key.pem").path)
    }

    @Test func checksCapturesAndCompressedBodiesOverH2c() async throws {
        let server = try await H2TestServer.start()
        let s = try await run(
            """
            base_url: \(server.baseURL)
            defaults:
              http: h2c
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 10
                steps:
                  - request: GET /json
                    name: json
                    check:
                      status: 200
                      json: { "$.id": 42 }
                      header_contains: { content-type: json }
                    capture:
                      wait: json $.id
                  - request: GET /delay/${wait}
                    name: delay
                    check: { body_contains: hello }
                  - request: GET /gzip
                    name: gzip
                    check: { json: { "$.name": volley } }
                  - request: GET /status/503
                    name: failing
                    check: { status: 200 }
            """
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(s.completed == 80)
        #expect(s.status == ["200": 60, "503": 20])
        #expect(counts.streamsOpened == 80)
        #expect(counts.requestsPerPath["/delay/42"] == 20, "the capture was read from the HTTP/2 response")
        // One connection per VU, each an HTTP/2 connection.
        #expect(s.connectionsOpened == 2)
        #expect(counts.http2Connections == 2)
        // Six checks: three on /json, one each on the delay, the gzip body and the 503 step;
        // only the 503's status check fails, every other one passes on all 20 iterations.
        let checks = s.checks ?? []
        #expect(checks.count == 6, "\(checks)")
        #expect(
            checks.filter { $0.fails == 0 }.allSatisfy { $0.passes == 20 }
                && checks.filter { $0.fails == 0 }.count == 5,
            "\(checks)"
        )
        #expect(checks.reduce(0) { $0 + $1.fails } == 20, "\(checks)")
        #expect(byName(s)["json"]?.captureFailures == 0)
        #expect(byName(s)["gzip"]?.decodeFailures == nil)
        #expect(
            s.bytesDecoded == UInt64(20 * #"{"id":42,"name":"volley"}"#.utf8.count),
            "the gzip body was decoded for the check"
        )
    }

    @Test func redirectsAreFollowedOnTheSameConnection() async throws {
        let server = try await H2TestServer.start()
        let s = try await run(
            """
            base_url: \(server.baseURL)
            defaults: { http: h2c, max_redirects: 5 }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 5
                steps:
                  - request: GET /redirect/3
                    check: { status: 200, body_contains: arrived }
            """
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(s.checks?.first?.passes == 5)
        #expect(counts.requestsPerPath["/redirect/0"] == 5)
        #expect(counts.streamsOpened == 20)
        #expect(counts.connectionsAccepted == 1)
    }

    @Test func goAwayAndResetsAreCountedExactlyInAPlan() async throws {
        // GOAWAY after every 6 streams on a connection, every 7th stream reset.
        let server = try await H2TestServer.start(.init(goAwayAfter: 6, resetEvery: 7))
        let s = try await run(
            """
            base_url: \(server.baseURL)
            defaults: { http: h2c }
            scenarios:
              s:
                executor: shared-iterations
                vus: 1
                iterations: 42
                steps:
                  - request: GET /
                    check: { status: 200 }
            """
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(counts.streamsOpened == 42)
        #expect(counts.resetsSent == 6)
        #expect(s.completed == 36)
        #expect(s.transportErrors == ["stream_reset": 6])
        #expect(s.checks?.first.map { ($0.passes, $0.fails) } ?? (0, 0) == (36, 6))
        // A GOAWAY'd connection is replaced: 42 streams, 6 per connection.
        #expect(counts.goAwaysSent == 7)
        #expect(s.connectionsOpened == 7)
        #expect(counts.http2Connections == 7)
    }

    @Test func anOpenModelPlanSendsOneStreamPerArrival() async throws {
        let server = try await H2TestServer.start()
        let s = try await run(
            """
            base_url: \(server.baseURL)
            defaults: { http: h2c }
            scenarios:
              s:
                executor: constant-arrival-rate
                rate: 200/s
                duration: 1s
                pre_allocated_vus: 10
                max_vus: 20
                steps:
                  - request: GET /delay/2
            """
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(s.completed == s.scheduled)
        #expect((195...200).contains(s.completed), "\(s.completed)")
        #expect(counts.streamsOpened == s.completed)
        #expect(counts.http2Connections == s.connectionsOpened)
    }

    @Test func oneTLSServerServesAStepOverH2AndAnotherOverHTTP1() async throws {
        let (cert, key) = Self.fixtures
        let server = try await H2TestServer.start(.init(mode: .tls(certificatePath: cert, keyPath: key)))
        let s = try await run(
            """
            base_url: \(server.baseURL)
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 4
                steps:
                  - request: GET /json
                    name: h2
                    http: 2
                    check: { json: { "$.id": 42 } }
                  - request: GET /json
                    name: h1
                    check: { json: { "$.id": 42 } }
            """,
            insecure: true
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(s.completed == 8)
        #expect((s.checks ?? []).allSatisfy { $0.passes == 4 && $0.fails == 0 })
        // The VU holds one connection per HTTP: one h2 (4 streams), one HTTP/1.1 (4 requests).
        #expect(counts.http2Connections == 1)
        #expect(counts.streamsOpened == 4)
        #expect(counts.http1Requests == 4)
        #expect(s.connectionsOpened == 2)
        #expect(s.phases?[.tls] != nil)
    }

    @Test func aServerRefusingH2FailsEachRequestClearly() async throws {
        let (cert, key) = Self.fixtures
        let server = try await H2TestServer.start(.init(mode: .tlsRefusingH2(certificatePath: cert, keyPath: key)))
        let s = try await run(
            """
            base_url: \(server.baseURL)
            defaults: { http: 2 }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 2
                steps:
                  - request: GET /
                    check: { status: 200 }
            """,
            insecure: true
        )
        try await server.shutdown()
        #expect(s.completed == 0)
        #expect(s.failed == 2)
        #expect(s.checks?.first?.fails == 2)
        #expect(s.transportErrorSamples.values.contains { $0.contains("did not agree to HTTP/2") })
    }

    /// `http1_fallback: true`: the same refusing server, every request answered over HTTP/1.1
    /// on the VU's one connection (counted as fallen back); an h2 server still gets h2.
    @Test(arguments: [false, true])
    func withHTTP1FallbackAPlanSpeaksWhatTheServerAgreesTo(refusing: Bool) async throws {
        let (cert, key) = Self.fixtures
        let server = try await H2TestServer.start(
            .init(
                mode: refusing
                    ? .tlsRefusingH2(certificatePath: cert, keyPath: key) : .tls(certificatePath: cert, keyPath: key)
            )
        )
        let s = try await run(
            """
            base_url: \(server.baseURL)
            defaults: { http: 2, http1_fallback: true }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 5
                steps:
                  - request: GET /json
                    name: first
                    check: { json: { "$.id": 42 } }
                    capture: { id: { json: "$.id" } }
                  - request: GET /json?id=${id}
                    name: second
                    check: { status: 200 }
            """,
            insecure: true
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(s.completed == 20 && s.failed == 0, "\(s.transportErrorSamples)")
        #expect((s.checks ?? []).count == 2)
        #expect((s.checks ?? []).allSatisfy { $0.passes == 10 && $0.fails == 0 })
        // One connection per VU, kept for all its requests.
        #expect(s.connectionsOpened == 2)
        if refusing {
            #expect(counts.http1Requests == 20)
            #expect(counts.streamsOpened == 0)
            #expect(s.protocols == [RunSummary.h2Key: 0, RunSummary.http1Key: 2])
        } else {
            #expect(counts.http1Requests == 0)
            #expect(counts.streamsOpened == 20)
            #expect(s.protocols == [RunSummary.h2Key: 2, RunSummary.http1Key: 0])
        }
    }

    @Test func aRenderedURLThatCannotCarryTheHTTPIsNotSent() async throws {
        let server = try await H2TestServer.start()
        let s = try await run(
            """
            variables: { target: "\(server.baseURL)" }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 3
                steps:
                  - request: GET ${target}/
                    http: 2
            """
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(counts.connectionsAccepted == 0)
        #expect(s.transportErrors == ["invalid_request": 3])
        #expect(s.transportErrorSamples.values.contains { $0.contains("http: 2 is HTTP/2 over TLS") })
    }

    @Test func aTimeoutResetsTheStream() async throws {
        let server = try await H2TestServer.start()
        let s = try await run(
            """
            base_url: \(server.baseURL)
            defaults: { http: h2c, timeout: 100ms }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 3
                steps:
                  - request: GET /delay/2000
            """
        )
        let counts = server.counts
        try await server.shutdown()
        #expect(s.transportErrors == ["timeout": 3])
        #expect(counts.resetsReceived == 3)
        // The stream is reset, the connection stays for the next request.
        #expect(counts.connectionsAccepted == 1)
        #expect(s.connectionsOpened == 1)
    }

    /// Software nobody here wrote: Debian's nginx serving h2c (scripts/start-nginx), its
    /// access log naming each request's protocol. Compressed JSON, a redirect, checks.
    @Test func aPlanAgainstNginxOverH2cIsCountedAsNginxLogsIt() async throws {
        guard let base = fieldTarget("VOLLEY_TEST_NGINX_H2C"),
            let log = ProcessInfo.processInfo.environment["VOLLEY_TEST_NGINX_H2C_LOG"]
        else {
            try Test.cancel("VOLLEY_TEST_NGINX_H2C(_LOG) not set (eval \"$(scripts/start-nginx)\")")
        }
        let before = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").count ?? 0
        let s = try await run(
            """
            base_url: \(base)
            defaults: { http: h2c }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 4
                iterations: 25
                steps:
                  - request: GET /json
                    name: json
                    check:
                      json: { "$.id": 42 }
                      header_contains: { content-encoding: gzip }
                  - request: GET /old
                    name: redirected
                    check: { status: 200, json: { "$.name": volley } }
                  - request: GET /
                    name: hello
                    check: { body_contains: hello }
            """
        )
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").dropFirst(before)
        var seen: [String: Int] = [:]
        for line in lines { seen[String(line), default: 0] += 1 }
        #expect(
            seen == ["HTTP/2.0 200 /json": 200, "HTTP/2.0 302 /old": 100, "HTTP/2.0 200 /": 100],
            "every request over HTTP/2, as many as the plan sent: \(seen)"
        )
        #expect((s.checks ?? []).allSatisfy { $0.fails == 0 && $0.passes == 100 }, "\(s.checks ?? [])")
        #expect(s.completed == lines.count)
        #expect(s.failed == 0)
        #expect(s.connectionsOpened == 4)
        #expect((s.bytesDecoded ?? 0) > 0)
    }

    /// nginx over TLS, software nobody here wrote: one listener agrees to h2 in ALPN, one
    /// (without `http2`) answers HTTP/1.1. A plan with `http: 2` and `http1_fallback: true`
    /// speaks what each agreed to, and nginx's log says so, request for request.
    @Test(arguments: ["VOLLEY_TEST_NGINX_TLS_H2", "VOLLEY_TEST_NGINX_TLS_HTTP1"])
    func aPlanWithFallbackSpeaksWhatNginxAgreedTo(target: String) async throws {
        guard let base = fieldTarget(target), let log = ProcessInfo.processInfo.environment["VOLLEY_TEST_NGINX_TLS_LOG"]
        else {
            try Test.cancel("\(target) and VOLLEY_TEST_NGINX_TLS_LOG not set (eval \"$(scripts/start-nginx)\")")
        }
        let port = try #require(URL(string: base)?.port)
        let before = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").count ?? 0
        let s = try await run(
            """
            base_url: \(base)
            defaults: { http: 2, http1_fallback: true }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 3
                iterations: 10
                steps:
                  - request: GET /json
                    name: json
                    check: { json: { "$.id": 42 } }
                    capture: { id: { json: "$.name" } }
                  - request: GET /?from=${id}
                    name: hello
                    check: { body_contains: hello }
            """,
            insecure: true
        )
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").dropFirst(before)
        var seen: [String: Int] = [:]
        for line in lines { seen[String(line), default: 0] += 1 }
        let proto = target.hasSuffix("H2") ? "HTTP/2.0" : "HTTP/1.1"
        #expect(seen == ["\(port) \(proto) 200 /json": 30, "\(port) \(proto) 200 /?from=volley": 30], "\(seen)")
        #expect(s.completed == 60 && s.failed == 0, "\(s.transportErrorSamples)")
        #expect((s.checks ?? []).allSatisfy { $0.passes == 30 && $0.fails == 0 }, "\(s.checks ?? [])")
        #expect(s.connectionsOpened == 3)
        #expect(
            s.protocols
                == (target.hasSuffix("H2")
                    ? [RunSummary.h2Key: 3, RunSummary.http1Key: 0] : [RunSummary.h2Key: 0, RunSummary.http1Key: 3])
        )
    }
}
