import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyReport
import VolleyStore

/// `volley diagnose RUN`: the diagnosis of a saved run (or of a sweep's levels together),
/// computed again from what was saved, so that a run made before a rule existed gets it too.
struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Name the likely bottleneck of a saved run or sweep, with its evidence.",
        discussion: """
            Reads the run's timeline, its probes (--probe) and its health watch (--watch-health), \
            and prints findings: what saturated, the series and times that show it, and the next \
            experiment. A sweep or a matrix (E<id>) is read as one stepped load across its levels or cells. \
            See docs/diagnosis.md for the rules.

            Examples:
              volley diagnose last
              volley diagnose 42 --json
              volley diagnose E3
            """
    )

    @Argument(
        help: ArgumentHelp("The run (an id, last, last~N), or a sweep or matrix (E<id>, E-last).", valueName: "run")
    )
    var reference: String

    @Flag(help: "Print the findings as JSON.")
    var json = false

    func run() throws {
        let store = try HistorySaver.open()
        let findings: [Finding]
        let probed: Bool
        var title: String
        if reference.uppercased().hasPrefix("E") {
            let text = reference.uppercased() == "E-LAST" ? "last" : String(reference.dropFirst())
            let experiment: ExperimentRecord
            do {
                experiment = try store.experiment(text)
            } catch {
                throw CLIError(message: error.message, hint: error.hint, code: .usage)
            }
            // A sweep's levels or a matrix's cells, in the order they ran.
            let runIDs: [Int64?]
            if experiment.kind == "sweep",
                let sweep = try? ExperimentJSON.decode(SweepResult.self, from: experiment.result)
            {
                runIDs = sweep.runs.map(\.runID)
            } else if experiment.kind == "matrix",
                let matrix = try? ExperimentJSON.decode(MatrixResult.self, from: experiment.result)
            {
                runIDs = matrix.cells.map(\.runID)
            } else {
                throw CLIError(
                    message: "experiment E\(experiment.id ?? 0) is a \(experiment.kind), not a sweep or a matrix",
                    hint: "diagnose its runs one by one: volley diagnose RUN",
                    code: .usage
                )
            }
            var summaries: [RunSummary] = []
            for id in runIDs {
                guard let id else {
                    throw CLIError(
                        message: "the \(experiment.kind)'s runs were not saved (--no-save, or made before they were)",
                        hint: "re-run the \(experiment.kind) without --no-save",
                        code: .usage
                    )
                }
                summaries.append(try loadRun(String(id), from: store).record.summary)
            }
            findings = Diagnosis.diagnose(runs: summaries)
            probed = summaries.contains(where: \.readServerSide)
            title =
                "\(experiment.kind == "sweep" ? "Sweep" : "Matrix") E\(experiment.id ?? 0) of \(experiment.target), "
                + "\(summaries.count) runs\n"
        } else {
            let stored = try loadRun(reference, from: store)
            let summary = stored.record.summary
            findings = Diagnosis.diagnose(summary)
            probed = summary.readServerSide
            title =
                "Run #\(stored.record.id ?? 0)" + (stored.record.label.map { " · \($0)" } ?? "")
                + " · \(summary.target)\n"
            if let health = summary.health {
                title += DiagnosisRenderer(style: style).renderHealth(health, runSeconds: summary.durationS)
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(findings)
            Terminal.writeOut(String(decoding: data, as: UTF8.self) + "\n")
            return
        }
        Terminal.writeOut(title + text(findings, probed: probed))
    }

    var style: Style { Style(enabled: Terminal.colorEnabled(fd: STDOUT_FILENO)) }

    func text(_ findings: [Finding], probed: Bool) -> String {
        let body = DiagnosisRenderer(style: style).renderFindings(findings, probed: probed)
        if body.isEmpty {
            return "No finding. The run had no probe: add --probe (the server's metrics, its database, its process) "
                + "and --watch-health so the diagnosis has the server's side to read.\n"
        }
        return body
    }
}
