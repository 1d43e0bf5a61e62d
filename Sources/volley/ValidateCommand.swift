import ArgumentParser
import VolleyCore
import VolleyPlan

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `volley validate PLAN`: loads a plan, lists every problem as `file:line:column` with a hint,
/// and says in one paragraph what the plan will do — all without sending a request.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a plan file and say what it will do, without sending anything.",
        discussion: """
            Every problem is listed at once as file:line:column, with a hint. Exit 0 when the plan is \
            valid (warnings allowed), 2 when it is not.

            Examples:
              volley validate plan.yaml
              volley validate plan.yaml -e ENDPOINT=http://staging:8080 -e PLANNER_VUS=50
            """
    )

    @Argument(help: "The plan file (YAML); see docs/plan-format.md.")
    var plan: String

    @Option(
        name: [.customShort("e"), .customLong("env")],
        help: ArgumentHelp("Set ${NAME} for the plan (repeatable); overrides the environment.", valueName: "NAME=value")
    )
    var variables: [String] = []

    /// What `validate` prints: diagnostics for stderr, the summary for stdout.
    struct Report {
        var diagnostics: String
        var summary: String?
        var errorCount: Int
        var warningCount: Int
    }

    func run() throws {
        let environment = try PlanEnvironment.make(overrides: variables)
        let report = validate(environment: environment, color: Terminal.colorEnabled(fd: STDERR_FILENO))
        if !report.diagnostics.isEmpty { Terminal.writeError(report.diagnostics) }
        if let summary = report.summary { Terminal.writeOut(summary) }
        if report.errorCount > 0 {
            let warnings = report.warningCount > 0 ? " and \(Self.plural(report.warningCount, "warning"))" : ""
            throw CLIError(
                message: "\(plan) is not valid: \(Self.plural(report.errorCount, "error"))\(warnings)",
                hint: nil,
                code: .usage
            )
        }
    }

    func validate(environment: [String: String], color: Bool) -> Report {
        do {
            let loaded = try PlanLoader.load(path: plan, environment: environment)
            let warnings = loaded.warnings.filter { $0.severity == .warning }
            let status =
                warnings.isEmpty
                ? "\(plan) is valid." : "\(plan) is valid, with \(Self.plural(warnings.count, "warning"))."
            let summary = status + "\n" + Self.wrap(PlanSummary.describe(loaded), width: 100) + "\n"
            return Report(
                diagnostics: Self.render(warnings, color: color),
                summary: summary,
                errorCount: 0,
                warningCount: warnings.count
            )
        } catch {
            let errors = error.diagnostics.filter { $0.severity == .error }.count
            return Report(
                diagnostics: Self.render(error.diagnostics, color: color),
                summary: nil,
                errorCount: errors,
                warningCount: error.diagnostics.count - errors
            )
        }
    }

    /// Diagnostics as the compiler prints them, coloured on a terminal.
    static func render(_ diagnostics: [PlanDiagnostic], color: Bool) -> String {
        var out = ""
        for d in diagnostics {
            guard color else {
                out += d.description + "\n"
                continue
            }
            let severity =
                d.severity == .error ? "\u{1B}[1;31merror:\u{1B}[0m" : "\u{1B}[1;33mwarning:\u{1B}[0m"
            let location = d.location.map { "\u{1B}[1m\($0):\u{1B}[0m " } ?? ""
            out += "\(location)\(severity) \u{1B}[1m\(d.message)\u{1B}[0m\n"
            if let hint = d.hint { out += "    \u{1B}[36mhint:\u{1B}[0m \(hint)\n" }
        }
        return out
    }

    static func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }

    /// Word-wraps a paragraph for the terminal.
    static func wrap(_ text: String, width: Int) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines.joined(separator: "\n")
    }
}
