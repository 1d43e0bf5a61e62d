import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyProbes
import VolleyReport
import VolleyStore

/// Resolves a RUN argument against the history, with the error the user should see.
func loadRun(_ reference: String, from store: HistoryStore) throws -> StoredRun {
    do {
        return try store.load(try store.resolve(reference))
    } catch {
        throw CLIError(message: error.message, hint: error.hint, code: .usage)
    }
}

/// `volley history`: the saved runs, newest last.
struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List saved runs ($VOLLEY_HOME or ~/.volley).",
        discussion: """
            Every `volley run` is saved unless --no-save. Refer to a run by its id, `last`, or \
            `last~N` (N runs before the last) in show, export, report, compare and delete.
            """
    )

    @Option(help: "Only runs whose label contains this text.")
    var label: String?

    @Option(help: "Only runs whose target URL or plan name contains this text.")
    var target: String?

    @Option(help: "Only runs started on or after this date (YYYY-MM-DD, UTC).")
    var since: String?

    @Option(help: "Only runs started before this date (YYYY-MM-DD, UTC).")
    var until: String?

    @Option(help: "At most this many runs (the newest).")
    var limit: Int = 50

    @Flag(help: "Print the list as JSON.")
    var json = false

    func run() throws {
        let store = try HistorySaver.open()
        let filter = HistoryFilter(
            label: label,
            target: target,
            since: try Self.date(since, flag: "since"),
            until: try Self.date(until, flag: "until"),
            limit: limit
        )
        let runs: [RunListing]
        do {
            runs = try store.list(filter)
        } catch {
            throw CLIError(message: error.message, hint: error.hint, code: .failure)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            Terminal.writeOut(String(decoding: try encoder.encode(runs), as: UTF8.self) + "\n")
            return
        }
        if runs.isEmpty {
            Terminal.writeOut(
                "No saved runs\(filter.label != nil || filter.target != nil ? " match" : "") in \(store.path).\n"
            )
            return
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        var out =
            "     id  started (UTC)        label             requests      rps    p50 ms    p99 ms  errors  target\n"
        for r in runs {
            out +=
                Fmt.pad("#\(r.id)", 7) + "  " + formatter.string(from: r.startedAt) + "  "
                + Fmt.pad(String((r.label ?? "—").prefix(22)), 22, right: false)
                + Fmt.pad(Fmt.int(r.requests), 10) + Fmt.pad(Fmt.fixed(r.rps, 1), 9)
                + Fmt.pad(Fmt.ms(r.p50Ms), 10) + Fmt.pad(Fmt.ms(r.p99Ms), 10)
                + Fmt.pad(Fmt.fixed(r.errorRate * 100, 1) + "%", 8) + "  " + (r.plan.map { "plan \($0)" } ?? r.target)
                + (r.exitCode == 0 ? "" : "  (exit \(r.exitCode))") + "\n"
        }
        Terminal.writeOut(out)
    }

    static func date(_ text: String?, flag: String) throws -> Date? {
        guard let text else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        throw CLIError(
            message: "--\(flag): '\(text)' is not a date",
            hint: "use YYYY-MM-DD, e.g. 2026-11-24",
            code: .usage
        )
    }
}

/// `volley show RUN`: the summary of a saved run, as it was printed.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a saved run's summary again."
    )

    @Argument(help: ArgumentHelp("The run: an id, last, or last~N.", valueName: "run"))
    var reference: String

    @Flag(help: "Print the JSON summary instead.")
    var json = false

    @Flag(help: "Print the plan file as it was when the run was made (plan runs).")
    var plan = false

    func run() throws {
        let store = try HistorySaver.open()
        let stored = try loadRun(reference, from: store)
        let record = stored.record
        if plan {
            guard let source = record.planSource else {
                throw CLIError(
                    message: "run #\(record.id ?? 0) was not a plan run, or its plan was not kept",
                    hint: nil,
                    code: .usage
                )
            }
            Terminal.writeOut(source.hasSuffix("\n") ? source : source + "\n")
            return
        }
        if json {
            Terminal.writeOut(try JSONReport.encode(record.summary))
            return
        }
        let formatter = ISO8601DateFormatter()
        var header = "Run #\(record.id ?? 0)"
        if let label = record.label { header += "  ·  \(label)" }
        header += "  ·  \(formatter.string(from: record.startedAt))  ·  \(record.environment.host), "
        header += "\(record.environment.cores) cores, Volley \(record.environment.volleyVersion)"
        if let commit = record.environment.gitCommit { header += ", git \(commit.prefix(12))" }
        header += "\n  volley " + Redaction.commandLine(record.command).joined(separator: " ") + "\n"
        let style = Style(enabled: Terminal.colorEnabled(fd: STDOUT_FILENO))
        Terminal.writeOut(
            header + "\n" + SummaryRenderer(style: style).render(record.summary)
                + Self.serverSide(record.summary, style: style)
        )
    }

    /// What `volley run` printed after its summary: each probe's lines, then the health watch
    /// and the findings. The findings saved with the run are printed as they were; a run saved
    /// without them (before the diagnosis existed) is diagnosed again, and the text says so.
    static func serverSide(_ saved: RunSummary, style: Style) -> String {
        var summary = saved
        var out = ""
        for result in summary.probes ?? [] {
            out += ProbeSummary.lines(result, loaded: summary.loadedSpan).joined(separator: "\n") + "\n"
        }
        var recomputed = false
        if summary.findings == nil {
            summary.findings = Diagnosis.diagnose(summary)
            recomputed = !(summary.findings ?? []).isEmpty || summary.readServerSide
        }
        let diagnosis = DiagnosisRenderer(style: style).render(summary)
        if !diagnosis.isEmpty {
            out += "\n" + diagnosis
            if recomputed {
                out +=
                    style.dim("  (diagnosed again from the saved summary: the run was saved without its findings)")
                    + "\n"
            }
        }
        return out
    }
}

/// `volley delete RUN…`.
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete saved runs."
    )

    @Argument(help: "The runs: ids, last, or last~N.")
    var runs: [String]

    func run() throws {
        let store = try HistorySaver.open()
        var ids: [Int64] = []
        for reference in runs {
            do {
                ids.append(try store.resolve(reference))
            } catch {
                throw CLIError(message: error.message, hint: error.hint, code: .usage)
            }
        }
        for id in ids {
            do {
                try store.delete(id)
            } catch {
                throw CLIError(message: error.message, hint: error.hint, code: .failure)
            }
            Terminal.writeOut("deleted run #\(id)\n")
        }
    }
}

/// `volley export RUN --format json|csv|junit`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a saved run as JSON, CSV or JUnit XML.",
        discussion: """
            json: the summary (as `volley run --json`). csv: the per-second timeline, or with \
            --table requests one row per request name. junit: thresholds and checks as test cases, \
            for CI systems.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, csv, junit
    }

    enum Table: String, ExpressibleByArgument, CaseIterable {
        case timeline, requests
    }

    @Argument(help: ArgumentHelp("The run: an id, last, or last~N.", valueName: "run"))
    var reference: String

    @Option(help: "json, csv or junit.")
    var format: Format = .json

    @Option(help: "For csv: timeline (one row per second) or requests (one row per request name).")
    var table: Table = .timeline

    @Option(name: .shortAndLong, help: "Write to this file instead of stdout.")
    var output: String?

    func run() throws {
        let store = try HistorySaver.open()
        let stored = try loadRun(reference, from: store)
        let summary = stored.record.summary
        let text: String
        switch format {
        case .json: text = try JSONReport.encode(summary)
        case .csv: text = table == .timeline ? CSVExport.timeline(summary) : CSVExport.requests(summary)
        case .junit:
            let name = stored.record.label ?? stored.record.plan ?? stored.record.target
            text = JUnitExport.render(summary, suiteName: "volley run #\(stored.record.id ?? 0) \(name)")
        }
        if let output {
            do {
                try text.write(toFile: output, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError(
                    message: "cannot write \(output): \(error.localizedDescription)",
                    hint: nil,
                    code: .failure
                )
            }
            Terminal.writeError("volley: wrote \(output)\n")
        } else {
            Terminal.writeOut(text)
        }
    }
}

/// Hidden: saves synthetic full-size runs in a loop, printing each id. The history's
/// crash-safety and concurrency tests kill and race it; it is not for users.
struct HistoryStressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug-history-stress",
        abstract: "Save synthetic runs in a loop (tests only).",
        shouldDisplay: false
    )

    @Option var count: Int = 100
    @Option var seed: UInt64 = 1

    func run() throws {
        let store = try HistorySaver.open()
        for i in 0..<count {
            let (summary, histograms) = SyntheticRun.make(seed: seed &* 1_000 &+ UInt64(i))
            let record = RunRecord(
                startedAt: Date(),
                label: "stress \(seed)",
                kind: "url",
                target: summary.target,
                plan: nil,
                command: ["debug-history-stress"],
                environment: .current(),
                summary: summary,
                exitCode: 0
            )
            do {
                let id = try store.save(record, histograms: histograms)
                Terminal.writeOut("saved \(id)\n")
            } catch {
                throw CLIError(message: error.message, hint: error.hint, code: .failure)
            }
        }
    }
}

/// `volley report RUN --html report.html`.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a saved run's self-contained HTML report (charts, tables; opens offline)."
    )

    @Argument(help: ArgumentHelp("The run: an id, last, or last~N.", valueName: "run"))
    var reference: String

    @Option(help: "The HTML file to write.")
    var html: String

    func run() throws {
        let store = try HistorySaver.open()
        let stored = try loadRun(reference, from: store)
        try HTMLWriter.write(stored, to: html)
    }
}

/// Renders and writes a run's HTML report, for `volley report` and `volley run --html`.
enum HTMLWriter {
    static func write(_ stored: StoredRun, to path: String) throws {
        // The scatter of individual requests, when the run wrote samples and they are still there.
        let samples = stored.record.samplesPath.flatMap { SampleScatter.load(path: $0) }
        // Diagnosed again from what was saved: a run made before a rule existed gets it too.
        var summary = stored.record.summary
        summary.findings = Diagnosis.diagnose(summary)
        let html = HTMLReport.render(
            summary,
            histograms: stored.histograms,
            context: ReportContext(stored.record),
            samples: samples
        )
        do {
            try html.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CLIError(
                message: "cannot write the report to \(path): \(error.localizedDescription)",
                hint: "check that the directory exists and is writable",
                code: .failure
            )
        }
        Terminal.writeError("volley: wrote the HTML report to \(path)\n")
    }
}
