import VolleyCore

extension SummaryRenderer {
    /// HTTP/2 runs: connections by the protocol they spoke, and a warning when any fell back
    /// to HTTP/1.1 (`--http1-fallback`), since their requests measured the other protocol.
    func protocolLines(_ s: RunSummary) -> [String] {
        guard let p = s.protocols else { return [] }
        let h2 = p[RunSummary.h2Key] ?? 0
        let h1 = p[RunSummary.http1Key] ?? 0
        var lines = [
            "  Protocols    " + Fmt.int(h2) + " HTTP/2 · " + Fmt.int(h1) + " fell back to HTTP/1.1"
                + style.dim("  ·  connections")
        ]
        if h1 > 0 {
            let total = h1 + h2
            lines.append(
                style.yellow(
                    "  ! " + Fmt.int(h1) + " of " + Fmt.int(total) + " connection" + (total == 1 ? "" : "s")
                        + " spoke HTTP/1.1: the server did not agree to h2 in ALPN"
                ) + style.dim(" (their requests were HTTP/1.1, one at a time per connection)")
            )
        }
        return lines
    }
}
