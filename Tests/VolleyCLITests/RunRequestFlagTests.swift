import Foundation
import Testing
import VolleyTestSupport

/// Every command that runs a load builds a typed run request from its own flags; a bad value
/// is reported with the flag the user typed, never one of `volley run`'s that the command
/// used to write for itself (nothing is sent: the targets here listen nowhere).
@Suite(.serialized) struct RunRequestFlagTests {
    private let nowhere = "http://127.0.0.1:1/"

    private func refused(_ args: [String]) throws -> String {
        let r = try runVolley(args)
        #expect(r.status == 2, "\(args): \(r.stderr)")
        return r.stderr
    }

    @Test func runNamesItsFlagsInLoadAndRequestErrors() throws {
        let zero = try refused(["run", nowhere, "--rate", "0", "-d", "1s"])
        #expect(zero.contains("--rate must be above zero"), "\(zero)")
        #expect(zero.contains("hint: e.g. --rate 100/s"), "\(zero)")
        let method = try refused(["run", nowhere, "-n", "1", "-X", "G T"])
        #expect(method.contains("-X/--method: invalid method \"G T\""), "\(method)")
    }

    @Test func protocolFlagsAreCheckedAgainstTheURL() throws {
        let method = try refused(["run", nowhere, "-n", "1", "-m", "POST"])
        #expect(method.contains("-m/--streams takes the number of requests in flight"), "\(method)")
        #expect(method.contains("hint: the method is -X/--method (as curl): -X POST"), "\(method)")
        let h1 = try refused(["run", nowhere, "-n", "1", "-m", "10"])
        #expect(h1.contains("-m/--streams 10 needs HTTP/2"), "\(h1)")
        let plain = try refused(["run", nowhere, "-n", "1", "--http2"])
        #expect(plain.contains("--http2/--h2c negotiates HTTP/2 with TLS (ALPN)"), "\(plain)")
        #expect(plain.contains("hint: use --h2c"), "\(plain)")
        let tls = try refused(["run", "https://127.0.0.1:1/", "-n", "1", "--h2c"])
        #expect(tls.contains("is HTTP/2 over cleartext, and https://127.0.0.1:1/ is https"), "\(tls)")
        let both = try refused(["run", nowhere, "-n", "1", "--h2c", "--http2"])
        #expect(both.contains("--http2 and --h2c both given"), "\(both)")
        let close = try refused(["run", nowhere, "-n", "1", "--h2c", "--no-keepalive"])
        #expect(close.contains("--no-keepalive asks for one per request"), "\(close)")
        let zero = try refused(["run", nowhere, "-n", "1", "--h2c", "-m", "0"])
        #expect(zero.contains("-m/--streams must be between 1 and 1000, got 0"), "\(zero)")
    }

    @Test func http1FallbackNeedsHTTP2OverTLS() throws {
        let alone = try refused(["run", "https://127.0.0.1:1/", "-n", "1", "--http1-fallback"])
        #expect(alone.contains("--http1-fallback applies to HTTP/2 over TLS (--http2)"), "\(alone)")
        #expect(alone.contains("hint: add --http2 (with an https:// URL), or drop --http1-fallback"), "\(alone)")
        let h2c = try refused(["run", nowhere, "-n", "1", "--h2c", "--http1-fallback"])
        #expect(h2c.contains("--http1-fallback applies to HTTP/2 over TLS"), "\(h2c)")
        #expect(h2c.contains("hint: h2c has no negotiation to fall back from"), "\(h2c)")
        // --http2 with a plain URL is refused for the URL, whatever the fallback says.
        let plain = try refused(["run", nowhere, "-n", "1", "--http2", "--http1-fallback"])
        #expect(plain.contains("--http2/--h2c negotiates HTTP/2 with TLS (ALPN)"), "\(plain)")
    }

    @Test func runRefusesASegmentThatDoesNotExist() throws {
        let missing = try refused(["run", nowhere, "-n", "1", "--segment", "3/3"])
        #expect(missing.contains("--segment: segment 3 does not exist in a run of 3 segments"), "\(missing)")
        #expect(missing.contains("hint: --segment 2/3"), "\(missing)")
        let shape = try refused(["run", nowhere, "-n", "1", "--segment", "half"])
        #expect(shape.contains("is not INDEX/COUNT"), "\(shape)")
    }

    @Test func sweepNamesConcurrencyAndItsRateLevels() throws {
        let zero = try refused(["sweep", nowhere, "--concurrency", "0,4", "-d", "1s"])
        #expect(zero.contains("--concurrency"), "\(zero)")
        #expect(!zero.contains("-c "), "\(zero)")
        // Levels × requests per connection beyond Int: refused (it used to trap).
        let overflow = try refused([
            "sweep", nowhere, "--concurrency", "4", "--requests-per-connection", String(Int.max),
        ])
        #expect(overflow.contains("--requests-per-connection"), "\(overflow)")
    }

    @Test func abNamesItsOwnConnectionsAndRate() throws {
        let zero = try refused(["ab", "--a", nowhere, "--b", nowhere, "-c", "0"])
        #expect(zero.contains("-c/--connections must be a positive number of connections, got 0"), "\(zero)")
        let rate = try refused(["ab", "--a", nowhere, "--b", nowhere, "-r", "0", "-d", "1s"])
        #expect(rate.contains("-r/--rate must be above zero"), "\(rate)")
    }

    @Test func findMaxNamesItsStartRate() throws {
        let fast = try refused([
            "find-max", nowhere, "--slo", "p99<1s", "--start", "20000000", "--ceiling", "30000000", "-d", "1s",
        ])
        #expect(fast.contains("the step rate 20000000/s (from --start) is more than 10,000,000 per second"), "\(fast)")
    }

    @Test func timeNamesItsMethodFlag() throws {
        let method = try refused(["time", nowhere, "-n", "3", "-r", "1", "-X", "G T"])
        #expect(method.contains("-X/--method: invalid method \"G T\""), "\(method)")
    }

    @Test func matrixNamesItsFlagsNotAGeneratedPlanFile() throws {
        let cell = ["matrix", "--counts", "1", "--offsets", "1s", "--base", "http://127.0.0.1:1"]
        let timeout = try refused(cell + ["--route", "/", "--timeout", "0s"])
        #expect(timeout.contains("--timeout must be above zero"), "\(timeout)")
        #expect(!timeout.contains("cell:"), "\(timeout)")
        let noData = try refused(cell + ["--route", "/${row.id}"])
        #expect(noData.contains("--route \"/${row.id}\" uses ${row.id} but no --data was given"), "\(noData)")
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("ids-\(UUID().uuidString).json")
        try #"[{"id": 1}]"#.write(to: data, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: data) }
        let column = try refused(cell + ["--route", "/${row.idd}", "--data", data.path])
        #expect(column.contains("--route \"/${row.idd}\": --data has no column \"idd\""), "\(column)")
        #expect(column.contains("did you mean \"id\"?"), "\(column)")
        let noBase = try refused(["matrix", "--counts", "1", "--offsets", "1s", "--route", "/"])
        #expect(noBase.contains("--route \"/\" is a path and needs --base"), "\(noBase)")
    }

    /// A sweep's rate level reaches the engine as the number given: the text round trip
    /// through `volley run --rate` rounded 150.5 to 151 (302 requests in 2 s, not 301).
    @Test func sweepSendsItsRateLevelsUnrounded() async throws {
        let server = try await TestServer.start()
        let r = try runVolley(["sweep", server.baseURL + "/", "--rate", "150.5", "-d", "2s", "--json", "--no-save"])
        try await server.shutdown()
        #expect(r.status == 0, "\(r.stderr)")
        let output = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let runs = try #require(output["runs"] as? [[String: Any]])
        #expect(runs.first?["level"] as? Double == 150.5)
        #expect(runs.first?["requests"] as? Int == 301)
    }
}
