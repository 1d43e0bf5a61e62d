extension RunSummary {
    /// The key of HTTP/2 connections in ``protocols``: ALPN's name for HTTP/2, also used for
    /// h2c (prior knowledge), so a summary reads the same whichever way HTTP/2 was reached.
    public static let h2Key = "h2"
    /// The key of connections that fell back to HTTP/1.1 in ``protocols`` (ALPN's name).
    public static let http1Key = "http/1.1"

    /// ``protocols`` from a recorder's counts: nil when it opened no HTTP/2 connection and
    /// none fell back (an HTTP/1.1 run), both keys otherwise, so a zero says "none fell back".
    public static func protocols(_ r: Recorder) -> [String: Int]? {
        guard r.h2Connections + r.http1FallbackConnections > 0 else { return nil }
        return [h2Key: r.h2Connections, http1Key: r.http1FallbackConnections]
    }
}
