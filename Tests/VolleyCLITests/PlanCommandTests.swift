import Foundation
import Testing

@testable import volley

/// `volley validate` and `volley init`, through their parsed commands and through the binary.
@Suite struct PlanCommandTests {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("volley-plan-tests-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func validateSummarisesAValidPlan() throws {
        let path = Self.repository + "/Examples/planners-and-studiers.yaml"
        let command = try ValidateCommand.parse([path, "-e", "PLANNER_VUS=3", "-e", "PLANNER_ITERATIONS=9"])
        let environment = try PlanEnvironment.make(overrides: command.variables, base: [:])
        let report = command.validate(environment: environment, color: false)
        #expect(report.errorCount == 0)
        #expect(report.diagnostics.isEmpty)
        let summary = report.summary ?? ""
        #expect(summary.hasPrefix("\(path) is valid.\n"))
        #expect(summary.contains("9 iterations shared by 3 VUs"))
        #expect(summary.contains("0 → 1000 → 2500 → 0 VUs over 6m"))
    }

    @Test func validateListsEveryProblemAndFailsWithUsage() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bad.yaml"
        let yaml = """
            base_url: http://127.0.0.1:8080
            scenarios:
              s:
                executor: constant-vus
                duration: 30
                steps:
                  - request: GET /todos
                    capture: { id: json $.id }
            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        let command = try ValidateCommand.parse([path])
        let report = command.validate(environment: [:], color: false)
        #expect(report.errorCount == 1)
        #expect(report.warningCount == 1)
        #expect(report.summary == nil)
        #expect(
            report.diagnostics == """
                \(path):5:15: error: duration "30" has no unit
                    hint: add a unit: 30s for seconds, 30ms for milliseconds
                \(path):8:20: warning: capture "id" is never used
                    hint: use it as ${id} in a later step, or remove it

                """
        )
        #expect(throws: CLIError.self) { try command.run() }
        do {
            try command.run()
        } catch let error as CLIError {
            #expect(error.code == .usage)
            #expect(error.message == "\(path) is not valid: 1 error and 1 warning")
        }
        let coloured = command.validate(environment: [:], color: true).diagnostics
        #expect(coloured.contains("\u{1B}[1;31merror:\u{1B}[0m"))
        #expect(coloured.contains("\u{1B}[1;33mwarning:\u{1B}[0m"))
    }

    @Test func environmentOverridesNeedNameEqualsValue() throws {
        #expect(
            try PlanEnvironment.make(overrides: ["A=1", "B=x=y", "C="], base: ["A": "0", "D": "d"]) == [
                "A": "1", "B": "x=y", "C": "", "D": "d",
            ]
        )
        #expect(throws: (any Error).self) { try PlanEnvironment.make(overrides: ["A"], base: [:]) }
        #expect(throws: (any Error).self) { try PlanEnvironment.make(overrides: ["=1"], base: [:]) }
    }

    @Test func initWritesAValidPlanAndRefusesToOverwrite() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/volley-plan.yaml"
        try InitCommand.parse([path]).write()
        let report = try ValidateCommand.parse([path]).validate(environment: [:], color: false)
        #expect(report.errorCount == 0 && report.warningCount == 0, "\(report.diagnostics)")
        #expect(report.summary?.contains("\"readers\": ramping-vus") == true)

        try Data("mine".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: CLIError.self) { try InitCommand.parse([path]).write() }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "mine")
        try InitCommand.parse([path, "--force"]).write()
        #expect(try String(contentsOfFile: path, encoding: .utf8) != "mine")
        #expect(try InitCommand.parse([]).path == "volley-plan.yaml")
    }
}

/// The built binary: streams and exit codes of `validate` and `init`.
@Suite struct PlanBinaryTests {
    private struct BinaryMissing: Error {}

    private struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    private func run(_ args: [String], in directory: String? = nil) throws -> Outcome {
        var dir = Bundle.main.bundleURL
        var binary: URL?
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("volley")
            if FileManager.default.isExecutableFile(atPath: candidate.path) {
                binary = candidate
                break
            }
            dir = dir.deletingLastPathComponent()
        }
        guard let binary else { throw BinaryMissing() }
        let process = Process()
        process.executableURL = binary
        process.arguments = args
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        process.environment = environment
        let out = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volley-out-\(UInt64.random(in: 0...UInt64.max))"
        )
        let err = out.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        )
    }

    @Test func validateExitsZeroForTheExamplesAndTwoForAnInvalidPlan() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        let good = try run(["validate", "Examples/random-ids.yaml", "-e", "RATE=10/s"], in: repository)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("Examples/random-ids.yaml is valid."))
        #expect(good.stdout.contains("10 iterations/s"))
        #expect(good.stderr.isEmpty)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volley-bin-\(UInt64.random(in: 0...UInt64.max))"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let created = try run(["init"], in: directory)
        #expect(created.status == 0)
        #expect(created.stdout.contains("wrote volley-plan.yaml"))
        let again = try run(["init"], in: directory)
        #expect(again.status == 2)
        #expect(again.stderr.contains("volley-plan.yaml already exists"))
        let valid = try run(["validate", "volley-plan.yaml"], in: directory)
        #expect(valid.status == 0, "\(valid.stderr)")

        try Data("scenarios:\n  s:\n    executor: constant-vu\n".utf8).write(
            to: URL(fileURLWithPath: directory + "/bad.yaml")
        )
        let bad = try run(["validate", "bad.yaml"], in: directory)
        #expect(bad.status == 2)
        #expect(bad.stdout.isEmpty)
        #expect(
            bad.stderr == """
                bad.yaml:2:3: error: scenario "s" has no steps
                    hint: add steps: with at least one request
                bad.yaml:3:15: error: unknown executor "constant-vu"
                    hint: did you mean "constant-vus"?
                volley: error: bad.yaml is not valid: 2 errors

                """
        )
        let missing = try run(["validate", "nope.yaml"], in: directory)
        #expect(missing.status == 2)
        #expect(missing.stderr.hasPrefix("error: no plan file at \"nope.yaml\""))
    }
}
