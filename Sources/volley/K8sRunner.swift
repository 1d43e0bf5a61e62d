import Foundation
import VolleyCore

/// What one kubectl call returned.
struct KubectlResult: Equatable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// `volley k8s run` as a sequence of kubectl calls: refuse a Job that already exists, apply,
/// poll the Job's conditions, read segment 0's logs and exit code, and optionally delete. The
/// calls go through `call`, so the sequence and the exit-code mapping are tested against a
/// fake kubectl without a cluster.
struct K8sRunner {
    /// How the run ended, for the command to print and exit with.
    struct Outcome: Equatable {
        /// Segment 0's output: the merged summary (JSON) or its error.
        var logs: String
        /// Said on stderr: how the Job ended.
        var message: String
        var exitCode: Int32
    }

    var manifest: K8sManifest
    var call: (_ arguments: [String], _ stdin: String?) throws -> KubectlResult
    var sleep: (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }
    var now: () -> Double = { Date().timeIntervalSinceReferenceDate }
    var pollInterval = 2.0
    /// How long to wait for the Job to end; past it the Job is left to its deadline.
    var timeout: Double
    var delete = false

    private var name: String { manifest.name }
    private var selector: String {
        "app.kubernetes.io/instance=\(name),batch.kubernetes.io/job-completion-index=0"
    }

    /// One kubectl call, in the manifest's namespace; a failure is an error with kubectl's words.
    @discardableResult
    private func kubectl(_ arguments: [String], stdin: String? = nil) throws -> String {
        let full = (manifest.namespace.map { ["--namespace", $0] } ?? []) + arguments
        let result = try call(full, stdin)
        guard result.status == 0 else {
            throw CLIError(
                message: "kubectl \(arguments.prefix(2).joined(separator: " ")) failed (exit \(result.status)): "
                    + result.stderr.trimmingCharacters(in: .whitespacesAndNewlines),
                hint: "check kubectl's context and permissions: kubectl auth can-i create jobs",
                code: .failure
            )
        }
        return result.stdout
    }

    func run() throws -> Outcome {
        let existing = try kubectl(["get", "job", name, "--ignore-not-found", "-o", "name"])
        guard existing.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw CLIError(
                message: "a Job named \(name) already exists",
                hint:
                    "a Job's spec cannot change and its old result would be read: kubectl delete job \(name), or choose --name",
                code: .usage
            )
        }
        // The Secret goes to kubectl on stdin only: never printed, never in a file.
        try kubectl(["apply", "-f", "-"], stdin: (manifest.secretDocument ?? "") + manifest.rendered)
        var outcome: Outcome
        do {
            outcome = try waitAndRead()
        } catch {
            if delete { _ = cleanUp() }
            throw error
        }
        if delete, let problem = cleanUp() { outcome.message += "; not deleted: \(problem)" }
        return outcome
    }

    /// Waits for the Job to end, then reads segment 0's logs and exit code.
    private func waitAndRead() throws -> Outcome {
        guard let end = try waitForEnd() else {
            return Outcome(
                logs: "",
                message: "job \(name) did not end within the --timeout"
                    + (delete
                        ? "; deleted"
                        : "; Kubernetes stops it at its deadline (\(manifest.deadlineSeconds) s): kubectl get job \(name)"),
                exitCode: VolleyExit.failure.rawValue
            )
        }
        let pod = try kubectl(["get", "pods", "-l", selector, "-o", "jsonpath={.items[0].metadata.name}"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var logs = ""
        var segmentExit: Int32?
        if !pod.isEmpty {
            logs = (try? kubectl(["logs", pod, "-c", "volley"])) ?? ""
            let code = try? kubectl([
                "get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].state.terminated.exitCode}",
            ])
            segmentExit = code.flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return Self.outcome(end: end, segmentExit: segmentExit, logs: logs, name: name)
    }

    /// The Job's terminal condition: `Complete` or `Failed`, with its reason and message.
    struct End: Equatable {
        var complete: Bool
        var reason: String
        var message: String
    }

    /// Polls the Job's conditions (kubectl wait takes one condition, and either may come).
    private func waitForEnd() throws -> End? {
        let start = now()
        let format =
            #"jsonpath={range .status.conditions[*]}{.type}{"\t"}{.status}{"\t"}{.reason}{"\t"}{.message}{"\n"}{end}"#
        while true {
            let text = try kubectl(["get", "job", name, "-o", format])
            if let end = Self.end(in: text) { return end }
            if now() - start >= timeout { return nil }
            sleep(pollInterval)
        }
    }

    /// The terminal condition in kubectl's output, if any (`SuccessCriteriaMet` and
    /// `FailureTarget` come first and are not the end: the pods may still be stopping).
    static func end(in text: String) -> End? {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 2, fields[1] == "True", fields[0] == "Complete" || fields[0] == "Failed" else {
                continue
            }
            return End(
                complete: fields[0] == "Complete",
                reason: fields.count > 2 ? fields[2] : "",
                message: fields.count > 3 ? fields[3] : ""
            )
        }
        return nil
    }

    /// Segment 0's exit code is the run's (it merged every bundle and evaluated the thresholds:
    /// 0, 1, 2 or 99); a failed Job whose segment 0 did not fail (another segment died, the
    /// deadline passed) is a failed run.
    static func outcome(end: End, segmentExit: Int32?, logs: String, name: String) -> Outcome {
        if end.complete {
            return Outcome(logs: logs, message: "job \(name) complete", exitCode: segmentExit ?? 0)
        }
        let why = [end.reason, end.message].filter { !$0.isEmpty }.joined(separator: ": ")
        let code = segmentExit.flatMap { $0 == 0 ? nil : $0 } ?? VolleyExit.failure.rawValue
        let segment = segmentExit.map { "segment 0 exited \($0)" } ?? "segment 0 did not finish"
        return Outcome(
            logs: logs,
            message: "job \(name) failed (\(why.isEmpty ? "no reason given" : why)); \(segment)",
            exitCode: code
        )
    }

    /// Deletes what `apply` created; returns kubectl's complaint when that failed.
    private func cleanUp() -> String? {
        var objects = ["job/\(name)", "service/\(manifest.serviceName)", "configmap/\(manifest.configMapName)"]
        if manifest.secretDocument != nil { objects.append("secret/\(manifest.secretName)") }
        do {
            try kubectl(["delete"] + objects + ["--ignore-not-found"])
            return nil
        } catch {
            return (error as? CLIError)?.message ?? "\(error)"
        }
    }
}
