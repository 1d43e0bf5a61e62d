import Foundation
import Testing
import VolleyTestSupport

/// The redirect server's routes, followed by hand with a plain NIO client: every Location is
/// resolved the way RFC 3986 says (Foundation's `URL(string:relativeTo:)`), and the server's
/// own counts are checked against the hops taken.
@Suite struct RedirectServerTests {
    /// Follows redirects from `start` by hand, at most `limit` hops; every hop on a fresh
    /// connection. Returns the exchanges in order and the URL of each.
    static func follow(
        _ start: String,
        limit: Int = 10,
        method: String = "GET",
        body: String = ""
    ) async throws -> [(url: URL, exchange: ProbeExchange)] {
        var url = try #require(URL(string: start))
        var method = method
        var body = body
        var hops: [(URL, ProbeExchange)] = []
        for _ in 0...limit {
            let port = try #require(url.port)
            let target = url.path + (url.query.map { "?" + $0 } ?? "")
            let exchange = try await ProbeClient.exchange(port: port, method: method, target: target, body: body)
            hops.append((url, exchange))
            guard (300..<400).contains(exchange.status), let location = exchange.location else { break }
            url = try #require(URL(string: location, relativeTo: url)?.absoluteURL)
            if exchange.status == 303 {
                method = "GET"
                body = ""
            }
        }
        return hops
    }

    @Test func chainEndsAfterItsLength() async throws {
        let server = try await RedirectServer.start()
        let hops = try await Self.follow(server.url("/chain/3"))
        let counts = server.requestCounts
        try await server.shutdown()
        #expect(hops.map(\.exchange.status) == [302, 302, 302, 200])
        #expect(hops.map(\.url.path) == ["/chain/3", "/chain/2", "/chain/1", "/chain/0"])
        #expect(hops.last?.exchange.body == "chain end")
        #expect(hops[0].exchange.location == "/chain/2")
        #expect(counts == ["/chain/3": 1, "/chain/2": 1, "/chain/1": 1, "/chain/0": 1])
    }

    @Test(arguments: [301, 302, 303, 307, 308])
    func everyRedirectStatusIsSelectable(status: Int) async throws {
        let server = try await RedirectServer.start()
        let hop = try await ProbeClient.exchange(port: server.port, target: "/chain/1?status=\(status)")
        try await server.shutdown()
        #expect(hop.status == status)
        #expect(hop.location == "/chain/0?status=\(status)")
        #expect(hop.body.isEmpty && hop.headers["content-length"] == "0")
    }

    @Test func unknownStatusOrLocationIsRefused() async throws {
        let server = try await RedirectServer.start()
        let status = try await ProbeClient.exchange(port: server.port, target: "/chain/1?status=200")
        let location = try await ProbeClient.exchange(port: server.port, target: "/loop?location=elsewhere")
        try await server.shutdown()
        #expect(status.status == 400 && status.body.contains("status=200"))
        #expect(location.status == 400 && location.body.contains("location=elsewhere"))
    }

    @Test(arguments: ["path", "relative", "absolute"])
    func everyLocationFormResolvesToTheNextHop(form: String) async throws {
        let server = try await RedirectServer.start()
        let hops = try await Self.follow(server.url("/chain/2?location=\(form)"))
        try await server.shutdown()
        let first = try #require(hops.first?.exchange.location)
        switch form {
        case "path": #expect(first == "/chain/1?location=path")
        case "relative": #expect(first == "1?location=relative")
        default: #expect(first == server.url("/chain/1?location=absolute"))
        }
        #expect(hops.map(\.url.path) == ["/chain/2", "/chain/1", "/chain/0"])
        #expect(hops.last?.exchange.status == 200)
    }

    @Test func loopNeverEnds() async throws {
        let server = try await RedirectServer.start()
        let hops = try await Self.follow(server.url("/loop?status=307&location=relative"), limit: 4)
        try await server.shutdown()
        #expect(hops.count == 5)
        #expect(hops.allSatisfy { $0.exchange.status == 307 && $0.url.path == "/loop" })
        #expect(server.requests(to: "/loop") == 5)
    }

    @Test func postIsAnsweredWith303AndTheClientComesBackWithGet() async throws {
        let server = try await RedirectServer.start()
        let hops = try await Self.follow(server.url("/submit"), method: "POST", body: "name=volley")
        let refused = try await ProbeClient.exchange(port: server.port, target: "/submit")
        let received = server.received
        try await server.shutdown()
        #expect(hops.map(\.exchange.status) == [303, 200])
        #expect(hops.last?.exchange.body == "landed")
        #expect(refused.status == 405)
        #expect(received.map(\.method) == ["POST", "GET", "GET"])
        #expect(received.map(\.path) == ["/submit", "/landing", "/submit"])
        #expect(received.map(\.bodyBytes) == [11, 0, 0])
    }

    @Test func crossHostRedirectIsCountedOnEachServer() async throws {
        let a = try await RedirectServer.start()
        let b = try await RedirectServer.start()
        let landing = b.url("/landing")
        let encoded = try #require(landing.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        let hops = try await Self.follow(a.url("/to?status=302&url=\(encoded)"))
        let (aCounts, bCounts) = (a.requestCounts, b.requestCounts)
        try await a.shutdown()
        try await b.shutdown()
        #expect(a.port != b.port)
        #expect(hops.map(\.exchange.status) == [302, 200])
        #expect(hops[0].exchange.location == landing)
        #expect(hops.map { $0.url.port } == [a.port, b.port])
        #expect(aCounts == ["/to": 1])
        #expect(bCounts == ["/landing": 1])
    }
}
