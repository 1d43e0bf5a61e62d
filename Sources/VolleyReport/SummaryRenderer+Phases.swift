import VolleyCore

/// The phases block of the terminal summary: where the requests' time went (connect,
/// handshake, first byte, body) and how often a connection was reused, so that a slow run
/// says whether it was slow to connect or slow to answer.
extension SummaryRenderer {
    /// The label each phase has in the table; `wait` also says the name most people know.
    static func label(_ phase: Phase) -> String {
        switch phase {
        case .dns: "dns"
        case .connect: "connect"
        case .tls: "tls"
        case .send: "send"
        case .wait: "wait (ttfb)"
        case .receive: "receive"
        }
    }

    /// One line per recorded phase (p50/p95/p99/max in ms and the count), then the reuse
    /// rate; nothing when no phase was recorded (runs saved before phases existed).
    func phaseLines(_ phases: PhaseSummary?) -> [String] {
        guard let phases else { return [] }
        var out: [String] = [""]
        out.append(
            "  " + Fmt.pad("Phases (ms)", 15, right: false)
                + ["p50", "p95", "p99", "max", "count"].map { Fmt.pad($0, 9) }.joined()
        )
        for phase in Phase.allCases {
            guard let p = phases[phase] else { continue }
            let values = [p.p50Ms, p.p95Ms, p.p99Ms, p.maxMs].map { Fmt.pad(Fmt.ms($0), 9) }.joined()
            out.append("    " + Fmt.pad(Self.label(phase), 13, right: false) + values + Fmt.pad(Fmt.int(p.count), 9))
        }
        out.append("  " + Self.reuseText(phases))
        out.append(
            style.dim("  a new connection's dns, connect and tls count against the request that opened it")
        )
        return out
    }

    /// "connections reused: 99.90% (12 new for 120,000 requests)".
    static func reuseText(_ phases: PhaseSummary) -> String {
        let new = phases.newConnections
        return "connections reused: " + Fmt.percent(phases.reuseRate) + " (" + Fmt.int(new) + " new for "
            + Fmt.int(phases.requests) + " request" + (phases.requests == 1 ? "" : "s") + ")"
    }

    /// Plans: each request name's p95 per phase and its reuse rate, so a slow step says
    /// whether it was slow to connect or to answer. Only phases some name recorded get a
    /// column; nothing when no name has phases.
    func namedPhaseLines(_ named: [NamedRequestStats], width: Int) -> [String] {
        let withPhases = named.filter { $0.phases != nil }
        guard !withPhases.isEmpty else { return [] }
        let columns = Phase.allCases.filter { phase in withPhases.contains { $0.phases?[phase] != nil } }
        var out = [
            "",
            "  " + Fmt.pad("phases p95 (ms)", width, right: false)
                + columns.map { Fmt.pad($0 == .wait ? "ttfb" : $0.rawValue, 9) }.joined() + Fmt.pad("reused", 9),
        ]
        for n in withPhases {
            guard let phases = n.phases else { continue }
            let name = n.name.count > width ? String(n.name.prefix(width - 1)) + "…" : n.name
            let cells = columns.map { Fmt.pad(phases[$0].map { Fmt.ms($0.p95Ms) } ?? "–", 9) }.joined()
            out.append("  " + Fmt.pad(name, width, right: false) + cells + Fmt.pad(Fmt.percent(phases.reuseRate), 9))
        }
        return out
    }
}
