import ArgumentParser
import VolleyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `volley` command: a thin front end that parses, calls the libraries and maps
/// failures to documented exit codes (docs/exit-codes.md).
struct Volley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volley",
        abstract: "Load testing and performance diagnosis for HTTP services.",
        discussion: """
            Latency is measured from each request's intended send time in the open model \
            (--rate, --stages), so a stalled server shows up as the queueing real users would see.
            Exit codes: 0 done, 1 run failed, 2 usage or input error, 98 regression (compare), 99 thresholds failed, \
            130 interrupted (Ctrl-C), 143 SIGTERM, 129 SIGHUP.
            """,
        version: VolleyVersion.current,
        subcommands: [
            DemoCommand.self, RunCommand.self, ValidateCommand.self, InitCommand.self, LabCommand.self,
            HistoryCommand.self, ShowCommand.self, ExportCommand.self, DeleteCommand.self,
            ReportCommand.self, CompareCommand.self, AbCommand.self, SweepCommand.self, TimeCommand.self,
            FindMaxCommand.self, CapacityCommand.self, MatrixCommand.self, ExperimentsCommand.self,
            ExperimentCommand.self, DiagnoseCommand.self, MergeCommand.self,
            HistoryStressCommand.self, K8sCommand.self,
        ]
    )
}

/// Exit codes, typed so commands cannot invent new ones by accident.
enum VolleyExit: Int32 {
    case success = 0
    /// The run could not be performed, or not a single request completed.
    case failure = 1
    /// Bad flags or input.
    case usage = 2
    /// `compare`/`ab --fail-on-regression`: a metric was called worse (same rule as the verdict) beyond the limit.
    case regression = 98
    /// A plan's threshold failed (k6's code).
    case thresholdsFailed = 99
    /// Stopped by Ctrl-C (the summary is still printed).
    case interrupted = 130
    /// Stopped by SIGTERM (`timeout`, `docker stop`, Kubernetes, CI cancellation), like Ctrl-C.
    case terminated = 143
    /// Stopped by SIGHUP (the terminal closed), like Ctrl-C.
    case hangup = 129
}

/// An error the CLI reports as one clear message with a hint, then exits with `code`.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var hint: String?
    var code: VolleyExit

    var description: String {
        hint.map { "\(message)\nhint: \($0)" } ?? message
    }
}

@main
enum Main {
    static func main() async {
        let code: Int32
        do {
            var command = try Volley.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            code = 0
        } catch let error as CLIError {
            Terminal.writeError("volley: error: " + error.description + "\n")
            code = error.code.rawValue
        } catch let error as InputError {
            Terminal.writeError("volley: error: \(error.message)\n" + (error.hint.map { "hint: \($0)\n" } ?? ""))
            code = VolleyExit.usage.rawValue
        } catch let error as ExitCode {
            code = error.rawValue
        } catch {
            let exitCode = Volley.exitCode(for: error)
            let message = Volley.fullMessage(for: error)
            if exitCode == .success {
                print(message)
                code = 0
            } else {
                if !message.isEmpty { Terminal.writeError(message + "\n") }
                // argument-parser uses EX_USAGE (64); Volley documents 2 for usage errors.
                code = exitCode == .validationFailure ? VolleyExit.usage.rawValue : exitCode.rawValue
            }
        }
        exit(code)
    }
}
