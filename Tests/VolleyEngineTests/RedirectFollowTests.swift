import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// `volley run --follow N` against a server that counts every hop it receives: a request
/// and its hops are one request (one latency, the final status), the hops are counted and
/// their bytes included, and what the server saw matches.
@Suite(.serialized) struct RedirectFollowTests {
    private func run(
        _ url: String,
        follow: Int,
        model: LoadModel = .closed(connections: 2, limit: .requests(20)),
        method: String = "GET",
        body: [UInt8]? = nil,
        keepAlive: Bool = true,
        insecure: Bool = false
    ) async throws -> RunSummary {
        var spec = RequestSpec(method: method, url: try TargetURL(parsing: url), keepAlive: keepAlive)
        spec.body = body
        var config = RunConfiguration(
            request: spec,
            model: model,
            threads: 2,
            requestTimeout: .seconds(5),
            connectTimeout: .seconds(2),
            insecure: insecure,
            interruptGrace: .milliseconds(300)
        )
        config.endGrace = .seconds(2)
        config.followRedirects = follow
        return try await LoadEngine(configuration: config).run()
    }

    private func withServer(_ body: (RedirectServer) async throws -> Void) async throws {
        let server = try await RedirectServer.start()
        do {
            try await body(server)
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test func aChainOfThreeIsOneRequestWithThreeHops() async throws {
        try await withServer { server in
            let s = try await run(server.url("/chain/3"), follow: 5)
            #expect(s.completed == 20)
            #expect(s.status == ["200": 20])
            #expect(s.redirectsFollowed == 60)
            #expect(s.redirectLimit == nil)
            #expect(server.requestsReceived == 80)
            #expect(server.requests(to: "/chain/0") == 20)
            // The hops' bytes count: 4 requests went out per request.
            let plain = try await run(server.url("/chain/0"), follow: 5)
            #expect(s.bytesOut > 3 * plain.bytesOut, "\(s.bytesOut) vs \(plain.bytesOut)")
            #expect(s.bytesIn > plain.bytesIn)
        }
    }

    @Test func relativeAndAbsoluteLocationsAndEveryStatusAreFollowed() async throws {
        try await withServer { server in
            for (status, location) in [("301", "relative"), ("307", "absolute"), ("308", "path")] {
                let s = try await run(server.url("/chain/2?status=\(status)&location=\(location)"), follow: 2)
                #expect(s.status == ["200": 20], "\(status) \(location)")
                #expect(s.redirectsFollowed == 40, "\(status) \(location)")
            }
        }
    }

    @Test func followZeroCountsTheRedirects() async throws {
        try await withServer { server in
            let s = try await run(server.url("/chain/3"), follow: 0)
            #expect(s.status == ["302": 20])
            #expect(s.redirectsFollowed == nil)
            #expect(s.redirectLimit == nil)
            #expect(server.requestsReceived == 20)
        }
    }

    @Test func aLoopEndsAtTheLimitWithTheRedirectAsItsStatus() async throws {
        try await withServer { server in
            let s = try await run(server.url("/loop"), follow: 4)
            #expect(s.completed == 20)
            #expect(s.status == ["302": 20])
            #expect(s.redirectsFollowed == 80)
            #expect(s.redirectLimit == 20)
            #expect(server.requestsReceived == 100)
        }
    }

    @Test func a303AfterPostContinuesAsGetWithoutTheBody() async throws {
        try await withServer { server in
            let s = try await run(server.url("/submit"), follow: 3, method: "POST", body: Array("name=x".utf8))
            #expect(s.status == ["200": 20])
            #expect(s.redirectsFollowed == 20)
            let landings = server.received.filter { $0.path == "/landing" }
            #expect(landings.count == 20)
            #expect(landings.allSatisfy { $0.method == "GET" && $0.bodyBytes == 0 })
            #expect(server.received.filter { $0.path == "/submit" }.allSatisfy { $0.bodyBytes == 6 })
        }
    }

    @Test func a307KeepsTheMethodAndTheBody() async throws {
        try await withServer { server in
            let s = try await run(
                server.url("/chain/1?status=307"),
                follow: 3,
                method: "POST",
                body: Array("name=x".utf8)
            )
            #expect(s.status == ["200": 20])
            let ends = server.received.filter { $0.path == "/chain/0" }
            #expect(ends.count == 20)
            #expect(ends.allSatisfy { $0.method == "POST" && $0.bodyBytes == 6 })
        }
    }

    @Test func aRedirectToAnotherServerIsFollowedThere() async throws {
        try await withServer { first in
            try await withServer { second in
                let to = second.url("/chain/1").addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let s = try await run(first.url("/to?url=\(to)"), follow: 3)
                #expect(s.status == ["200": 20])
                #expect(s.redirectsFollowed == 40)
                #expect(first.requestsReceived == 20)
                #expect(second.requestsReceived == 40)
                #expect(second.received.allSatisfy { $0.host == "127.0.0.1:\(second.port)" })
            }
        }
    }

    @Test func aRedirectFromHTTPToHTTPSByNameIsFollowedOverTLS() async throws {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        let context = try TestServer.makeTLSContext(
            certificatePath: fixtures.appendingPathComponent("cert.pem").path,
            keyPath: fixtures.appendingPathComponent("key.pem").path
        )
        let secure = try await TestServer.start(tls: context)
        do {
            try await withServer { server in
                // A host name, resolved by the loop's address book (the target was an address).
                let to = "https://localhost:\(secure.port)/redirect/1"
                let encoded = to.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let s = try await run(server.url("/to?url=\(encoded)&status=301"), follow: 3, insecure: true)
                #expect(s.status == ["200": 20], "\(s.transportErrorSamples)")
                #expect(s.redirectsFollowed == 40)
                #expect(secure.requestsReceived == 40)
            }
        } catch {
            try await secure.shutdown()
            throw error
        }
        try await secure.shutdown()
    }

    @Test func aHopThatCannotConnectFailsTheRequestAndAnUnusableLocationEndsIt() async throws {
        try await withServer { server in
            let refused = "http%3A%2F%2F127.0.0.1%3A1%2F"
            let s = try await run(server.url("/to?url=\(refused)"), follow: 3)
            #expect(s.completed == 0)
            #expect(s.transportErrors == ["connection_refused": 20])
            #expect(s.redirectsFollowed == 20)
            let ftp = try await run(server.url("/to?url=ftp%3A%2F%2F127.0.0.1%2Ff"), follow: 3)
            #expect(ftp.status == ["302": 20])
            #expect(ftp.redirectUnusable == 20)
            #expect(ftp.redirectsFollowed == nil)
        }
    }

    @Test func theLatencyRunsToTheFinalResponse() async throws {
        let slow = try await TestServer.start()
        do {
            try await withServer { server in
                // The 302 is answered at once; the final response 60 ms later, on another server.
                let to = "http%3A%2F%2F127.0.0.1%3A\(slow.port)%2Fdelay%2F60"
                let s = try await run(
                    server.url("/to?url=\(to)"),
                    follow: 1,
                    model: .closed(connections: 1, limit: .requests(4))
                )
                #expect(s.status == ["200": 4])
                #expect(s.latencyMs.min >= 60, "\(s.latencyMs)")
            }
        } catch {
            try await slow.shutdown()
            throw error
        }
        try await slow.shutdown()
    }

    @Test func withoutKeepAliveEachHopGoesOnANewConnection() async throws {
        try await withServer { server in
            let s = try await run(server.url("/chain/2"), follow: 3, keepAlive: false)
            #expect(s.status == ["200": 20])
            #expect(s.redirectsFollowed == 40)
            #expect(s.connectionsOpened == 60)
            #expect(server.requestsReceived == 60)
        }
    }

    @Test func theOpenModelCountsEachChainOnceFromItsIntendedStart() async throws {
        try await withServer { server in
            let schedule = ArrivalSchedule(rate: 200, duration: .milliseconds(500))
            let s = try await run(
                server.url("/chain/3"),
                follow: 5,
                model: .open(schedule: schedule, maxConnections: 20, preconnect: 2)
            )
            #expect(s.completed == schedule.scheduledCount)
            #expect(s.status == ["200": schedule.scheduledCount])
            #expect(s.redirectsFollowed == 3 * schedule.scheduledCount)
            #expect(server.requestsReceived == 4 * schedule.scheduledCount)
        }
    }
}
