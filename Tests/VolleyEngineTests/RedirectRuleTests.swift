import NIOCore
import Testing
import VolleyCore

@testable import VolleyEngine

/// The redirect rules of `volley run --follow` without sockets: which responses continue a
/// request, where the Location leads (RFC 3986 resolution), and what the hop sends.
struct RedirectRuleTests {
    private let base = try! TargetURL(parsing: "http://example.test:8080/a/b/c?x=1")

    @Test(arguments: [
        ("http://other.test/z", "http://other.test/z"),
        ("https://other.test:8443/z?q", "https://other.test:8443/z?q"),
        ("//other.test/z", "http://other.test/z"),
        ("/z", "http://example.test:8080/z"),
        ("/z?q=2#frag", "http://example.test:8080/z?q=2"),
        ("d", "http://example.test:8080/a/b/d"),
        ("./d/e", "http://example.test:8080/a/b/d/e"),
        ("../d", "http://example.test:8080/a/d"),
        ("../../../../d", "http://example.test:8080/d"),
        ("?y=2", "http://example.test:8080/a/b/c?y=2"),
        ("d/..", "http://example.test:8080/a/b/"),
        ("/a/./b/../c", "http://example.test:8080/a/c"),
    ])
    func locationsResolveAgainstTheCurrentURL(location: String, expected: String) throws {
        #expect(try base.resolving(location).description == expected)
    }

    @Test func otherSchemesAndBadReferencesAreNotFollowed() {
        for location in ["ftp://example.test/f", "mailto:a@b", "http://exa mple.test/"] {
            let d = RedirectDecision.decide(
                status: 302,
                location: location,
                from: base,
                method: "GET",
                hops: 0,
                limit: 5
            )
            guard case .unusable = d else {
                Issue.record("\(location): \(d)")
                continue
            }
        }
    }

    @Test func onlyRedirectStatusesWithALocationContinue() {
        for status in [200, 300, 304, 404] {
            #expect(
                RedirectDecision.decide(status: status, location: "/z", from: base, method: "GET", hops: 0, limit: 5)
                    == .final
            )
        }
        #expect(
            RedirectDecision.decide(status: 302, location: nil, from: base, method: "GET", hops: 0, limit: 5) == .final
        )
        #expect(
            RedirectDecision.decide(status: 302, location: "/z", from: base, method: "GET", hops: 5, limit: 5)
                == .limitReached
        )
    }

    @Test func methodRulesMatchPlans() throws {
        let z = try TargetURL(parsing: "http://example.test:8080/z")
        func decide(_ status: Int, _ method: String) -> RedirectDecision {
            RedirectDecision.decide(status: status, location: "/z", from: base, method: method, hops: 0, limit: 5)
        }
        #expect(decide(303, "PUT") == .follow(url: z, method: "GET", keepsBody: false))
        #expect(decide(303, "HEAD") == .follow(url: z, method: "HEAD", keepsBody: true))
        #expect(decide(301, "POST") == .follow(url: z, method: "GET", keepsBody: false))
        #expect(decide(302, "POST") == .follow(url: z, method: "GET", keepsBody: false))
        #expect(decide(302, "PUT") == .follow(url: z, method: "PUT", keepsBody: true))
        #expect(decide(307, "POST") == .follow(url: z, method: "POST", keepsBody: true))
        #expect(decide(308, "POST") == .follow(url: z, method: "POST", keepsBody: true))
    }

    private func text(_ encoder: RequestEncoder) -> String {
        var buffer = ByteBuffer()
        encoder.encode(into: &buffer, loop: 1, sequence: 7)
        return String(buffer: buffer)
    }

    @Test func aHopCarriesTheSameRequestIDAndDropsWhatNoLongerApplies() throws {
        var spec = RequestSpec(method: "POST", url: base, keepAlive: true)
        spec.body = Array("name=x".utf8)
        spec.headers = [
            HTTPHeader(name: "Authorization", value: "Bearer t"),
            HTTPHeader(name: "Content-Type", value: "application/x-www-form-urlencoded"),
        ]
        spec.requestIDHeader = "X-Request-ID"
        let original = RequestEncoder(spec: spec, runPrefix: 0xABCD_0123)
        let follower = RedirectFollower(limit: 3, spec: spec, runPrefix: original.runPrefixValue)
        func idLine(_ s: String) -> Substring? { s.split(separator: "\r\n").first { $0.hasPrefix("X-Request-ID:") } }
        let id = try #require(idLine(text(original)))

        let (_, sameHost) = follower.next(status: 303, location: "/landing", after: nil)
        let landing = text(try #require(sameHost).encoder)
        #expect(landing.hasPrefix("GET /landing HTTP/1.1\r\n"))
        #expect(idLine(landing) == id)
        #expect(landing.contains("Authorization: Bearer t"))
        #expect(!landing.contains("Content-Type") && !landing.contains("name=x"))

        let (_, elsewhere) = follower.next(status: 307, location: "http://other.test/in", after: nil)
        let other = try #require(elsewhere)
        let moved = text(other.encoder)
        #expect(moved.hasPrefix("POST /in HTTP/1.1\r\nHost: other.test\r\n"))
        #expect(idLine(moved) == id)
        #expect(!moved.contains("Authorization"))
        #expect(moved.hasSuffix("name=x"))
        #expect(other.hops == 1)
        // A later 307 keeps what the chain has: no body once a 303 dropped it.
        let (_, after303) = follower.next(status: 307, location: "/again", after: sameHost)
        #expect(try #require(after303).hops == 2)
        #expect(!text(try #require(after303).encoder).contains("name=x"))
    }
}
