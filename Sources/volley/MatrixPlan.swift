import Foundation
import VolleyCore
import VolleyPlan

/// The plans of `volley matrix`'s cells, built with the plan types from the command's own
/// flags and checked once up front, so a mistake names `--route`, `--data`, `--base` or
/// `--timeout` (never a line of a generated plan file). The YAML text of a cell is only
/// rendered for the history, never parsed back.
struct MatrixPlan {
    var routes: [(text: String, template: Template)]
    var base: String?
    var timeout: Duration
    var timeoutText: String
    /// `--data`, read once: its absolute path and rows.
    var data: (path: String, format: DataFeed.Format, table: FeedTable)?

    /// Checks every flag that goes into a cell's plan.
    init(routes: [String], base: String?, timeout: String, data: String?) throws {
        self.timeout = try RunCommand.positiveDuration(timeout, flag: "--timeout")
        self.timeoutText = timeout
        if let base {
            _ = try RunCommand.naming("--base", { try TargetURL(parsing: base) })
            self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        }
        if let data {
            let path = URL(fileURLWithPath: data).standardizedFileURL.path
            let table = try RunCommand.naming("--data", { try FeedTable.read(path: path) })
            let format: DataFeed.Format = path.lowercased().hasSuffix(".csv") ? .csv : .json
            self.data = (path, format, table)
        }
        self.routes = []
        for route in routes { self.routes.append((route, try check(route))) }
    }

    /// A route's template: `${row.COLUMN}` must name a column of `--data`; the path needs
    /// `--base` unless the route is a full URL.
    private func check(_ route: String) throws -> Template {
        let template: Template
        do {
            template = try Template(parsing: route)
        } catch {
            throw InputError("--route \"\(route)\": \(error.message)", hint: error.hint)
        }
        for part in template.parts {
            switch part {
            case .field(let feed, let column):
                guard feed == "row" else {
                    throw InputError(
                        "--route \"\(route)\": ${\(feed).\(column)} is not a --data field",
                        hint: "write ${row.\(column)}"
                    )
                }
                guard let data else {
                    throw InputError(
                        "--route \"\(route)\" uses ${row.\(column)} but no --data was given",
                        hint: "add --data ids.json"
                    )
                }
                guard data.table.columns.contains(column) else {
                    throw InputError(
                        "--route \"\(route)\": --data has no column \"\(column)\"",
                        hint: Suggestion.didYouMean(column, among: data.table.columns).map { "did you mean \"\($0)\"?" }
                            ?? "its columns are \(data.table.columns.joined(separator: ", "))"
                    )
                }
            case .variable(let name, let fallback):
                guard Template.builtins.contains(name) || fallback != nil else {
                    throw InputError(
                        "--route \"\(route)\": ${\(name)} is not defined",
                        hint: "draw values from --data with ${row.COLUMN}"
                    )
                }
            case .literal, .function:
                break
            }
        }
        let lower = route.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            if case .literal(let text)? = template.parts.first, template.parts.count == 1 {
                _ = try RunCommand.naming("--route", { try TargetURL(parsing: text) })
            }
        } else {
            guard route.hasPrefix("/") else {
                throw InputError(
                    "--route \"\(route)\" must start with / or http(s)://",
                    hint: "write a path such as /api/v1/todos (joined to --base) or a full URL"
                )
            }
            guard base != nil else {
                throw InputError("--route \"\(route)\" is a path and needs --base", hint: "add --base http://host:port")
            }
            if case .literal(let text)? = template.parts.first, template.parts.count == 1 {
                _ = try RunCommand.naming("--route", { try WireText.requestTarget(text) })
            }
        }
        return template
    }

    /// One cell: every route at one request per `offset` until `count` were sent.
    func plan(count: Int, offset: Duration, offsetText: String) throws -> Plan {
        let rate = 1 / offset.seconds
        guard rate <= RateText.maximum else {
            throw InputError(
                "--offsets \(offsetText) is more than 10,000,000 requests per second",
                hint: "use offsets of 100ns or more"
            )
        }
        let shape = Self.shape(count: count, offset: offset)
        return Plan(
            name: "matrix-\(count)-\(offsetText)",
            baseURL: base,
            defaults: PlanDefaults(timeout: timeout),
            feeds: data.map { [DataFeed(name: "row", path: $0.path, format: $0.format, order: .random)] } ?? [],
            scenarios: routes.enumerated().map { i, route in
                Scenario(
                    name: "route\(i + 1)",
                    executor: .constantArrivalRate(
                        rate: rate,
                        duration: .milliseconds(shape.durationMs),
                        preAllocatedVUs: shape.vus,
                        maxVUs: max(shape.vus, 1000)
                    ),
                    steps: [.request("GET", route.template, name: "route \(i + 1)")]
                )
            }
        )
    }

    /// The rows of `--data` for the engine.
    var feeds: [String: FeedTable] { data.map { ["row": $0.table] } ?? [:] }

    /// The cell's length (COUNT offsets) and its pre-allocated VUs (enough for 2 s of answers).
    static func shape(count: Int, offset: Duration) -> (durationMs: Int, vus: Int) {
        let millis = offset.seconds * 1000
        return (
            Int((Double(count) * millis).rounded(.up)), max(2, min(1000, Int((2000 / max(millis, 1)).rounded(.up))))
        )
    }

    /// The cell's plan as YAML, kept with its run in the history (`volley show`); only shown.
    func yaml(count: Int, offset: Duration, offsetText: String) -> String {
        let shape = Self.shape(count: count, offset: offset)
        var yaml = "name: matrix-\(count)-\(offsetText)\n"
        if let base { yaml += "base_url: \(quote(base))\n" }
        yaml += "defaults:\n  timeout: \(quote(timeoutText))\n"
        if let data { yaml += "feeds:\n  row:\n    file: \(quote(data.path))\n    order: random\n" }
        yaml += "scenarios:\n"
        for (i, r) in routes.enumerated() {
            yaml += """
                  route\(i + 1):
                    executor: constant-arrival-rate
                    rate: "1/\(offsetText)"
                    duration: \(shape.durationMs)ms
                    pre_allocated_vus: \(shape.vus)
                    max_vus: \(max(shape.vus, 1000))
                    steps:
                      - request: \(quote("GET " + r.text))
                        name: "route \(i + 1)"

                """
        }
        return yaml
    }

    private func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
