/// A parsed `http://` or `https://` target.
///
/// Parsed by hand rather than through Foundation's `URL` so that the bytes Volley sends are
/// exactly the bytes the user typed (no silent re-encoding of the path), and so Core stays
/// free of platform differences.
public struct TargetURL: Equatable, Sendable, CustomStringConvertible {
    public var scheme: String
    /// Host name or address, without IPv6 brackets.
    public var host: String
    public var port: Int
    /// Path plus query, always starting with `/`.
    public var pathAndQuery: String

    public var isTLS: Bool { scheme == "https" }

    /// The `Host` header value: the port is omitted when it is the scheme's default.
    public var hostHeader: String {
        // `utf8.contains`, not `String.contains`: the latter goes through Foundation's
        // string search, measured at 8 % of a plan run's CPU when called per request.
        let h = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        let defaultPort = isTLS ? 443 : 80
        return port == defaultPort ? h : "\(h):\(port)"
    }

    public var description: String {
        "\(scheme)://\(hostHeader)\(pathAndQuery)"
    }

    /// Host names (RFC 3986 unreserved and sub-delims, as resolvers accept) and, in brackets,
    /// IPv6 addresses with an optional zone.
    private static func isHostByte(_ b: UInt8, bracketed: Bool) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."):
            return true
        case UInt8(ascii: ":"), UInt8(ascii: "%"):
            return bracketed
        case UInt8(ascii: "_"), UInt8(ascii: "~"):
            return !bracketed
        default:
            return false
        }
    }

    public init(scheme: String, host: String, port: Int, pathAndQuery: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.pathAndQuery = pathAndQuery
    }

    /// Parses `text`; the path and query pass through `WireText.requestTarget` (spaces and
    /// non-ASCII encoded; CR, LF, control bytes and bad `%` escapes refused), and the host
    /// must be a name or an address, so nothing in a URL can add to the request on the wire.
    public init(parsing text: String) throws {
        // Control bytes first, anywhere in the URL (the host too), before any message quotes it.
        try WireText.refuseControlBytes(inURL: text)
        let lower = text.lowercased()
        let scheme: String
        let rest: Substring
        if lower.hasPrefix("http://") {
            scheme = "http"
            rest = text.dropFirst(7)
        } else if lower.hasPrefix("https://") {
            scheme = "https"
            rest = text.dropFirst(8)
        } else if lower.contains("://") {
            throw InputError("unsupported URL scheme in \"\(text)\"", hint: "Volley speaks http:// and https://")
        } else {
            throw InputError("\"\(text)\" is not a URL", hint: "write the full URL, e.g. http://127.0.0.1:8080/")
        }
        let pathStart = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[rest.startIndex..<pathStart]
        var path = String(rest[pathStart...])
        if path.isEmpty { path = "/" }
        if path.hasPrefix("?") { path = "/" + path }
        if let hash = path.firstIndex(of: "#") { path = String(path[path.startIndex..<hash]) }
        guard !authority.isEmpty else {
            throw InputError("URL \"\(text)\" has no host", hint: "write e.g. http://127.0.0.1:8080/")
        }
        if authority.contains("@") {
            throw InputError(
                "credentials in the URL \"\(text)\" are not supported",
                hint: "send them as a header: -H 'Authorization: Basic ...'"
            )
        }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw InputError("unclosed IPv6 bracket in \"\(text)\"", hint: "write e.g. http://[::1]:8080/")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[authority.startIndex..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        var port = scheme == "https" ? 443 : 80
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw InputError("invalid port \"\(portText)\" in \"\(text)\"", hint: "ports are 1-65535")
            }
            port = p
        }
        guard !host.isEmpty else {
            throw InputError("URL \"\(text)\" has no host", hint: "write e.g. http://127.0.0.1:8080/")
        }
        let bracketed = authority.hasPrefix("[")
        guard host.utf8.allSatisfy({ Self.isHostByte($0, bracketed: bracketed) }) else {
            throw InputError(
                "invalid host \"\(host)\" in \"\(text)\"",
                hint: bracketed
                    ? "an IPv6 address is hex digits and colons, e.g. http://[::1]:8080/"
                    : "a host is a name or an address (letters, digits, - and .); write other names in punycode"
            )
        }
        if bracketed, let close = authority.firstIndex(of: "]") {
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else {
                throw InputError(
                    "unexpected \"\(after)\" after the IPv6 address in \"\(text)\"",
                    hint: "write e.g. http://[::1]:8080/"
                )
            }
        }
        self.init(
            scheme: scheme,
            host: String(host),
            port: port,
            pathAndQuery: try WireText.requestTarget(path, subject: "the path \"\(path)\" of \"\(text)\"")
        )
    }
}

/// One HTTP request to send repeatedly: what `volley run` flags describe.
public struct RequestSpec: Equatable, Sendable {
    public var method: String
    public var url: TargetURL
    /// Extra headers in the order given; a user `Host` or `User-Agent` replaces the default.
    public var headers: [HTTPHeader]
    /// The request body, sent with a `Content-Length`.
    public var body: [UInt8]?
    /// The correlation header name, or nil to send none.
    public var requestIDHeader: String?
    /// When false, every request carries `Connection: close` and uses a new connection.
    public var keepAlive: Bool

    public init(
        method: String = "GET",
        url: TargetURL,
        headers: [HTTPHeader] = [],
        body: [UInt8]? = nil,
        requestIDHeader: String? = "X-Request-ID",
        keepAlive: Bool = true
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.requestIDHeader = requestIDHeader
        self.keepAlive = keepAlive
    }
}

/// A header name and value as typed.
public struct HTTPHeader: Equatable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// Parses `Name: value` as given to `-H`.
    public init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":") else {
            throw InputError("header \"\(text)\" has no colon", hint: "write -H 'Name: value'")
        }
        let name = String(text[text.startIndex..<colon]).trimmingSpaces()
        let value = String(text[text.index(after: colon)...]).trimmingSpaces()
        guard WireText.isToken(name) else {
            throw InputError(
                "invalid header name in \"\(WireText.escaped(text))\"",
                hint: "header names are letters, digits and !#$%&'*+-.^_`|~ (no spaces)"
            )
        }
        // Checked on bytes: "\r\n" is one Character, so `contains("\r")` missed it.
        try WireText.checkHeaderValue(value, name: name)
        if name.lowercased() == "content-length",
            value.isEmpty || !value.utf8.allSatisfy({ (0x30...0x39).contains($0) })
        {
            throw InputError(
                "Content-Length \"\(value)\" is not a number of bytes",
                hint: "leave it out: Volley sends the body's length itself"
            )
        }
        self.init(name: name, value: value)
    }
}
