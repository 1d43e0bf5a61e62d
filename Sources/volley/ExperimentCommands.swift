import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyReport
import VolleyStore

/// Saves experiments (sweeps, matrices) to the history as one entry each.
enum ExperimentSaver {
    static func save(
        kind: String,
        label: String?,
        target: String,
        result: String,
        startedAt: Date,
        write: (String) -> Void
    ) {
        do {
            let store = try HistoryStore(directory: HistoryStore.defaultDirectory())
            let id = try store.saveExperiment(
                ExperimentRecord(
                    startedAt: startedAt,
                    kind: kind,
                    label: label,
                    target: target,
                    command: Redaction.commandLine(Array(CommandLine.arguments.dropFirst())),
                    result: result
                )
            )
            write("\nSaved as experiment E\(id) (volley experiment E\(id) --html report.html).\n")
        } catch {
            Terminal.writeError("volley: warning: \(error.message)\n")
        }
    }
}

/// `volley experiments`: the saved sweeps and matrices.
struct ExperimentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiments",
        abstract: "List saved experiments (sweeps, matrices)."
    )

    @Option(help: "At most this many (the newest).")
    var limit: Int = 50

    func run() throws {
        let store = try HistorySaver.open()
        let list: [ExperimentRecord]
        do {
            list = try store.experiments(limit: limit)
        } catch {
            throw CLIError(message: error.message, hint: error.hint, code: .failure)
        }
        if list.isEmpty {
            Terminal.writeOut("No saved experiments in \(store.path).\n")
            return
        }
        let formatter = ISO8601DateFormatter()
        var out = "     id  kind      started                label                 target\n"
        for e in list {
            out +=
                Fmt.pad("E\(e.id ?? 0)", 7) + "  " + Fmt.pad(e.kind, 8, right: false) + "  "
                + formatter.string(from: e.startedAt) + "  "
                + Fmt.pad(String((e.label ?? "—").prefix(20)), 20, right: false)
                + "  " + e.target + "\n"
        }
        Terminal.writeOut(out)
    }
}

/// `volley experiment E3 [--json] [--html report.html]`.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Show a saved experiment as JSON, or write its HTML report."
    )

    @Argument(help: ArgumentHelp("The experiment: E3, 3 or last.", valueName: "experiment"))
    var reference: String

    @Option(
        help: "Write the HTML report (sweep: throughput and latency against load, knee marked; matrix: heat tables)."
    )
    var html: String?

    func run() throws {
        let store = try HistorySaver.open()
        let e: ExperimentRecord
        do {
            e = try store.experiment(reference)
        } catch {
            throw CLIError(message: error.message, hint: error.hint, code: .usage)
        }
        guard let html else {
            Terminal.writeOut(e.result + "\n")
            return
        }
        let context = ReportContext(
            runID: nil,
            label: e.label,
            startedAt: ISO8601DateFormatter().string(from: e.startedAt),
            machine: nil,
            command: "volley " + Redaction.commandLine(e.command).joined(separator: " ")
        )
        let page: String
        do {
            switch e.kind {
            case "sweep":
                var sweep = try ExperimentJSON.decode(SweepResult.self, from: e.result)
                let runs = Self.savedRuns(
                    sweep.runs.map { ($0.runID, Self.levelLabel($0, closed: sweep.closedModel)) },
                    store
                )
                var note: String?
                if sweep.findings == nil, !runs.isEmpty {
                    // A sweep saved before its findings were: diagnosed again from its runs.
                    sweep.findings = Diagnosis.diagnose(runs: runs.map(\.summary))
                    note =
                        "Diagnosed again from the saved runs of the levels (the sweep was saved without its findings)."
                }
                page = ExperimentReport.sweep(sweep, id: e.id, context: context, runs: runs, findingsNote: note)
            case "matrix":
                let matrix = try ExperimentJSON.decode(MatrixResult.self, from: e.result)
                page = ExperimentReport.matrix(
                    matrix,
                    id: e.id,
                    target: e.target,
                    context: context,
                    runs: Self.savedRuns(matrix.cells.map { ($0.runID, "n\($0.count) \($0.offset)") }, store)
                )
            case "time":
                page = ExperimentReport.timing(
                    try ExperimentJSON.decode(TimingResult.self, from: e.result),
                    id: e.id,
                    context: context
                )
            case "find-max":
                page = ExperimentReport.findMax(
                    try ExperimentJSON.decode(MaxRateResult.self, from: e.result),
                    id: e.id,
                    context: context
                )
            default:
                throw CLIError(message: "no HTML report for a \(e.kind) experiment", hint: nil, code: .usage)
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError(message: "experiment E\(e.id ?? 0) cannot be read: \(error)", hint: nil, code: .failure)
        }
        do {
            try page.write(toFile: html, atomically: true, encoding: .utf8)
        } catch {
            throw CLIError(message: "cannot write \(html): \(error.localizedDescription)", hint: nil, code: .failure)
        }
        Terminal.writeError("volley: wrote the HTML report to \(html)\n")
    }

    /// The saved runs of an experiment's levels or cells, labelled, in the order they ran.
    /// Runs never saved (--no-save) or deleted since are left out: the report draws the rest.
    static func savedRuns(_ ids: [(Int64?, String)], _ store: HistoryStore) -> [(label: String, summary: RunSummary)] {
        ids.compactMap { id, label in
            guard let id, let stored = try? store.load(id) else { return nil }
            return (label, stored.record.summary)
        }
    }

    /// "c8" (connections) or "r200" (rate), with the repeat when there are several.
    static func levelLabel(_ run: SweepRun, closed: Bool) -> String {
        (closed ? "c" : "r") + SweepAnalysis.format(run.level) + (run.repeatIndex > 0 ? " r\(run.repeatIndex + 1)" : "")
    }
}
