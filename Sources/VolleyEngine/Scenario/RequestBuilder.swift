import NIOCore
import VolleyCore

/// Host, port, scheme and HTTP of a request: the key under which a VU keeps a connection
/// (a VU that speaks HTTP/2 and HTTP/1.1 to one host holds a connection for each).
struct Authority: Hashable {
    var host: String
    var port: Int
    var isTLS: Bool
    var http: HTTPProtocolChoice = .http1

    /// The same authority whatever HTTP it is spoken with: what an address belongs to.
    var endpoint: Authority { Authority(host: host, port: port, isTLS: isTLS) }
}

/// A rendered request, ready to write.
struct BuiltRequest {
    var authority: Authority
    /// The request target (path and query) as sent, so a redirect's relative Location can be
    /// resolved against the request's own URL.
    var path: String
    /// HTTP/1.1: the request's bytes. Empty over HTTP/2, where `h2` is the request.
    var bytes: ByteBuffer
    /// HTTP/2: the request's HPACK block and body; the session writes the id's digits.
    var h2: H2RequestTemplate?
    var isHEAD: Bool
    /// The sequence number in the request id (`ScenarioLoop.requestID(_:)` spells it out);
    /// kept as a number so a request whose id is never shown costs no string.
    var sequence: UInt64

    /// Bytes the request puts on the wire (HTTP/2: its frames).
    var wireBytes: Int { h2?.wireBytes ?? bytes.readableBytes }
}

/// Why a step's request was not built.
enum RequestBuildFailure: Error, Equatable {
    /// A template needs a value that does not exist: the step is skipped (not sent, not failed).
    case missing(MissingVariable)
    /// The rendered URL or a header value cannot be sent as it is (a line break or a control
    /// byte from a capture, a feed or the environment; a port out of range): the step fails
    /// as `invalid_request`, and nothing is written.
    case invalid(String)
}

/// What a request step's head needs that does not change between requests, worked out
/// once per run: which headers the step and the plan's defaults set (only their values
/// are templates), the method's framing. Deciding this per request (lower-casing and
/// comparing header names) cost more than writing the bytes.
struct PreparedRequest: Sendable {
    /// Step headers first, then the defaults the step did not set.
    var headers: [(name: String, value: Template)]
    var setsHost = false
    /// The default headers (``DefaultHeaders``) this step does not set, as wire bytes, and
    /// as names and values for HTTP/2.
    var defaultLines: [UInt8]
    var defaultPairs: [(name: String, value: String)]
    /// The step's HTTP, or the plan's default.
    var http: HTTPProtocolChoice
    var setsContentType = false
    var setsCookie = false
    var isHEAD: Bool
    /// POST, PUT and PATCH carry `Content-Length` even without a body.
    var alwaysSendsLength: Bool
    /// Whether the response's headers must be kept: header checks and captures.
    var readsHeaders: Bool
    /// Safe to send twice (``RetryPolicy/isReplayable(method:headerNames:)``).
    var isReplayable: Bool

    init(step: RequestStep, defaults: PlanDefaults) {
        var headers: [(name: String, value: Template)] = []
        func given(_ name: String) -> Bool { headers.contains { $0.name.equalsIgnoringASCIICase(name) } }
        for h in step.headers where !given(h.name) { headers.append((h.name, h.value)) }
        for h in defaults.headers where !given(h.name) { headers.append((h.name, h.value)) }
        self.headers = headers
        let method = step.method.uppercased()
        isHEAD = method == "HEAD"
        alwaysSendsLength = method == "POST" || method == "PUT" || method == "PATCH"
        isReplayable = RetryPolicy.isReplayable(method: method, headerNames: headers.map(\.name))
        readsHeaders =
            step.checks.contains {
                switch $0.condition {
                case .headerEquals, .headerContains, .headerExists: return true
                default: return false
                }
            }
            || step.captures.contains {
                if case .header = $0.source { return true }
                return false
            }
        setsHost = given("host")
        defaultLines = DefaultHeaders.plan(compression: defaults.compression).wireLines(missingFrom: given)
        defaultPairs = DefaultHeaders.plan(compression: defaults.compression).missing(from: given)
        http = step.http ?? defaults.http
        setsContentType = given("content-type")
        setsCookie = given("cookie")
    }
}

/// Renders a request step's templates into bytes for one VU.
///
/// A class so that VUs reach it through one reference (a struct with dictionaries was
/// copied, with its retains, on every request).
final class RequestBuilder: Sendable {
    let baseURL: TargetURL?
    let defaults: PlanDefaults
    let requestIDHeader: String?
    /// File bodies, read when the plan was loaded.
    let files: [String: [UInt8]]
    /// The run's random id prefix (8 hex digits), as in `RequestEncoder`.
    let runPrefix: [UInt8]
    /// The base URL's path without its trailing slash, and its `Host` value.
    private let basePath: String
    private let baseHostHeader: String

    init(
        baseURL: TargetURL?,
        defaults: PlanDefaults,
        requestIDHeader: String?,
        files: [String: [UInt8]],
        runPrefix: [UInt8]
    ) {
        self.runPrefix = runPrefix
        self.baseURL = baseURL
        self.defaults = defaults
        self.requestIDHeader = requestIDHeader
        self.files = files
        let path = baseURL?.pathAndQuery ?? ""
        basePath = path.hasSuffix("/") ? String(path.dropLast()) : path
        baseHostHeader = baseURL?.hostHeader ?? ""
    }

    /// Renders `request`; the request id is the run prefix, `loop` and `sequence`.
    func build(
        _ request: CompiledRequest,
        context: VUContext,
        loop: Int,
        sequence: UInt64,
        cookies: String? = nil,
        scratch: inout [UInt8],
        speaksHTTP1: (Authority) -> Bool = { _ in false }
    ) -> Result<BuiltRequest, RequestBuildFailure> {
        do {
            return .success(
                try buildThrowing(
                    request,
                    context: context,
                    loop: loop,
                    sequence: sequence,
                    cookies: cookies,
                    scratch: &scratch,
                    speaksHTTP1: speaksHTTP1
                )
            )
        } catch let missing as MissingVariable {
            return .failure(.missing(missing))
        } catch let invalid as InputError {
            return .failure(.invalid(invalid.message))
        } catch {
            return .failure(.invalid("\(error)"))
        }
    }

    private func buildThrowing(
        _ request: CompiledRequest,
        context: VUContext,
        loop: Int,
        sequence: UInt64,
        cookies: String?,
        scratch: inout [UInt8],
        speaksHTTP1: (Authority) -> Bool
    ) throws -> BuiltRequest {
        let step = request.step
        let prepared = request.prepared
        let rawURL = try context.render(step.url).get()
        let authority: Authority
        let hostHeader: String
        var path: String
        if rawURL.utf8.first != UInt8(ascii: "/")
            && (rawURL.hasPrefixIgnoringASCIICase("http://") || rawURL.hasPrefixIgnoringASCIICase("https://"))
        {
            let target = try TargetURL(parsing: rawURL)
            authority = Authority(host: target.host, port: target.port, isTLS: target.isTLS, http: prepared.http)
            hostHeader = target.hostHeader
            path = target.pathAndQuery
        } else if let base = baseURL {
            authority = Authority(host: base.host, port: base.port, isTLS: base.isTLS, http: prepared.http)
            hostHeader = baseHostHeader
            // Rendered values (captures, feeds) are checked here, per request: a literal was
            // checked when the plan was loaded, but `${id}` can hold anything the service sent.
            let target = try WireText.requestTarget(rawURL)
            path = target.utf8.first == UInt8(ascii: "/") ? basePath + target : basePath + "/" + target
        } else {
            throw MissingVariable(name: "base_url")
        }
        if !step.query.isEmpty {
            var query = ""
            for q in step.query {
                if !query.isEmpty { query += "&" }
                query += Self.percentEncode(q.name) + "=" + Self.percentEncode(try context.render(q.value).get())
            }
            path += (path.utf8.contains(UInt8(ascii: "?")) ? "&" : "?") + query
        }
        var body: [UInt8]?
        var contentType: String?
        switch step.body {
        case .none:
            break
        case .json(let json):
            body = Array(try context.renderJSON(json).get().utf8)
            contentType = "application/json"
        case .form(let fields):
            var pairs: [String] = []
            for f in fields {
                pairs.append(Self.percentEncode(f.name) + "=" + Self.percentEncode(try context.render(f.value).get()))
            }
            body = Array(pairs.joined(separator: "&").utf8)
            contentType = "application/x-www-form-urlencoded"
        case .raw(let t, let type):
            body = Array(try context.render(t).get().utf8)
            contentType = type
        case .file(let path, let type):
            body = files[path] ?? []
            contentType = type
        }
        // `speaksHTTP1`: the connection to this HTTP/2 authority fell back to HTTP/1.1 (its
        // server did not agree to h2); the request keeps the authority its connection is
        // kept under. Asked only of HTTP/2 authorities, once per request.
        if authority.http.isHTTP2 && !speaksHTTP1(authority) {
            try Self.checkScheme(authority)
            var head = H2Head()
            try writeHeaders(prepared, context, hostHeader, contentType, body, cookies, into: &head)
            let template = H2RequestTemplate(
                method: step.method,
                scheme: authority.isTLS ? "https" : "http",
                authority: head.authority ?? hostHeader,
                path: path,
                headers: head.headers,
                requestID: requestIDHeader.map { (name: $0, prefix: runPrefix) },
                body: body
            )
            return BuiltRequest(
                authority: authority,
                path: path,
                bytes: ByteBuffer(),
                h2: template,
                isHEAD: prepared.isHEAD,
                sequence: sequence
            )
        }
        // Written into the VU's scratch bytes, then copied once into the buffer: appending
        // to a ByteBuffer piece by piece paid NIO's exclusivity check on every piece.
        var head = H1Head(out: scratch)
        scratch = []
        head.out.removeAll(keepingCapacity: true)
        head.out.reserveCapacity(256 + path.utf8.count + (body?.count ?? 0))
        head.out.append(contentsOf: step.method.utf8)
        head.out.append(UInt8(ascii: " "))
        head.out.append(contentsOf: path.utf8)
        head.out.append(contentsOf: Self.versionLine)
        try writeHeaders(prepared, context, hostHeader, contentType, body, cookies, into: &head)
        var out = head.out
        if let idHeader = requestIDHeader {
            out.append(contentsOf: idHeader.utf8)
            out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: runPrefix)
            out.append(UInt8(ascii: "-"))
            let digitsAt = out.count
            out.append(contentsOf: Self.sixteenZeros)
            out.withUnsafeMutableBytes {
                RequestID.writeHex(RequestID.value(loop: loop, sequence: sequence), into: $0, at: digitsAt)
            }
            out.append(UInt8(ascii: "\r"))
            out.append(UInt8(ascii: "\n"))
        }
        out.append(UInt8(ascii: "\r"))
        out.append(UInt8(ascii: "\n"))
        if let body { out.append(contentsOf: body) }
        let buffer = ByteBuffer(bytes: out)
        scratch = out
        return BuiltRequest(
            authority: authority,
            path: path,
            bytes: buffer,
            isHEAD: prepared.isHEAD,
            sequence: sequence
        )
    }

    /// The headers every request carries, in one order for both protocols: `Host` (HTTP/2's
    /// `:authority`), the defaults the step did not set, the step's and the plan's headers,
    /// the body's type and length, the VU's cookies.
    @inline(__always)
    private func writeHeaders<Sink: HeadSink>(
        _ prepared: PreparedRequest,
        _ context: VUContext,
        _ hostHeader: String,
        _ contentType: String?,
        _ body: [UInt8]?,
        _ cookies: String?,
        into sink: inout Sink
    ) throws {
        if !prepared.setsHost { sink.header(Self.hostName, hostHeader) }
        sink.defaults(prepared)
        for h in prepared.headers {
            let value = try context.render(h.value).get()
            try WireText.checkHeaderValue(value, name: h.name)
            sink.header(h.name, value)
        }
        if let contentType, !prepared.setsContentType { sink.header("Content-Type", contentType) }
        if body != nil || prepared.alwaysSendsLength {
            sink.header("Content-Length", String(body?.count ?? 0))
        }
        if let cookies, !prepared.setsCookie {
            // Cookie values come from the service's Set-Cookie headers: checked like captures.
            try WireText.checkHeaderValue(cookies, name: "Cookie")
            sink.header("Cookie", cookies)
        }
    }

    /// HTTP/2 over TLS needs https, h2c needs http: a URL rendered from a capture or a feed
    /// (the plan's reader checked literal ones) that does not fit is not sent.
    private static func checkScheme(_ authority: Authority) throws {
        if authority.http == .http2 && !authority.isTLS {
            throw InputError(
                "http: 2 is HTTP/2 over TLS, but the request goes to http://\(authority.host):\(authority.port)",
                hint: "write http: h2c for HTTP/2 over cleartext, or use an https:// URL"
            )
        }
        if authority.http == .h2c && authority.isTLS {
            throw InputError(
                "http: h2c is HTTP/2 over cleartext, but the request goes to https://\(authority.host):\(authority.port)",
                hint: "write http: 2 for HTTP/2 over TLS, or use an http:// URL"
            )
        }
    }

    private static let versionLine = Array(" HTTP/1.1\r\n".utf8)
    private static let hostName = "Host"
    private static let sixteenZeros = [UInt8](repeating: 0x30, count: 16)

    /// RFC 3986 unreserved characters pass; everything else is %-encoded.
    static func percentEncode(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E:
                out.append(b)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(RequestEncoder.hexDigit(b >> 4, uppercase: true))
                out.append(RequestEncoder.hexDigit(b & 0xF, uppercase: true))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Where ``RequestBuilder`` writes a request's headers: HTTP/1.1 lines or HTTP/2 fields.
private protocol HeadSink {
    mutating func header(_ name: String, _ value: String)
    mutating func defaults(_ prepared: PreparedRequest)
}

/// HTTP/1.1: header lines appended to the request's bytes.
private struct H1Head: HeadSink {
    var out: [UInt8]

    @inline(__always)
    mutating func header(_ name: String, _ value: String) {
        out.append(contentsOf: name.utf8)
        out.append(UInt8(ascii: ":"))
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: value.utf8)
        out.append(UInt8(ascii: "\r"))
        out.append(UInt8(ascii: "\n"))
    }

    mutating func defaults(_ prepared: PreparedRequest) {
        out.append(contentsOf: prepared.defaultLines)
    }
}

/// HTTP/2: fields for ``H2RequestTemplate``; `Host` becomes `:authority` (RFC 9113 §8.3.1).
private struct H2Head: HeadSink {
    var authority: String?
    var headers: [(name: String, value: String)] = []

    mutating func header(_ name: String, _ value: String) {
        if name.equalsIgnoringASCIICase("host") {
            authority = value
        } else {
            headers.append((name, value))
        }
    }

    mutating func defaults(_ prepared: PreparedRequest) {
        headers += prepared.defaultPairs
    }
}
