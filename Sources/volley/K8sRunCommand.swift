import ArgumentParser
import Foundation
import VolleyCore

/// `volley k8s run PLAN --segments N`: render, apply with kubectl, wait for the Job, print
/// segment 0's merged result and exit with its code.
struct K8sRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Apply the distributed run with kubectl, wait for it, print the merged result.",
        discussion: """
            Prints segment 0's output (with --json in the pods: the merged summary) on stdout and exits \
            with segment 0's code: 0 done, 1 run failed, 2 input error, 99 thresholds failed. A Job that \
            failed otherwise (another segment died, the deadline passed) exits 1. Needs kubectl \
            configured for the cluster.

            Example:
              volley k8s run plan.yaml --segments 4 --image registry.example/volley:1.0 -e ENDPOINT=http://api:8080 --delete
            """
    )

    @OptionGroup var options: K8sOptions

    @Option(help: "The kubectl to use; default: kubectl on the PATH.")
    var kubectl: String?

    @Option(help: "How long to wait for the Job to end (a duration); default: its deadline + 1m.")
    var timeout: String?

    @Flag(help: "Delete the Job, Service, ConfigMap and Secret once the run has ended.")
    var delete = false

    @Option(help: .hidden)
    var pollInterval: Double = 2

    func run() throws {
        let manifest = try options.makeManifest()
        let executable = try Self.findKubectl(kubectl)
        let timeoutSeconds =
            try timeout.map { try DurationText.parse($0).seconds } ?? Double(manifest.deadlineSeconds + 60)
        Terminal.writeError(
            "volley: applying job \(manifest.name): \(manifest.segments) segment\(manifest.segments == 1 ? "" : "s"), "
                + "deadline \(manifest.deadlineSeconds) s\n"
        )
        let runner = K8sRunner(
            manifest: manifest,
            call: { try Self.call(executable, $0, stdin: $1) },
            pollInterval: max(0.01, pollInterval),
            timeout: timeoutSeconds,
            delete: delete
        )
        let outcome = try runner.run()
        Terminal.writeOut(outcome.logs)
        Terminal.writeError("volley: \(outcome.message)\n")
        if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
    }

    /// `--kubectl PATH`, or kubectl on the PATH; missing is an input error with the install hint.
    static func findKubectl(
        _ given: String?,
        path: String? = ProcessInfo.processInfo.environment["PATH"]
    ) throws
        -> String
    {
        let hint =
            "install kubectl (Debian/Ubuntu: apt-get install kubernetes-client; elsewhere see kubernetes.io/docs/tasks/tools) or give --kubectl PATH"
        if let given {
            guard FileManager.default.isExecutableFile(atPath: given) else {
                throw CLIError(message: "--kubectl \(given) is not an executable file", hint: hint, code: .usage)
            }
            return given
        }
        for directory in (path ?? "").split(separator: ":") {
            let candidate = String(directory) + "/kubectl"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw CLIError(
            message: "kubectl is not on the PATH; volley k8s run drives the cluster through it",
            hint: hint,
            code: .usage
        )
    }

    /// Runs kubectl with `stdin` on a pipe, collecting both outputs.
    static func call(_ executable: String, _ arguments: [String], stdin: String?) throws -> KubectlResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let input = Pipe()
        let out = Pipe()
        let err = Pipe()
        process.standardInput = input
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let group = DispatchGroup()
        let outData = LockedBytes()
        let errData = LockedBytes()
        for (pipe, sink) in [(out, outData), (err, errData)] {
            DispatchQueue.global().async(group: group) { sink.set(pipe.fileHandleForReading.readDataToEndOfFile()) }
        }
        // Written from another thread: kubectl may answer before it reads all of a large stdin.
        let text = stdin ?? ""
        DispatchQueue.global().async(group: group) {
            try? input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
            try? input.fileHandleForWriting.close()
        }
        process.waitUntilExit()
        group.wait()
        return KubectlResult(
            status: process.terminationStatus,
            stdout: String(decoding: outData.get(), as: UTF8.self),
            stderr: String(decoding: errData.get(), as: UTF8.self)
        )
    }
}

/// One pipe's bytes, handed from its reader thread to the caller after `group.wait()`.
/// `@unchecked Sendable`: every access holds the lock.
private final class LockedBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.withLock { data = d } }
    func get() -> Data { lock.withLock { data } }
}
