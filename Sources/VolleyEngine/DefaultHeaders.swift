import VolleyCore

/// The headers Volley adds to a request that does not set them itself: one policy for both
/// engines, so `volley run` and plans cannot drift apart.
///
/// `volley run` measures a server the way wrk does: no `Accept-Encoding`, so the bytes
/// counted are the ones the server sends uncompressed, unless `-H` asks for more. Plans act
/// as a browser (and k6) does and ask for compressed bodies, which checks and captures read
/// decoded (``ContentDecoder``); `defaults: { compression: false }` turns that off.
public struct DefaultHeaders: Sendable {
    /// Name and value of each default header, in the order they are written.
    public let headers: [(name: String, value: String)]

    /// What plans ask for by default: every encoding ``ContentDecoder`` undoes.
    public static let planAcceptEncoding = "gzip, deflate, br"

    /// `volley run URL`: `User-Agent` and `Accept` only.
    public static let run = DefaultHeaders(acceptEncoding: nil)

    /// Plans: `User-Agent`, `Accept`, and `Accept-Encoding` unless `compression` is off.
    public static func plan(compression: Bool) -> DefaultHeaders {
        DefaultHeaders(acceptEncoding: compression ? planAcceptEncoding : nil)
    }

    private init(acceptEncoding: String?) {
        var headers = [
            (name: "User-Agent", value: "volley/\(VolleyVersion.current)"),
            (name: "Accept", value: "*/*"),
        ]
        if let acceptEncoding { headers.append((name: "Accept-Encoding", value: acceptEncoding)) }
        self.headers = headers
    }

    /// The defaults a request still needs, given whether it sets a header (asked with the
    /// lower-cased name): the request's own header always wins.
    public func missing(from sets: (String) -> Bool) -> [(name: String, value: String)] {
        headers.filter { !sets($0.name.lowercased()) }
    }

    /// The defaults a request still needs, as the header lines written on the wire.
    public func wireLines(missingFrom sets: (String) -> Bool) -> [UInt8] {
        var out: [UInt8] = []
        for h in missing(from: sets) { out += Array("\(h.name): \(h.value)\r\n".utf8) }
        return out
    }
}
