import ArgumentParser
import Foundation
import VolleyPlan

/// `volley init [PATH]`: writes a commented example plan, valid as written, to start from.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented example plan to start from.",
        discussion: """
            The example uses most of the plan format (scenarios, executors, checks, captures, \
            thresholds, environment variables) and validates as written.

            Examples:
              volley init
              volley init plans/checkout.yaml --force
            """
    )

    @Argument(help: "Where to write the plan.")
    var path: String = "volley-plan.yaml"

    @Flag(help: "Overwrite the file if it already exists.")
    var force = false

    func run() throws {
        try write()
        Terminal.writeOut("wrote \(path)\ncheck it with: volley validate \(path)\n")
    }

    /// Writes the example; refuses to replace an existing file without `--force`.
    func write() throws {
        if FileManager.default.fileExists(atPath: path) && !force {
            throw CLIError(
                message: "\(path) already exists",
                hint: "use --force to overwrite it, or give another path: volley init my-plan.yaml",
                code: .usage
            )
        }
        do {
            try Data(ExamplePlan.yaml.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw CLIError(
                message: "cannot write \(path): \(error.localizedDescription)",
                hint: "check that the directory exists and is writable",
                code: .failure
            )
        }
    }
}
