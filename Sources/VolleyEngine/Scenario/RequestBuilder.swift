import NIOCore
import VolleyCore

/// Host, port and scheme of a request: the key under which a VU keeps a connection.
struct Authority: Hashable {
    var host: String
    var port: Int
    var isTLS: Bool

    var key: String { "\(isTLS ? "https" : "http")://\(host):\(port)" }
}

/// A rendered request, ready to write.
struct BuiltRequest {
    var authority: Authority
    var bytes: ByteBuffer
    var isHEAD: Bool
    var requestID: String
}

/// Renders a request step's templates into bytes for one VU.
struct RequestBuilder: Sendable {
    var baseURL: TargetURL?
    var defaults: PlanDefaults
    var requestIDHeader: String?
    /// File bodies, read when the plan was loaded.
    var files: [String: [UInt8]]

    func build(
        _ step: RequestStep,
        context: VUContext,
        requestID: String,
        cookies: String? = nil
    ) -> Result<BuiltRequest, MissingVariable> {
        do {
            return .success(try buildThrowing(step, context: context, requestID: requestID, cookies: cookies))
        } catch let missing as MissingVariable {
            return .failure(missing)
        } catch {
            return .failure(MissingVariable(name: "\(error)"))
        }
    }

    private func buildThrowing(
        _ step: RequestStep,
        context: VUContext,
        requestID: String,
        cookies: String?
    ) throws -> BuiltRequest {
        let rawURL = try context.render(step.url).get()
        let target: TargetURL
        if rawURL.hasPrefixIgnoringASCIICase("http://") || rawURL.hasPrefixIgnoringASCIICase("https://") {
            target = try TargetURL(parsing: rawURL)
        } else if var base = baseURL {
            let basePath = base.pathAndQuery.hasSuffix("/") ? String(base.pathAndQuery.dropLast()) : base.pathAndQuery
            base.pathAndQuery = basePath + (rawURL.hasPrefix("/") ? rawURL : "/" + rawURL)
            target = base
        } else {
            throw MissingVariable(name: "base_url")
        }
        var path = target.pathAndQuery
        if !step.query.isEmpty {
            var pairs: [String] = []
            for q in step.query {
                pairs.append(Self.percentEncode(q.name) + "=" + Self.percentEncode(try context.render(q.value).get()))
            }
            path += (path.contains("?") ? "&" : "?") + pairs.joined(separator: "&")
        }
        var headers: [(String, String)] = []
        var names: [String] = []
        func given(_ name: String) -> Bool { names.contains { $0.equalsIgnoringASCIICase(name) } }
        // Step headers first, then defaults the step did not set (no array of arrays: this
        // runs for every request).
        for h in step.headers where !given(h.name) {
            names.append(h.name)
            headers.append((h.name, try context.render(h.value).get()))
        }
        for h in defaults.headers where !given(h.name) {
            names.append(h.name)
            headers.append((h.name, try context.render(h.value).get()))
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
        var head = "\(step.method) \(path) HTTP/1.1\r\n"
        if !given("host") { head += "Host: \(target.hostHeader)\r\n" }
        if !given("user-agent") { head += "User-Agent: volley/\(VolleyVersion.current)\r\n" }
        if !given("accept") { head += "Accept: */*\r\n" }
        for (n, v) in headers { head += "\(n): \(v)\r\n" }
        if let contentType, !given("content-type") { head += "Content-Type: \(contentType)\r\n" }
        let method = step.method.uppercased()
        if body != nil || method == "POST" || method == "PUT" || method == "PATCH" {
            head += "Content-Length: \(body?.count ?? 0)\r\n"
        }
        if let cookies, !given("cookie") { head += "Cookie: \(cookies)\r\n" }
        if let idHeader = requestIDHeader { head += "\(idHeader): \(requestID)\r\n" }
        head += "\r\n"
        var buffer = ByteBuffer(string: head)
        if let body { buffer.writeBytes(body) }
        return BuiltRequest(
            authority: Authority(host: target.host, port: target.port, isTLS: target.isTLS),
            bytes: buffer,
            isHEAD: method == "HEAD",
            requestID: requestID
        )
    }

    /// RFC 3986 unreserved characters pass; everything else is %-encoded.
    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E:
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 0xF)])
            }
        }
        return out
    }
}
