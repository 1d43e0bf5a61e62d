import Foundation
import VolleyAnalysis
import VolleyCore

/// The diagnosis and the health watch as terminal text: findings first (what, the evidence,
/// the next experiment), so that the last screen of a run says where the bottleneck is.
public struct DiagnosisRenderer: Sendable {
    public var style: Style

    public init(style: Style) { self.style = style }

    /// Empty when there is nothing to say: no probe, no health watch and no finding.
    public func render(_ summary: RunSummary) -> String {
        var out = ""
        if let health = summary.health { out += renderHealth(health, runSeconds: summary.durationS) }
        let probed = summary.readServerSide
        return out + renderFindings(summary.findings ?? [], probed: probed)
    }

    /// The findings alone (sweeps diagnose their levels together); `probed` says whether a
    /// quiet diagnosis is worth a line.
    public func renderFindings(_ findings: [Finding], probed: Bool) -> String {
        var out = ""
        guard !findings.isEmpty || probed else { return out }
        out += style.bold("Diagnosis") + "\n"
        if findings.isEmpty {
            out += "  " + style.green("✓") + " no bottleneck found: no probed series reached a limit\n"
            return out
        }
        for f in findings {
            let mark: String
            switch f.severity {
            case .critical: mark = style.red("✗")
            case .warning: mark = style.yellow("!")
            case .info: mark = style.cyan("i")
            }
            out += "  \(mark) " + style.bold(f.title) + "\n"
            out += wrap(f.statement, indent: "    ")
            for e in f.evidence { out += wrap(e, indent: "      ", first: "    • ") }
            out += wrap(f.next, indent: "      ", first: "    " + style.cyan("next:") + " ")
        }
        return out
    }

    public func renderHealth(_ h: HealthWatchResult, runSeconds: Double) -> String {
        let failed = h.failures
        var line =
            "Health watch \(h.url) every \(Fmt.seconds(h.periodS)), timeout \(Fmt.seconds(h.timeoutS)), "
            + "failureThreshold \(h.failureThreshold): \(failed) of \(h.polls.count) polls failed"
        if let down = h.transitions.first(where: { !$0.ready }) {
            line +=
                "; " + style.red("unready at \(Fmt.seconds(down.t))")
                + " for \(Fmt.seconds(h.unreadySeconds(until: runSeconds))) — taken out of the load balancer"
        } else {
            line += "; " + style.green("stayed ready")
        }
        return line + "\n"
    }

    private func wrap(_ text: String, indent: String, first: String? = nil, width: Int = 100) -> String {
        var lines: [String] = []
        var current = first ?? indent
        // Whether the line holds a word yet: lengths cannot tell, a first word can make the
        // indented line as long as the first line's prefix.
        var empty = true
        for word in text.split(separator: " ") {
            if current.count + word.count + 1 > width, !empty {
                lines.append(current)
                current = indent
                empty = true
            }
            current += (empty ? "" : " ") + word
            empty = false
        }
        lines.append(current)
        return lines.joined(separator: "\n") + "\n"
    }
}
