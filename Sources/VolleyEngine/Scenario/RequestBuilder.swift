import NIOCore
import VolleyCore

/// Host, port and scheme of a request: the key under which a VU keeps a connection.
struct Authority: Hashable {
    var host: String
    var port: Int
    var isTLS: Bool
}

/// A rendered request, ready to write.
struct BuiltRequest {
    var authority: Authority
    /// The request target (path and query) as sent, so a redirect's relative Location can be
    /// resolved against the request's own URL.
    var path: String
    var bytes: ByteBuffer
    var isHEAD: Bool
    /// The sequence number in the request id (`ScenarioLoop.requestID(_:)` spells it out);
    /// kept as a number so a request whose id is never shown costs no string.
    var sequence: UInt64
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
    /// The default headers (``DefaultHeaders``) this step does not set, as wire bytes.
    var defaultLines: [UInt8]
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
        scratch: inout [UInt8]
    ) -> Result<BuiltRequest, RequestBuildFailure> {
        do {
            return .success(
                try buildThrowing(
                    request,
                    context: context,
                    loop: loop,
                    sequence: sequence,
                    cookies: cookies,
                    scratch: &scratch
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
        scratch: inout [UInt8]
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
            authority = Authority(host: target.host, port: target.port, isTLS: target.isTLS)
            hostHeader = target.hostHeader
            path = target.pathAndQuery
        } else if let base = baseURL {
            authority = Authority(host: base.host, port: base.port, isTLS: base.isTLS)
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
        // Written into the VU's scratch bytes, then copied once into the buffer: appending
        // to a ByteBuffer piece by piece paid NIO's exclusivity check on every piece.
        var out = scratch
        scratch = []
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(256 + path.utf8.count + (body?.count ?? 0))
        out.append(contentsOf: step.method.utf8)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: path.utf8)
        out.append(contentsOf: Self.versionLine)
        if !prepared.setsHost { Self.appendHeader(Self.hostName, hostHeader, to: &out) }
        out.append(contentsOf: prepared.defaultLines)
        for h in prepared.headers {
            let value = try context.render(h.value).get()
            try WireText.checkHeaderValue(value, name: h.name)
            Self.appendHeader(h.name, value, to: &out)
        }
        if let contentType, !prepared.setsContentType { Self.appendHeader("Content-Type", contentType, to: &out) }
        if body != nil || prepared.alwaysSendsLength {
            Self.appendHeader("Content-Length", String(body?.count ?? 0), to: &out)
        }
        if let cookies, !prepared.setsCookie {
            // Cookie values come from the service's Set-Cookie headers: checked like captures.
            try WireText.checkHeaderValue(cookies, name: "Cookie")
            Self.appendHeader("Cookie", cookies, to: &out)
        }
        if let idHeader = requestIDHeader {
            out.append(contentsOf: idHeader.utf8)
            out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: runPrefix)
            out.append(UInt8(ascii: "-"))
            var value = RequestID.value(loop: loop, sequence: sequence)
            let digitsAt = out.count
            out.append(contentsOf: Self.sixteenZeros)
            for i in stride(from: digitsAt + 15, through: digitsAt, by: -1) {
                out[i] = RequestEncoder.hexDigit(UInt8(truncatingIfNeeded: value & 0xF))
                value >>= 4
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

    private static let versionLine = Array(" HTTP/1.1\r\n".utf8)
    private static let hostName = "Host"
    private static let sixteenZeros = [UInt8](repeating: 0x30, count: 16)

    @inline(__always)
    private static func appendHeader(_ name: String, _ value: String, to out: inout [UInt8]) {
        out.append(contentsOf: name.utf8)
        out.append(UInt8(ascii: ":"))
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: value.utf8)
        out.append(UInt8(ascii: "\r"))
        out.append(UInt8(ascii: "\n"))
    }

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
