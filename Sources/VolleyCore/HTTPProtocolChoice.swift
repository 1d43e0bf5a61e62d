/// Which HTTP a run's connections speak (`volley run --http2`, `--h2c`; a plan's `http:`).
public enum HTTPProtocolChoice: String, Equatable, Sendable, Codable, CaseIterable {
    /// HTTP/1.1, one request at a time per connection (the default).
    case http1 = "1.1"
    /// HTTP/2 over TLS, negotiated with ALPN ("h2"); a server that does not offer it fails
    /// the connection clearly unless HTTP/1.1 fallback was allowed.
    case http2 = "2"
    /// HTTP/2 over cleartext TCP with prior knowledge (RFC 9113 §3.3): the connection
    /// starts with the HTTP/2 preface, no upgrade.
    case h2c

    /// Whether connections multiplex streams.
    public var isHTTP2: Bool { self != .http1 }
}
