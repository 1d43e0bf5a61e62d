import ArgumentParser
import Foundation
import VolleyCore
import VolleyDemo
import VolleyStore

/// `volley demo`: the project's main job — the whole story on the lab in about a minute.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole story on the built-in lab: load up, find the bottleneck, change a knob.",
        discussion: """
            Starts the lab in-process on a free 127.0.0.1 port (a books API on SQLite with a small \
            database pool), raises the number of connections step by step, says where throughput \
            stopped growing and why, then turns the cache on and enlarges the pool and shows each \
            before/after, and ends with a user-journey plan judged by thresholds before and after \
            the fix. About 80 s. Artifacts (JSON, and the plan file) go to --out.
            """
    )

    @Option(help: "Directory for the artifacts.")
    var out: String = "volley-demo"

    @Option(help: "Connection levels, e.g. 1,2,4,8,16,32,64.")
    var levels: String?

    @Option(help: "How long each level runs, e.g. 6s.")
    var stepDuration: String?

    @Flag(help: "A short version (3 levels of 1 s, a 1 s journey) to check that everything works.")
    var quick = false

    @Option(help: "Event loops for the load generator; default one per core.")
    var threads: Int?

    @Flag(help: "Do not save the demo's runs to the history.")
    var noSave = false

    func options() throws -> DemoOptions {
        var options = quick ? DemoOptions.quick : DemoOptions()
        options.outputDirectory = out
        options.threads = threads
        options.historyDirectory = noSave ? nil : HistoryStore.defaultDirectory()
        if let levels {
            options.levels = try RunCommand.countList(
                levels,
                flag: "--levels",
                maximum: 10_000,
                example: "1,2,4,8,16,32,64"
            )
        }
        if let stepDuration {
            options.stepDuration = try LabCommand.duration(stepDuration, flag: "step-duration")
            if options.stepDuration < .milliseconds(200) {
                throw CLIError(message: "--step-duration must be at least 200ms", hint: nil, code: .usage)
            }
        }
        return options
    }

    func run() async throws {
        let options = try options()
        Terminal.raiseFileLimit()
        let runner = DemoRunner(options: options, color: Terminal.colorEnabled(fd: 1)) { Terminal.writeOut($0) }
        let watcher = InterruptWatcher(message: "stopping the demo after this step's grace period") {
            runner.interrupt()
        }
        watcher.start()
        defer { watcher.stop() }
        let report: DemoReport
        do {
            report = try await runner.run()
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError(message: "the demo failed: \(error)", hint: nil, code: .failure)
        }
        if report.interrupted { throw ExitCode((watcher.stoppedBy ?? StopSignal.interrupt).exit.rawValue) }
    }
}
