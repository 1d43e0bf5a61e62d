import VolleyCore

/// `http:` in `defaults` and on a request step: which HTTP the request speaks.
extension PlanReader {
    static let httpHint =
        "http: 1.1 (the default), 2 (HTTP/2 over TLS by ALPN, https:// URLs) or h2c (HTTP/2 over cleartext with prior knowledge, http:// URLs)"

    /// `1.1`, `2` or `h2c`; the spellings users bring from curl and h2load (`h2`, `http/2`,
    /// `http/1.1`) are read as what they mean rather than refused.
    func readHTTP(_ node: PlanNode) -> HTTPProtocolChoice? {
        guard let resolved = resolvedScalar(node, "\"http\"", expected: "1.1, 2 or h2c") else { return nil }
        switch resolved.text.trimmingSpaces().lowercased() {
        case "1.1", "1", "http/1.1": return .http1
        case "2", "2.0", "h2", "http/2": return .http2
        case "h2c": return .h2c
        default:
            error("invalid http \"\(resolved.text)\"", at: node.location, hint: Self.httpHint)
            return nil
        }
    }

    /// A request whose scheme is known when the plan is read (a literal URL, or a path under
    /// a literal base URL) must fit its HTTP: otherwise every iteration would fail the same
    /// way. Templated URLs are checked per request (`invalid_request`).
    func checkHTTP(_ http: HTTPProtocolChoice, url: Template, fromDefaults: Bool, at location: SourceLocation) {
        guard http.isHTTP2 else { return }
        let known = url.substituting { environment[$0] }
        guard case .literal(let head)? = known.parts.first else { return }
        let lower = head.lowercased()
        let isTLS: Bool
        if lower.hasPrefix("https://") {
            isTLS = true
        } else if lower.hasPrefix("http://") {
            isTLS = false
        } else if head.hasPrefix("/"), let base = baseURLIsTLS {
            isTLS = base
        } else {
            return
        }
        let origin = fromDefaults ? "defaults: http: \(http.rawValue)" : "http: \(http.rawValue)"
        if http == .http2 && !isTLS {
            error(
                "\(origin) is HTTP/2 over TLS, but this request goes to an http:// URL",
                at: location,
                hint: "write http: h2c for HTTP/2 over cleartext, or use an https:// URL"
            )
        } else if http == .h2c && isTLS {
            error(
                "\(origin) is HTTP/2 over cleartext, but this request goes to an https:// URL",
                at: location,
                hint: "write http: 2 for HTTP/2 over TLS (ALPN h2), or use an http:// URL"
            )
        }
    }
}
