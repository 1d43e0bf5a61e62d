import NIOCore
import Testing
import VolleyCore

@testable import VolleyEngine

/// The bytes a plan step puts on the wire, byte for byte: the builder writes them directly
/// into a buffer (no intermediate strings), so every header rule is pinned here.
@Suite struct RequestBuilderTests {
    private let prefix = Array("0badc0de".utf8)

    private func builder(
        base: String? = "http://127.0.0.1:8080/api/",
        defaults: PlanDefaults = PlanDefaults()
    )
        throws -> RequestBuilder
    {
        RequestBuilder(
            baseURL: try base.map { try TargetURL(parsing: $0) },
            defaults: defaults,
            requestIDHeader: "X-Request-ID",
            files: [:],
            runPrefix: prefix
        )
    }

    private func build(
        _ step: RequestStep,
        _ builder: RequestBuilder,
        variables: [String: String] = [:],
        cookies: String? = nil
    ) -> Result<BuiltRequest, RequestBuildFailure> {
        let compiled = CompiledRequest(step: step, nameID: 0, checkIDs: [], defaults: builder.defaults)
        let context = VUContext(number: 1, iteration: 0, variables: variables)
        var scratch: [UInt8] = []
        return builder.build(compiled, context: context, loop: 1, sequence: 0x2a, cookies: cookies, scratch: &scratch)
    }

    private func text(_ result: Result<BuiltRequest, RequestBuildFailure>) throws -> String {
        String(buffer: try result.get().bytes)
    }

    @Test func aRelativeGetGetsTheDefaultHeadersAndTheID() throws {
        let step = RequestStep(method: "GET", url: try Template(parsing: "todos/${id}"))
        let wire = try text(build(step, try builder(), variables: ["id": "7"]))
        #expect(
            wire == "GET /api/todos/7 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                + "User-Agent: volley/\(VolleyVersion.current)\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate, br\r\n"
                + "X-Request-ID: 0badc0de-010000000000002a\r\n\r\n"
        )
    }

    @Test func stepHeadersWinOverDefaultsAndReplaceBuiltIns() throws {
        let defaults = PlanDefaults(headers: [
            TemplatedHeader(name: "accept", value: "text/plain"),
            TemplatedHeader(name: "X-Team", value: "blue"),
        ])
        let step = RequestStep(
            method: "POST",
            url: "/todos",
            query: [(name: "q", value: "a b&c")],
            headers: [
                TemplatedHeader(name: "X-Team", value: try Template(parsing: "${team}")),
                .init(name: "HOST", value: "example.test"),
            ],
            body: .json(.object([("title", .string(try Template(parsing: "${title}")))]))
        )
        let wire = try text(
            build(
                step,
                try builder(defaults: defaults),
                variables: ["team": "red", "title": "buy \"milk\""],
                cookies: "s=1"
            )
        )
        let body = #"{"title":"buy \"milk\""}"#
        #expect(
            wire == "POST /api/todos?q=a%20b%26c HTTP/1.1\r\n"
                + "User-Agent: volley/\(VolleyVersion.current)\r\nAccept-Encoding: gzip, deflate, br\r\n"
                + "X-Team: red\r\nHOST: example.test\r\naccept: text/plain\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nCookie: s=1\r\n"
                + "X-Request-ID: 0badc0de-010000000000002a\r\n\r\n" + body
        )
    }

    @Test func anAbsoluteURLGoesToItsOwnAuthority() throws {
        let step = RequestStep(method: "DELETE", url: "https://[::1]:8443/x?y=1")
        let built = try build(step, try builder()).get()
        #expect(built.authority == Authority(host: "::1", port: 8443, isTLS: true))
        #expect(String(buffer: built.bytes).hasPrefix("DELETE /x?y=1 HTTP/1.1\r\nHost: [::1]:8443\r\n"))
    }

    @Test func aMissingVariableOrBaseIsReportedNotSent() throws {
        let step = RequestStep(method: "GET", url: try Template(parsing: "/todos/${id}"))
        #expect(throws: RequestBuildFailure.missing(MissingVariable(name: "id"))) {
            try build(step, try builder()).get()
        }
        #expect(throws: RequestBuildFailure.missing(MissingVariable(name: "base_url"))) {
            try build(RequestStep(method: "GET", url: "/"), try builder(base: nil)).get()
        }
    }

    /// A value rendered during the run (a capture, a feed row) is checked before anything is
    /// written: a line break in it would add a header (or a request) of the service's choosing.
    @Test(arguments: [
        ("/todos/${id}", "", "7\r\nX-Injected: 1"),
        ("/todos/${id}", "", "7\nX-Injected: 1"),
        ("/todos/${id}", "", "7\u{0}"),
        ("/todos/${id}", "", "%zz"),
        ("http://127.0.0.1:${id}/", "", "99999"),
        ("http://127.0.0.1:${id}/", "", "0"),
        ("/todos", "${id}", "a\r\nX-Injected: 1"),
        ("/todos", "${id}", "a\u{0}b"),
    ])
    func renderedLineBreaksAndBadURLsAreRefusedNotSent(url: String, header: String, value: String) throws {
        var step = RequestStep(method: "GET", url: try Template(parsing: url))
        if !header.isEmpty { step.headers = [TemplatedHeader(name: "X-Id", value: try Template(parsing: header))] }
        let result = build(step, try builder(), variables: ["id": value])
        guard case .failure(.invalid(let message)) = result else {
            Issue.record("built \(result)")
            return
        }
        #expect(!message.contains("\r") && !message.contains("\n"), "the message spells control bytes out")
    }

    @Test func renderedSpacesAndNonASCIIArePercentEncoded() throws {
        let step = RequestStep(method: "GET", url: try Template(parsing: "/todos/${id}"))
        let wire = try text(build(step, try builder(), variables: ["id": "a b/é"]))
        #expect(wire.hasPrefix("GET /api/todos/a%20b/%C3%A9 HTTP/1.1\r\n"))
    }

    @Test func aCookieFromTheServerWithALineBreakIsRefused() throws {
        let result = build(RequestStep(method: "GET", url: "/"), try builder(), cookies: "s=1\rX-Injected: 1")
        guard case .failure(.invalid) = result else {
            Issue.record("built \(result)")
            return
        }
    }

    @Test func onlyStepsThatReadHeadersKeepThemAll() throws {
        let plain = RequestStep(method: "GET", url: "/", checks: [Check(.status([200]))])
        let reads = RequestStep(
            method: "GET",
            url: "/",
            captures: [Capture(name: "etag", source: .header("ETag"))]
        )
        #expect(!PreparedRequest(step: plain, defaults: PlanDefaults()).readsHeaders)
        #expect(PreparedRequest(step: reads, defaults: PlanDefaults()).readsHeaders)
    }

    @Test func queryValuesArePercentEncodedWithUppercaseDigits() {
        // RFC 3986 §2.1: uppercase hex; unreserved characters pass unchanged.
        #expect(RequestBuilder.percentEncode("a/b é~-._Z9") == "a%2Fb%20%C3%A9~-._Z9")
    }

    @Test func requestIDDigitsAreLowercaseHex() {
        #expect(RequestEncoder.hex(0xFEDC_BA98_7654_3210, digits: 16) == Array("fedcba9876543210".utf8))
        #expect(RequestEncoder.hex(0xAB, digits: 4) == Array("00ab".utf8))
    }
}
