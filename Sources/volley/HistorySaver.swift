import Foundation
import VolleyCore
import VolleyStore

/// Saves finished runs to the history. A failure to save never loses a result: the summary
/// has been printed already, and the error says so.
enum HistorySaver {
    static func open() throws -> HistoryStore {
        do {
            return try HistoryStore(directory: HistoryStore.defaultDirectory())
        } catch {
            throw CLIError(message: error.message, hint: error.hint, code: .failure)
        }
    }

    /// The history's record of a run made by this process.
    static func record(
        _ summary: RunSummary,
        kind: String,
        label: String?,
        startedAt: Date,
        exitCode: VolleyExit
    ) -> RunRecord {
        RunRecord(
            startedAt: startedAt,
            label: label,
            kind: kind,
            target: summary.target,
            plan: summary.plan,
            command: Redaction.commandLine(Array(CommandLine.arguments.dropFirst())),
            environment: .current(),
            summary: summary,
            exitCode: exitCode.rawValue
        )
    }

    /// Saves a run made by an experiment (sweep, ab, find-max, time) without the "saved as"
    /// line: the experiment prints its own table.
    static func saveQuietly(_ outcome: RunCommand.Outcome, kind: String, label: String?) -> Int64? {
        let exit = RunCommand.exitCode(outcome.summary, stoppedBy: outcome.stoppedBy)
        let made = record(outcome.summary, kind: kind, label: label, startedAt: outcome.startedAt, exitCode: exit)
        return saveQuietly(made, histograms: outcome.histograms)
    }

    /// Saves without the "saved as" line (callers print the id themselves).
    static func saveQuietly(_ record: RunRecord, histograms: RunHistograms?) -> Int64? {
        do {
            return try HistoryStore(directory: HistoryStore.defaultDirectory()).save(record, histograms: histograms)
        } catch {
            Terminal.writeError("volley: warning: \(error.message)\n")
            return nil
        }
    }

    /// Saves and prints "saved as run #N" on stderr; returns the id, or nil when saving failed.
    @discardableResult
    static func save(_ record: RunRecord, histograms: RunHistograms?) -> Int64? {
        do {
            let store = try HistoryStore(directory: HistoryStore.defaultDirectory())
            let id = try store.save(record, histograms: histograms)
            Terminal.writeError(
                "volley: saved as run #\(id) (volley show \(id); volley report \(id) --html report.html)\n"
            )
            return id
        } catch {
            Terminal.writeError(
                "volley: warning: \(error.message)\n" + (error.hint.map { "hint: \($0)\n" } ?? "")
            )
            return nil
        }
    }
}
