import ArgumentParser
import Foundation
import Histogram
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyPlan
import VolleyProbes
import VolleyReport
import VolleyStore

/// `volley matrix`: the spike design from the field — for every count × offset cell, COUNT
/// requests spaced OFFSET apart to each route, parameters drawn at random from a data file —
/// tabulated as outcome percentages.
struct MatrixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrix",
        abstract: "Spike matrix: COUNT requests spaced OFFSET apart, per route, for every count × offset.",
        discussion: """
            Each cell runs every route at once, each at one request per OFFSET (open model: a slow \
            answer does not delay the next request) until COUNT requests were sent. ${row.COLUMN} in \
            a route takes a random row of --data (JSON array of objects, or CSV with a header). \
            Outcomes: success (2xx), no response (the connection closed, reset or timed out without \
            an answer), 4xx, 5xx, other (3xx, refused connections, TLS and protocol errors). Then \
            "overall" (per offset, every count and route together) and "per route". Every cell is \
            saved as a run (label "matrix <label> n<count> <offset>"; volley show/diagnose RUN), and \
            with --probe every cell samples the server side and the cells are diagnosed together.

            Example:
              volley matrix --base http://127.0.0.1:8080 --counts 100,200 --offsets 50ms,100ms,1s \\
                --route '/businesses?id=${row.id}' --route '/businesses/id/${row.id}' --data ids.json
            """
    )

    @Option(help: "Requests per route in each cell, e.g. 100,200,500.")
    var counts: String

    @Option(help: "Spacing between requests, e.g. 50ms,100ms,1s.")
    var offsets: String

    @Option(help: "A route (path or URL); ${row.COLUMN} draws from --data (repeatable).")
    var route: [String]

    @Option(help: "Rows for ${row.*}: a JSON array of objects or a CSV file with a header.")
    var data: String?

    @Option(help: "Base URL for routes given as paths.")
    var base: String?

    @Option(help: "Per-request timeout.")
    var timeout: String = "10s"

    @Flag(help: "Print the cells as JSON on stdout.")
    var json = false

    @Option(help: "A label for the experiment and its cells in the history.")
    var label: String?

    @Flag(help: "Do not save the cells and the matrix to the history.")
    var noSave = false

    @OptionGroup(title: "Probes and health watch (every cell)")
    var probing: ProbeOptions

    typealias Cell = MatrixCell

    /// One cell's plan, and its YAML rendering kept with the run in the history.
    struct CellPlan {
        var count: Int
        var offset: String
        var plan: Plan
        var yaml: String
    }

    static var categories: [String] { MatrixCell.categories }

    /// Outcome percentages of a run (or one request name's share of it).
    static func outcomes(status: [String: Int], transport: [String: Int]) -> (Int, [String: Double]) {
        var counts = Dictionary(uniqueKeysWithValues: categories.map { ($0, 0) })
        for (code, n) in status {
            let value = Int(code) ?? 0
            switch value {
            case 200..<300: counts["success"]! += n
            case 400..<500: counts["4xx"]! += n
            case 500..<600: counts["5xx"]! += n
            default: counts["other"]! += n
            }
        }
        for (kind, n) in transport {
            switch kind {
            case "no_response", "reset", "timeout": counts["no_response"]! += n
            default: counts["other"]! += n
            }
        }
        let total = counts.values.reduce(0, +)
        return (total, counts.mapValues { total > 0 ? Double($0) / Double(total) * 100 : 0 })
    }

    func run() async throws {
        let countList = try RunCommand.countList(counts, flag: "--counts", maximum: 100_000, example: "100,200,500")
        var offsetList: [(String, Duration)] = []
        for text in offsets.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            offsetList.append((text, try RunCommand.positiveDuration(text, flag: "--offsets")))
        }
        guard !route.isEmpty else {
            throw CLIError(
                message: "a matrix needs at least one --route",
                hint: "e.g. --route '/businesses/id/${row.id}'",
                code: .usage
            )
        }
        let startedAt = Date()
        // Every flag that goes into a cell's plan is checked before anything is sent.
        let builder = try MatrixPlan(routes: route, base: base, timeout: timeout, data: data)
        var plans: [CellPlan] = []
        for count in countList {
            for (text, offset) in offsetList {
                plans.append(
                    CellPlan(
                        count: count,
                        offset: text,
                        plan: try builder.plan(count: count, offset: offset, offsetText: text),
                        yaml: builder.yaml(count: count, offset: offset, offsetText: text)
                    )
                )
            }
        }
        let write = { (text: String) in json ? Terminal.writeError(text) : Terminal.writeOut(text) }
        let style = Style(enabled: Terminal.colorEnabled(fd: json ? STDERR_FILENO : STDOUT_FILENO))
        let renderer = MatrixRenderer(style: style)
        write(
            "Matrix: \(route.count) route\(route.count == 1 ? "" : "s") × counts \(counts) × offsets \(offsets)\n"
        )
        var cells: [Cell] = []
        var summaries: [RunSummary] = []
        var tally = MatrixTally(routes: route, offsets: offsetList.map(\.0))
        var currentCount = -1
        // One watcher for every cell: the first signal stops the cell in progress, no further
        // cell starts, and the finished cells are summarised and saved.
        let watcher = InterruptWatcher()
        watcher.start()
        defer { watcher.stop() }
        for cellPlan in plans where !watcher.interrupted {
            if cellPlan.count != currentCount {
                currentCount = cellPlan.count
                write(
                    "\n" + style.bold("count \(cellPlan.count)") + " per route\n"
                        + renderer.header("offset", runColumn: !noSave)
                )
            }
            let cellStart = Date()
            let job = try RunJob(
                request: RunRequest(target: .plan(cellPlan.plan, feeds: builder.feeds)),
                probing: probing
            )
            let outcome = try await LoadRunner.perform(job, watcher: watcher)
            let summary = outcome.summary
            // Every cell is a run of its own in the history, the interrupted one included.
            let runID = noSave ? nil : save(cellPlan, summary: summary, histograms: outcome.histograms, at: cellStart)
            if outcome.interrupted {
                write("  (interrupted: this cell is saved but left out of the tables)\n")
                break
            }
            let (requests, outcomes) = Self.outcomes(status: summary.status, transport: summary.transportErrors)
            let cell = Cell(
                count: cellPlan.count,
                offset: cellPlan.offset,
                route: nil,
                requests: requests,
                outcomes: outcomes,
                fastestMs: summary.latencyMs.min,
                slowestMs: summary.latencyMs.max,
                meanMs: summary.latencyMs.mean,
                medianMs: summary.latencyMs.p50,
                runID: runID
            )
            cells.append(cell)
            summaries.append(summary)
            write(renderer.row(cellPlan.offset, cell))
            tally.add(offset: cellPlan.offset, summary: summary, histograms: outcome.histograms)
        }
        // The cells read as one stepped load, as a sweep's levels are.
        let findings = Diagnosis.diagnose(runs: summaries)
        let result = tally.result(cells: cells, findings: findings)
        write("\n" + renderer.overall(result) + "\n" + renderer.perRoute(result))
        let probed = probing.isActive || summaries.contains(where: \.readServerSide)
        let diagnosis = DiagnosisRenderer(style: style).renderFindings(findings, probed: probed)
        if !diagnosis.isEmpty { write("\n" + diagnosis) }
        let text = try ExperimentJSON.encode(result)
        if !noSave {
            ExperimentSaver.save(
                kind: "matrix",
                label: label,
                target: base ?? route.joined(separator: " "),
                result: text,
                startedAt: startedAt,
                write: write
            )
        }
        if json { Terminal.writeOut(text + "\n") }
        if let stop = watcher.stoppedBy { throw ExitCode(stop.exit.rawValue) }
    }

    /// Saves one cell as a run (with the plan it ran), quietly: the cell's row shows its id.
    func save(
        _ cell: CellPlan,
        summary: RunSummary,
        histograms: RunHistograms?,
        at startedAt: Date
    ) -> Int64? {
        var record = HistorySaver.record(
            summary,
            kind: "matrix",
            label: "matrix" + (label.map { " \($0)" } ?? "") + " n\(cell.count) \(cell.offset)",
            startedAt: startedAt,
            exitCode: RunCommand.exitCode(summary, stoppedBy: nil)
        )
        record.planSource = cell.yaml
        return HistorySaver.saveQuietly(record, histograms: histograms)
    }
}
