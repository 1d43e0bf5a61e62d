import ArgumentParser
import Foundation
import Histogram
import VolleyAnalysis
import VolleyCore
import VolleyEngine
import VolleyPlan
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
            an answer), 4xx, 5xx, other (3xx, refused connections, TLS and protocol errors).

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

    @Option(help: "A label for the experiment in the history.")
    var label: String?

    typealias Cell = MatrixCell

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

    func plan(count: Int, offset: Duration, offsetText: String, dataPath: String?) -> String {
        let millis = offset.seconds * 1000
        let durationMs = Int((Double(count) * millis).rounded(.up))
        let vus = max(2, min(1000, Int((2000 / max(millis, 1)).rounded(.up))))
        var yaml = "name: matrix-\(count)-\(offsetText)\n"
        if let base { yaml += "base_url: \(quote(base))\n" }
        yaml += "defaults:\n  timeout: \(quote(timeout))\n"
        if let dataPath { yaml += "feeds:\n  row:\n    file: \(quote(dataPath))\n    order: random\n" }
        yaml += "scenarios:\n"
        for (i, r) in route.enumerated() {
            yaml += """
                  route\(i + 1):
                    executor: constant-arrival-rate
                    rate: "1/\(offsetText)"
                    duration: \(durationMs)ms
                    pre_allocated_vus: \(vus)
                    max_vus: \(max(vus, 1000))
                    steps:
                      - request: \(quote("GET " + r))
                        name: "route \(i + 1)"

                """
        }
        return yaml
    }

    private func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
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
        let dataPath = data.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volley-matrix-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        // Validate every cell's plan before sending anything.
        var plans: [(Int, String, LoadedPlan)] = []
        for count in countList.compactMap({ $0 }) {
            for (text, offset) in offsetList {
                let path = directory.appendingPathComponent("cell-\(count)-\(plans.count).yaml").path
                try plan(count: count, offset: offset, offsetText: text, dataPath: dataPath)
                    .write(toFile: path, atomically: true, encoding: .utf8)
                do {
                    plans.append((count, text, try PlanLoader.load(path: path, environment: [:])))
                } catch {
                    throw CLIError(
                        message: "the matrix cannot run: "
                            + error.description.replacingOccurrences(of: path, with: "cell"),
                        hint: "check the routes, --base and --data",
                        code: .usage
                    )
                }
            }
        }
        let write = { (text: String) in json ? Terminal.writeError(text) : Terminal.writeOut(text) }
        let style = Style(enabled: Terminal.colorEnabled(fd: json ? STDERR_FILENO : STDOUT_FILENO))
        write(
            "Matrix: \(route.count) route\(route.count == 1 ? "" : "s") × counts \(counts) × offsets \(offsets)\n"
        )
        let header =
            "  " + Fmt.pad("offset", 8, right: false) + Fmt.pad("success", 9) + Fmt.pad("no resp.", 10)
            + Fmt.pad("4xx", 8) + Fmt.pad("5xx", 8) + Fmt.pad("other", 8) + Fmt.pad("fastest", 10)
            + Fmt.pad("median", 9) + Fmt.pad("mean", 9) + Fmt.pad("slowest", 10) + "\n"
        func row(_ label: String, _ cell: Cell) -> String {
            "  " + Fmt.pad(label, 8, right: false)
                + Self.categories.map {
                    Fmt.pad(
                        Fmt.fixed(cell.outcomes[$0] ?? 0, 1) + "%",
                        $0 == "success" ? 9 : $0 == "no_response" ? 10 : 8
                    )
                }.joined()
                + Fmt.pad(Fmt.ms(cell.fastestMs), 10) + Fmt.pad(Fmt.ms(cell.medianMs), 9)
                + Fmt.pad(Fmt.ms(cell.meanMs), 9)
                + Fmt.pad(Fmt.ms(cell.slowestMs), 10) + "\n"
        }
        var cells: [Cell] = []
        var overall = (status: [String: Int](), transport: [String: Int](), latency: LatencyHistogram.make())
        var perRoute: [String: (status: [String: Int], transport: [String: Int], latency: Histogram<UInt64>)] = [:]
        var currentCount = -1
        // One watcher for every cell: the first signal stops the cell in progress, no further
        // cell starts, and the finished cells are summarised and saved.
        let watcher = InterruptWatcher()
        watcher.start()
        defer { watcher.stop() }
        for (count, offsetText, loaded) in plans where !watcher.interrupted {
            if count != currentCount {
                currentCount = count
                write("\n" + style.bold("count \(count)") + " per route\n" + header)
            }
            Terminal.raiseFileLimit()
            let engine = PlanEngine(plan: loaded.plan, feeds: loaded.feeds)
            watcher.setTarget { engine.interrupt() }
            let summary = try await engine.run()
            watcher.setTarget(nil)
            if summary.interrupted { break }
            let (requests, outcomes) = Self.outcomes(status: summary.status, transport: summary.transportErrors)
            let cell = Cell(
                count: count,
                offset: offsetText,
                route: nil,
                requests: requests,
                outcomes: outcomes,
                fastestMs: summary.latencyMs.min,
                slowestMs: summary.latencyMs.max,
                meanMs: summary.latencyMs.mean,
                medianMs: summary.latencyMs.p50
            )
            cells.append(cell)
            write(row(offsetText, cell))
            for (code, n) in summary.status { overall.status[code, default: 0] += n }
            for (kind, n) in summary.transportErrors { overall.transport[kind, default: 0] += n }
            if let h = engine.histograms {
                overall.latency.add(h.latency)
                for named in summary.requestsByName ?? [] {
                    let index = Int(named.name.dropFirst("route ".count)) ?? 0
                    let key = index >= 1 && index <= route.count ? route[index - 1] : named.name
                    var entry = perRoute[key] ?? ([:], [:], LatencyHistogram.make())
                    for (code, n) in named.status { entry.status[code, default: 0] += n }
                    for (kind, n) in named.transportErrors { entry.transport[kind, default: 0] += n }
                    if let hn = h.byName[named.name] { entry.latency.add(hn) }
                    perRoute[key] = entry
                }
            }
        }
        func aggregate(
            _ label: String?,
            _ status: [String: Int],
            _ transport: [String: Int],
            _ h: Histogram<UInt64>
        ) -> Cell {
            let (requests, outcomes) = Self.outcomes(status: status, transport: transport)
            let l = LatencyStats(h)
            return Cell(
                count: 0,
                offset: "all",
                route: label,
                requests: requests,
                outcomes: outcomes,
                fastestMs: l.min,
                slowestMs: l.max,
                meanMs: l.mean,
                medianMs: l.p50
            )
        }
        let total = aggregate(nil, overall.status, overall.transport, overall.latency)
        write("\n" + style.bold("overall") + " (\(Fmt.int(total.requests)) requests)\n" + header + row("all", total))
        var routeCells: [Cell] = []
        write("\n" + style.bold("per route") + "\n")
        for r in route {
            guard let entry = perRoute[r] else { continue }
            let cell = aggregate(r, entry.status, entry.transport, entry.latency)
            routeCells.append(cell)
            write("  " + r + "\n" + row("all", cell))
        }
        let result = MatrixResult(cells: cells, overall: total, routes: routeCells)
        let text = try ExperimentJSON.encode(result)
        ExperimentSaver.save(
            kind: "matrix",
            label: label,
            target: base ?? route.joined(separator: " "),
            result: text,
            startedAt: startedAt,
            write: write
        )
        if json { Terminal.writeOut(text + "\n") }
        if let stop = watcher.stoppedBy { throw ExitCode(stop.exit.rawValue) }
    }
}
