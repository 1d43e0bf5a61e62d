import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyProbes
import VolleyReport
import VolleyStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a finished run is shown and kept — the summary (human and JSON), probes, diagnosis,
/// the history, the HTML report, JUnit, a baseline comparison, the exit code — for a run made
/// here (`volley run`) and for one merged from segments (`volley merge`) alike.
struct ResultOutput {
    var json: Bool
    var label: String?
    var noSave: Bool
    var html: String?
    var junit: String? = nil
    /// The plan's text for the history, credentials already masked.
    var planSource: String? = nil

    func present(_ outcome: RunCommand.Outcome, humanFD: Int32, baseline base: StoredRun? = nil) throws {
        let summary = outcome.summary
        let human = SummaryRenderer(style: Style(enabled: Terminal.colorEnabled(fd: humanFD))).render(summary)
        if json {
            Terminal.writeError("\n" + human)
            Terminal.writeOut(try JSONReport.encode(summary))
        } else {
            Terminal.writeOut("\n" + human)
        }
        for result in summary.probes ?? [] {
            let text = ProbeSummary.lines(result, loaded: summary.loadedSpan).joined(separator: "\n") + "\n"
            if json { Terminal.writeError(text) } else { Terminal.writeOut(text) }
        }
        let diagnosis = DiagnosisRenderer(style: Style(enabled: Terminal.colorEnabled(fd: humanFD))).render(summary)
        if !diagnosis.isEmpty {
            if json { Terminal.writeError("\n" + diagnosis) } else { Terminal.writeOut("\n" + diagnosis) }
        }
        let exit = RunCommand.exitCode(
            summary,
            stoppedBy: outcome.stoppedBy,
            judgesThresholds: !outcome.judgedBySegment0,
            failure: outcome.failure
        )
        if let failure = outcome.failure { Terminal.writeError("volley: error: the run failed: \(failure)\n") }
        var record = HistorySaver.record(
            summary,
            kind: outcome.kind,
            label: label,
            startedAt: outcome.startedAt,
            exitCode: exit
        )
        record.samplesPath = outcome.samplesPath.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        record.planSource = planSource
        if !noSave, let id = HistorySaver.save(record, histograms: outcome.histograms) { record.id = id }
        let stored = StoredRun(record: record, histograms: outcome.histograms)
        if let html { try HTMLWriter.write(stored, to: html) }
        if let junit {
            let name = summary.plan ?? summary.target
            let text = JUnitExport.render(summary, suiteName: "volley \(name)")
            do {
                try text.write(toFile: junit, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError(
                    message: "cannot write the JUnit report to \(junit): \(error.localizedDescription)",
                    hint: "check that the directory exists and is writable",
                    code: .failure
                )
            }
        }
        if let base {
            let comparison = CompareCommand.comparePair(
                base.record.summary,
                summary,
                histogramsA: base.histograms,
                histogramsB: outcome.histograms
            )
            let text = ComparisonRenderer(style: Style(enabled: Terminal.colorEnabled(fd: humanFD)))
                .render(
                    comparison,
                    a: CompareCommand.name(base.record),
                    b: record.id != nil ? CompareCommand.name(record) : "this run"
                )
            if json { Terminal.writeError("\n" + text) } else { Terminal.writeOut("\n" + text) }
        }
        if exit != .success { throw ExitCode(exit.rawValue) }
    }
}
