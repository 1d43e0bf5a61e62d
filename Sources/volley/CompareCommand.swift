import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyReport
import VolleyStore

/// `volley compare A B [C…]`: each run against the first — what one pair of runs can and
/// cannot tell, with a verdict only when an A/A experiment measured the drift between runs.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare saved runs: each change with its interval; a verdict when the drift between runs is known.",
        discussion: """
            Runs after the first are each compared with the first. One run each cannot separate a change \
            from the machine's drift between runs: the verdict is "cannot tell" unless an A/A experiment \
            (volley ab --a X --b X, 3+ rounds) of the baseline's target and load is in the history; its \
            between-run spread is then the noise floor. The within-run intervals (bootstrap over seconds, \
            HDR histograms) describe each run's own spread (docs/history.md). Differing load shapes are \
            warned about. --fail-on-regression 5% exits 98 when a metric is called worse by more than 5%.
            """
    )

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, markdown, json
    }

    @Argument(
        help: ArgumentHelp("Two or more runs: ids, last, or last~N; the first is the baseline.", valueName: "run")
    )
    var references: [String]

    @Option(help: "Exit 98 when a metric is called worse by more than this, e.g. 5% (never from \"cannot tell\").")
    var failOnRegression: String?

    @Option(help: "Smallest change called better or worse, e.g. 2%.")
    var minEffect: String = "2%"

    @Option(help: "text, markdown (for a pull-request comment) or json.")
    var format: OutputFormat = .text

    func run() throws {
        guard references.count >= 2 else {
            throw CLIError(
                message: "compare needs at least two runs, got \(references.count)",
                hint: "for example: volley compare last~1 last",
                code: .usage
            )
        }
        let limit = try failOnRegression.map { try Self.percent($0, flag: "fail-on-regression") }
        let effect = try Self.percent(minEffect, flag: "min-effect")
        let store = try HistorySaver.open()
        let runs = try references.map { try loadRun($0, from: store) }
        var regressed = false
        var jsonOut: [ComparisonOutput] = []
        for other in runs.dropFirst() {
            var comparison = Self.comparePair(
                runs[0].record.summary,
                other.record.summary,
                histogramsA: runs[0].histograms,
                histogramsB: other.histograms,
                minimumEffect: effect,
                store: store
            )
            comparison.warnings = RunComparator.loadShapeWarnings(
                runs[0].record.summary,
                other.record.summary,
                planSourceA: runs[0].record.planSource,
                planSourceB: other.record.planSource
            )
            let (a, b) = (Self.name(runs[0].record), Self.name(other.record))
            switch format {
            case .text:
                let style = Style(enabled: Terminal.colorEnabled(fd: STDOUT_FILENO))
                Terminal.writeOut(ComparisonRenderer(style: style).render(comparison, a: a, b: b) + "\n")
            case .markdown:
                Terminal.writeOut(
                    ComparisonRenderer(style: Style(enabled: false), format: .markdown).render(comparison, a: a, b: b)
                        + "\n"
                )
            case .json:
                jsonOut.append(ComparisonOutput(a: a, b: b, comparison: comparison))
            }
            if let limit, !comparison.regressions(beyond: limit).isEmpty {
                regressed = true
                for m in comparison.regressions(beyond: limit) {
                    Terminal.writeError(
                        "volley: regression: \(m.metric) \(a) → \(b) beyond \(Fmt.fixed(limit * 100, 1))%\n"
                    )
                }
            }
        }
        if format == .json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.nonConformingFloatEncodingStrategy = .convertToString(
                positiveInfinity: "inf",
                negativeInfinity: "-inf",
                nan: "nan"
            )
            Terminal.writeOut(String(decoding: try encoder.encode(jsonOut), as: UTF8.self) + "\n")
        }
        if regressed { throw ExitCode(VolleyExit.regression.rawValue) }
    }

    struct ComparisonOutput: Encodable {
        var a: String
        var b: String
        var comparison: RunComparison
    }

    /// Two single runs: the within-run comparison, judged against the newest A/A `ab` of the
    /// baseline's target and load (or "cannot tell" without one) — one pair cannot separate a
    /// change from the machine's drift between runs.
    static func comparePair(
        _ a: RunSummary,
        _ b: RunSummary,
        histogramsA: RunHistograms?,
        histogramsB: RunHistograms?,
        minimumEffect: Double = 0.02,
        store: HistoryStore? = nil
    ) -> RunComparison {
        let within = RunComparator.compare(
            a,
            b,
            histogramsA: histogramsA,
            histogramsB: histogramsB,
            minimumEffect: minimumEffect
        )
        let store = store ?? (try? HistoryStore(directory: HistoryStore.defaultDirectory()))
        return RunComparator.singlePair(within, calibration: store.flatMap { AbReport.calibration(for: a, in: $0) })
    }

    static func name(_ record: RunRecord) -> String {
        "#\(record.id ?? 0)" + (record.label.map { " (\($0))" } ?? "")
    }

    /// "5%", "5" or "0.05" → 0.05.
    static func percent(_ text: String, flag: String) throws -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let isPercent = trimmed.hasSuffix("%")
        guard let value = Double(isPercent ? String(trimmed.dropLast()) : trimmed), value >= 0 else {
            throw CLIError(message: "--\(flag): '\(text)' is not a percentage", hint: "for example 5%", code: .usage)
        }
        return isPercent || value > 1 ? value / 100 : value
    }
}
