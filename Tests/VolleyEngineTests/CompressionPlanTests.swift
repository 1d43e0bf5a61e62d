import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// Plans against compressed bodies, end to end: checks and captures read them decoded, a body
/// that does not decode is counted and explained, and the bytes on the wire stay the wire's.
@Suite(.serialized) struct CompressionPlanTests {
    private let json = EncodedBodies.json

    private func run(
        _ steps: [Step],
        on server: TestServer,
        iterations: Int = 5,
        defaults: PlanDefaults = PlanDefaults()
    ) async throws -> RunSummary {
        let plan = Plan(
            name: "compression",
            baseURL: server.baseURL,
            defaults: defaults,
            scenarios: [
                Scenario(
                    name: "s",
                    executor: .perVUIterations(vus: 1, iterations: iterations, maxDuration: .seconds(20)),
                    steps: steps
                )
            ]
        )
        return try await PlanEngine(plan: plan, threads: 1).run()
    }

    private func byName(_ s: RunSummary) -> [String: NamedRequestStats] {
        Dictionary(uniqueKeysWithValues: (s.requestsByName ?? []).map { ($0.name, $0) })
    }

    /// The test server's head for a body of `length` bytes under `encoding`.
    private func headBytes(_ length: Int, _ encoding: String?) -> Int {
        var head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(length)\r\n"
        if let encoding { head += "Content-Encoding: \(encoding)\r\n" }
        return (head + "\r\n").utf8.count
    }

    @Test func checksAndCapturesReadEveryEncodingDecoded() async throws {
        let server = try await TestServer.start()
        let kinds: [EncodedBodies.Kind] = [.gzip, .deflate, .deflateRaw, .br, .gzipThenBr]
        var steps: [Step] = []
        for kind in kinds {
            steps.append(
                .get(
                    Template(parts: [.literal("/encoded/\(kind.rawValue)")], source: "/encoded/\(kind.rawValue)"),
                    name: kind.rawValue,
                    checks: [.jsonPath("$.id", equals: .number(42)), .bodyContains("item number 39")],
                    captures: [.json("token", "$.token")]
                )
            )
            // The capture is only there if it read the decoded JSON.
            steps.append(
                .get(
                    "/businesses/id/${token}",
                    name: "use \(kind.rawValue)",
                    checks: [.jsonPath("$.id", equals: .string("tok-3f9a"))]
                )
            )
        }
        let s = try await run(steps, on: server)
        try await server.shutdown()
        for check in s.checks ?? [] {
            #expect(check.passes == 5 && check.fails == 0, "\(check)")
        }
        #expect(s.checks?.count == 3 * kinds.count)
        #expect(s.decodeFailures == nil)
        #expect(s.bytesDecoded == UInt64(5 * kinds.count * json.utf8.count))
        let named = byName(s)
        for kind in kinds {
            #expect(named[kind.rawValue]?.captureFailures == 0)
            #expect(named["use \(kind.rawValue)"]?.skipped == 0)
        }
    }

    @Test func wireBytesAreTheCompressedOnesAndDecodedBytesTheJSON() async throws {
        let server = try await TestServer.start()
        let (encoding, compressed) = EncodedBodies.body(.gzip)
        let s = try await run([.get("/encoded/gzip", checks: [.bodyContains("tok-3f9a")])], on: server, iterations: 7)
        try await server.shutdown()
        #expect(s.bytesIn == UInt64(7 * (headBytes(compressed.count, encoding) + compressed.count)))
        #expect(s.bytesDecoded == UInt64(7 * json.utf8.count))
        #expect(compressed.count * 3 < json.utf8.count)
    }

    @Test func aStepThatReadsNoBodyDecodesNothing() async throws {
        let server = try await TestServer.start()
        let s = try await run([.get("/encoded/gzip", checks: [.status(200)])], on: server)
        try await server.shutdown()
        #expect(s.checks?.first?.passes == 5)
        #expect(s.bytesDecoded == nil)
    }

    @Test func aBodyThatClaimsGzipAndIsNotFailsItsChecksVisibly() async throws {
        let server = try await TestServer.start()
        let s = try await run(
            [
                .get(
                    "/encoded/bad-gzip",
                    name: "bad",
                    checks: [.jsonPath(exists: "$.id")],
                    captures: [.json("t", "$.token")]
                ),
                .get("/encoded/zstd", name: "unknown", checks: [.bodyContains("tok-3f9a")]),
                .get("/encoded/gzip", name: "good", checks: [.bodyContains("tok-3f9a")]),
            ],
            on: server
        )
        try await server.shutdown()
        let checks = Dictionary(uniqueKeysWithValues: (s.checks ?? []).map { ($0.name, $0) })
        #expect(checks["bad › $.id exists"]?.fails == 5)
        #expect(checks["unknown › body contains tok-3f9a"]?.fails == 5)
        #expect(checks["good › body contains tok-3f9a"]?.passes == 5)
        #expect(s.decodeFailures == 10)
        let named = byName(s)
        #expect(named["bad"]?.decodeFailures == 5)
        #expect(named["bad"]?.captureFailures == 5)
        #expect(named["unknown"]?.decodeFailures == 5)
        #expect(named["good"]?.decodeFailures == nil)
        let samples = try #require(s.decodeFailureSamples)
        #expect(samples.count == 2 * ResponseSamples.maxPerKey)
        #expect(
            samples.first
                == DecodeFailureSample(
                    request: "bad",
                    status: 200,
                    message: "Content-Encoding gzip: invalid header (the body starts 3c 68 74 6d, not 1f 8b)"
                )
        )
        #expect(samples.last?.message.hasPrefix("Content-Encoding zstd: not an encoding Volley decodes") == true)
    }

    @Test func samplesShowTheDecodedBodyNotTheCompressedBytes() async throws {
        let server = try await TestServer.start()
        let s = try await run(
            [.get("/encoded/gzip", name: "token", captures: [.json("t", "$.missing")])],
            on: server,
            iterations: 1
        )
        try await server.shutdown()
        let sample = try #require(s.captureFailureSamples?.first)
        // The token itself is masked by the excerpt's redaction.
        #expect(sample.excerpt.hasPrefix(#"{"id":42,"token":"***","items":[{"n":0"#), "\(sample.excerpt)")
        #expect(s.decodeFailures == nil)
    }

    @Test func aDecompressionBombIsCutAtTheBodyLimit() async throws {
        let server = try await TestServer.start()
        let s = try await run([.get("/encoded/bomb", checks: [.bodyContains("x")])], on: server, iterations: 2)
        try await server.shutdown()
        #expect(s.checks?.first?.fails == 2)
        #expect(s.decodeFailures == nil)
        #expect(s.bytesDecoded == UInt64(2 * ResponseInspector.decodedLimit))
    }

    @Test func plansAskForCompressionUnlessTurnedOffOrSetByTheRequest() async throws {
        let server = try await TestServer.start()
        let step = Step.get("/encoded/negotiate", checks: [.bodyContains("tok-3f9a")])
        let on = try await run(
            [step, .get("/headers", checks: [.bodyContains("\r\nAccept-Encoding: gzip, deflate, br\r\n")])],
            on: server
        )
        let noGzip = Check(.bodyMatches(regex: #"\A(?![\s\S]*Accept-Encoding: gzip)"#))
        let off = try await run(
            [step, .request("GET", "/headers", checks: [noGzip])],
            on: server,
            defaults: PlanDefaults(compression: false)
        )
        let own = try await run(
            [
                .request(
                    "GET",
                    "/encoded/negotiate",
                    headers: [TemplatedHeader(name: "accept-encoding", value: "identity")],
                    checks: [.bodyContains("tok-3f9a")]
                )
            ],
            on: server
        )
        let ownHead = try await run(
            [
                .request(
                    "GET",
                    "/headers",
                    headers: [TemplatedHeader(name: "accept-encoding", value: "identity")],
                    checks: [.bodyContains("accept-encoding: identity\r\nX-Request-ID"), noGzip]
                )
            ],
            on: server
        )
        try await server.shutdown()
        #expect((on.checks ?? []).allSatisfy { $0.passes == 5 && $0.fails == 0 }, "\(on.checks ?? [])")
        #expect(on.bytesDecoded == UInt64(5 * json.utf8.count))
        for s in [off, own, ownHead] {
            #expect((s.checks ?? []).allSatisfy { $0.passes == 5 && $0.fails == 0 }, "\(s.checks ?? [])")
            #expect(s.bytesDecoded == nil)
        }
        let plain = json.utf8.count
        #expect(own.bytesIn == UInt64(5 * (headBytes(plain, nil) + plain)))
    }
}
