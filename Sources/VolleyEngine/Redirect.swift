import Foundation
import VolleyCore

/// The next request of a redirect chain in a URL run (`volley run --follow N`): where it
/// goes, and its bytes, encoded once when the redirect is read.
///
/// A hop is not another request: it carries the id, the intended start and the first
/// write of the request whose chain it continues, so the request's latency runs to its
/// final response.
struct RedirectHop {
    /// The URL the hop asks for (the Location, resolved against the previous URL).
    var url: TargetURL
    /// The hop's method: GET after a 303 (and after a 301/302 that answered a POST).
    var method: String
    /// Hops taken by the request once this one is written (1 for the first).
    var hops: Int
    /// Whether the hop still sends the run's body (a 303 drops it for the rest of the chain).
    var carriesBody: Bool
    /// The hop's bytes (re-encoded: a new target, and maybe a new method or no body).
    var encoder: RequestEncoder
    /// The HTTP the hop speaks (``RedirectFollower/hopProtocol(run:to:)``).
    var http: HTTPProtocolChoice = .http1
    /// HTTP/2: the hop's request as an HPACK block.
    var h2: H2RequestTemplate?
}

/// What a response means for a request's redirect chain: the same rules as plans
/// (``VirtualUser``'s redirects), as curl, browsers and k6 apply them.
enum RedirectDecision: Equatable {
    /// Not a redirect to follow (not 301/302/303/307/308, or no Location): the response is
    /// the request's final one.
    case final
    /// A redirect, but the request has already taken `limit` hops: it ends here, with the
    /// 3xx as its final status (a chain longer than `--follow`, or a loop).
    case limitReached
    /// A redirect whose Location cannot be followed (not http or https, or not a valid
    /// reference): the request ends with the 3xx; `reason` says why.
    case unusable(reason: String)
    /// Follow: send `method` (with the body only when it is kept) to `url`.
    case follow(url: TargetURL, method: String, keepsBody: Bool)

    /// The statuses that redirect (RFC 9110 §15.4); 300 and 304 do not name one target.
    static let statuses: Set<Int> = [301, 302, 303, 307, 308]

    /// Decides what a response with `status` and `location` does to a request sent with
    /// `method` to `url` that has taken `hops` hops, with at most `limit` allowed.
    static func decide(
        status: Int,
        location: String?,
        from url: TargetURL,
        method: String,
        hops: Int,
        limit: Int
    ) -> RedirectDecision {
        guard statuses.contains(status), let location, !location.isEmpty else { return .final }
        guard hops < limit else { return .limitReached }
        let next: TargetURL
        do {
            next = try url.resolving(location)
        } catch let error as InputError {
            return .unusable(reason: error.message)
        } catch {
            return .unusable(reason: "\(error)")
        }
        let upper = method.uppercased()
        // 303 always becomes GET (HEAD stays HEAD); 301/302 after a POST too, as browsers
        // do. 307 and 308 keep the method and the body.
        if (status == 303 && upper != "HEAD") || ((status == 301 || status == 302) && upper == "POST") {
            return .follow(url: next, method: "GET", keepsBody: false)
        }
        return .follow(url: next, method: upper, keepsBody: true)
    }
}

/// A URL run's redirect rules and what a hop sends: the run's request, re-aimed.
struct RedirectFollower {
    /// Hops a request may take (`--follow N`); 0: redirects are final responses.
    let limit: Int
    /// The run's request: a hop keeps its headers and request-id header.
    let spec: RequestSpec
    /// The run's id prefix, so a hop carries the id of the request it continues.
    let runPrefix: UInt32
    /// The run's HTTP (`--http2`, `--h2c`).
    var http: HTTPProtocolChoice = .http1

    /// The HTTP of a hop to `url` in a run speaking `run`: HTTP/2 where the scheme allows
    /// it — by ALPN to https (both `--http2` and `--h2c`), by prior knowledge to http in an
    /// h2c run — and HTTP/1.1 from `--http2` to an http:// Location, as browsers do (they
    /// speak HTTP/2 only over TLS). Plans follow the same rule.
    static func hopProtocol(run: HTTPProtocolChoice, to url: TargetURL) -> HTTPProtocolChoice {
        guard run.isHTTP2 else { return .http1 }
        if url.isTLS { return .http2 }
        return run == .h2c ? .h2c : .http1
    }

    /// Headers that belong to the original authority: not sent to another one (curl drops
    /// `Authorization` and `Cookie` there too), and `Host` is the new target's.
    static let authorityHeaders: Set<String> = ["host", "authorization", "cookie", "proxy-authorization"]
    /// Headers that describe a body: not sent once the body is dropped.
    static let bodyHeaders: Set<String> = ["content-length", "content-type", "content-encoding", "transfer-encoding"]

    /// What the response on a request sent as `current` (nil: the run's request itself)
    /// does: its decision, and the hop to write when it is `.follow`.
    func next(status: Int, location: String?, after current: RedirectHop?) -> (RedirectDecision, RedirectHop?) {
        let decision = RedirectDecision.decide(
            status: status,
            location: location,
            from: current?.url ?? spec.url,
            method: current?.method ?? spec.method,
            hops: current?.hops ?? 0,
            limit: limit
        )
        guard case .follow(let url, let method, let keepsBody) = decision else { return (decision, nil) }
        let carriesBody = keepsBody && (current?.carriesBody ?? true) && spec.body != nil
        let foreign = url.authorityKey != spec.url.authorityKey
        var hopSpec = spec
        hopSpec.url = url
        hopSpec.method = method
        hopSpec.body = carriesBody ? spec.body : nil
        hopSpec.headers = spec.headers.filter { h in
            let name = h.name.lowercased()
            return !(foreign && Self.authorityHeaders.contains(name))
                && (carriesBody || !Self.bodyHeaders.contains(name))
        }
        let hopHTTP = Self.hopProtocol(run: http, to: url)
        let hop = RedirectHop(
            url: url,
            method: method,
            hops: (current?.hops ?? 0) + 1,
            carriesBody: carriesBody,
            encoder: RequestEncoder(spec: hopSpec, runPrefix: runPrefix),
            http: hopHTTP,
            h2: hopHTTP.isHTTP2 ? H2RequestTemplate(spec: hopSpec, runPrefix: runPrefix) : nil
        )
        return (decision, hop)
    }
}

extension TargetURL {
    /// Scheme, host and port: what a connection is to. A hop to another authority needs
    /// another connection.
    var authorityKey: Authority {
        Authority(host: host.lowercased(), port: port, isTLS: isTLS)
    }

    /// `reference` (a Location) resolved against this URL, RFC 3986 §5.2 basics: an absolute
    /// `http(s)://` URL, a scheme-relative `//host/path`, an absolute path, a query alone,
    /// or a relative path (merged with this path's directory; `.` and `..` removed). The
    /// fragment is dropped: it is never sent.
    func resolving(_ reference: String) throws -> TargetURL {
        var ref = Substring(reference.trimmingCharacters(in: .whitespaces))
        if let hash = ref.firstIndex(of: "#") { ref = ref[ref.startIndex..<hash] }
        let lower = ref.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            return try TargetURL(parsing: String(ref))
        }
        if ref.hasPrefix("//") {
            return try TargetURL(parsing: scheme + ":" + ref)
        }
        // Any other scheme (`ftp:`, `mailto:`): a colon before the first `/`, `?`.
        let head = ref.prefix { $0 != "/" && $0 != "?" }
        if let colon = head.firstIndex(of: ":"), head[head.startIndex..<colon].allSatisfy(\.isLetter) {
            throw InputError("unsupported scheme in the redirect to \"\(reference)\"", hint: nil)
        }
        let (basePath, _) = Self.split(pathAndQuery)
        let (refPath, refQuery) = Self.split(ref)
        var path: String
        if refPath.isEmpty {
            // `?q` (or empty): this path, the reference's query.
            path = basePath
        } else if refPath.hasPrefix("/") {
            path = Self.removingDotSegments(refPath)
        } else {
            let directory = basePath[
                ..<(basePath.lastIndex(of: "/").map { basePath.index(after: $0) } ?? basePath.startIndex)
            ]
            path = Self.removingDotSegments(directory + refPath)
        }
        if path.isEmpty { path = "/" }
        let target = path + (refQuery.map { "?" + $0 } ?? "")
        var next = self
        next.pathAndQuery = try WireText.requestTarget(target, subject: "the redirect to \"\(reference)\"")
        return next
    }

    private static func split(_ text: some StringProtocol) -> (path: String, query: String?) {
        guard let q = text.firstIndex(of: "?") else { return (String(text), nil) }
        return (String(text[text.startIndex..<q]), String(text[text.index(after: q)...]))
    }

    /// RFC 3986 §5.2.4 on an absolute path: `.` segments dropped, `..` removes the one before.
    static func removingDotSegments(_ path: String) -> String {
        var out: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (i, s) in segments.enumerated() {
            let last = i == segments.count - 1
            switch s {
            case ".":
                if last { out.append("") }
            case "..":
                if !out.isEmpty { out.removeLast() }
                if last { out.append("") }
            default:
                out.append(s)
            }
        }
        return "/" + out.joined(separator: "/")
    }
}

extension RequestEncoder {
    /// The run's id prefix as the number the encoder was made with, so a hop's encoder
    /// writes the same ids.
    var runPrefixValue: UInt32 {
        UInt32(String(decoding: runPrefix, as: UTF8.self), radix: 16) ?? 0
    }
}
