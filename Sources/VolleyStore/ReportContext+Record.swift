import Foundation
import VolleyCore
import VolleyReport

extension ReportContext {
    /// The header of a saved run's report: id, label, when, machine, command, commit.
    public init(_ record: RunRecord) {
        let e = record.environment
        self.init(
            runID: record.id,
            label: record.label,
            startedAt: ISO8601DateFormatter().string(from: record.startedAt),
            machine: "\(e.host), \(e.cores) cores, Volley \(e.volleyVersion)",
            // Redacted when shown as well, for runs saved before the history redacted them.
            command: "volley " + Redaction.commandLine(record.command).joined(separator: " "),
            gitCommit: e.gitCommit
        )
    }
}
