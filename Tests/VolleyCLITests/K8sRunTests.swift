import Foundation
import Testing

@testable import volley

/// `volley k8s run` against a fake kubectl: a shell script that records each call and its
/// stdin and answers from files the test writes. No cluster is available here; what is tested
/// is the sequence of calls and how the Job's end maps to the exit code.
@Suite struct K8sRunTests {
    /// A fake kubectl in a temporary directory, with its canned answers.
    struct FakeKubectl {
        var dir: String
        var path: String { dir + "/kubectl" }

        init(conditions: String, exitCode: String, logs: String = "{\"merged\": true}\n", existing: String = "") throws
        {
            dir = try k8sTemporaryDirectory()
            let script = """
                #!/bin/bash
                d="$(dirname "$0")"
                printf '%s\\n' "$*" >> "$d/calls.log"
                case "$*" in
                  *"apply -f -"*) cat > "$d/stdin.log"; echo "job.batch/x created" ;;
                  *"get job"*"--ignore-not-found"*) cat "$d/existing" ;;
                  *"get job"*"jsonpath"*)
                    n=$(( $(cat "$d/polls" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$d/polls"
                    # Running on the first poll, ended from the second on.
                    if [ "$n" -ge 2 ]; then cat "$d/conditions"; fi ;;
                  *"get pods"*) printf 'volley-p-0-x7k2q' ;;
                  *"logs volley-p-0-x7k2q -c volley"*) cat "$d/logs" ;;
                  *"get pod volley-p-0-x7k2q"*) cat "$d/exitcode" ;;
                  *"delete"*)
                    if [ -e "$d/deletefails" ]; then echo 'Error from server (Forbidden): no' >&2; exit 1; fi
                    echo deleted ;;
                  *) echo "fake kubectl: unexpected call: $*" >&2; exit 3 ;;
                esac

                """
            try k8sWrite(script, "kubectl", in: dir)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            try k8sWrite(conditions, "conditions", in: dir)
            try k8sWrite(exitCode, "exitcode", in: dir)
            try k8sWrite(logs, "logs", in: dir)
            try k8sWrite(existing, "existing", in: dir)
        }

        var calls: [String] {
            ((try? String(contentsOfFile: dir + "/calls.log", encoding: .utf8)) ?? "").split(separator: "\n").map(
                String.init
            )
        }
        var stdin: String { (try? String(contentsOfFile: dir + "/stdin.log", encoding: .utf8)) ?? "" }
    }

    private func run(_ fake: FakeKubectl, _ extra: [String] = []) throws -> Outcome {
        let plan = try k8sWrite(
            k8sPlanText(extra: "defaults:\n  headers: { X-Api: \"${API_TOKEN}\" }"),
            "p.yaml",
            in: fake.dir
        )
        return try runVolley(
            [
                "k8s", "run", plan, "--segments", "3", "--kubectl", fake.path, "--poll-interval", "0.05", "-e",
                "API_TOKEN=s3cr3t",
            ]
                + extra
        )
    }

    @Test func aCompleteJobPrintsSegmentZerosResultAndExitsWithItsCode() throws {
        let fake = try FakeKubectl(conditions: "SuccessCriteriaMet\tTrue\t\t\nComplete\tTrue\t\t\n", exitCode: "0")
        defer { try? FileManager.default.removeItem(atPath: fake.dir) }
        let r = try run(fake, ["--delete"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "{\"merged\": true}\n")
        #expect(r.stderr.contains("job volley-p complete"))
        let calls = fake.calls
        let poll =
            #"get job volley-p -o jsonpath={range .status.conditions[*]}{.type}{"\t"}{.status}{"\t"}{.reason}{"\t"}{.message}{"\n"}{end}"#
        #expect(
            calls == [
                "get job volley-p --ignore-not-found -o name",
                "apply -f -",
                poll, poll,
                "get pods -l app.kubernetes.io/instance=volley-p,batch.kubernetes.io/job-completion-index=0 -o jsonpath={.items[0].metadata.name}",
                "logs volley-p-0-x7k2q -c volley",
                "get pod volley-p-0-x7k2q -o jsonpath={.status.containerStatuses[0].state.terminated.exitCode}",
                "delete job/volley-p service/volley-p configmap/volley-p-plan secret/volley-p-env --ignore-not-found",
            ]
        )
        // kubectl got the Secret, the ConfigMap, the Service and the Job on stdin; the
        // credential went nowhere else.
        let documents = try k8sDocuments(fake.stdin)
        #expect(documents.map { $0["kind"] as? String } == ["Secret", "ConfigMap", "Service", "Job"])
        #expect(k8sValue(documents.first, ["stringData", "API_TOKEN"]) as? String == "s3cr3t")
        #expect(!fake.calls.joined().contains("s3cr3t") && !r.stdout.contains("s3cr3t") && !r.stderr.contains("s3cr3t"))
    }

    /// Segment 0 evaluated the merged thresholds and exited 99: so does `volley k8s run`.
    @Test func failedThresholdsExit99() throws {
        let fake = try FakeKubectl(
            conditions:
                "FailureTarget\tTrue\tPodFailurePolicy\tx\nFailed\tTrue\tPodFailurePolicy\tContainer volley for pod volley-p-0 failed with exit code 99\n",
            exitCode: "99"
        )
        defer { try? FileManager.default.removeItem(atPath: fake.dir) }
        let r = try run(fake, ["--namespace", "load"])
        #expect(r.status == 99)
        #expect(r.stdout == "{\"merged\": true}\n")
        #expect(r.stderr.contains("job volley-p failed (PodFailurePolicy: Container volley for pod volley-p-0 failed"))
        #expect(r.stderr.contains("segment 0 exited 99"))
        #expect(fake.calls.allSatisfy { $0.hasPrefix("--namespace load ") })
        #expect(!fake.calls.contains { $0.contains("delete") })
    }

    /// The deadline passed before segment 0 ended: exit 1, with Kubernetes' reason.
    @Test func aDeadlineExceededJobExits1() throws {
        let fake = try FakeKubectl(
            conditions: "Failed\tTrue\tDeadlineExceeded\tJob was active longer than specified deadline\n",
            exitCode: "",
            logs: ""
        )
        defer { try? FileManager.default.removeItem(atPath: fake.dir) }
        let r = try run(fake)
        #expect(r.status == 1)
        #expect(r.stderr.contains("DeadlineExceeded: Job was active longer than specified deadline"))
        #expect(r.stderr.contains("segment 0 did not finish"))
    }

    /// Segment 0 succeeded but another segment failed: the run failed.
    @Test func anotherSegmentsFailureIsAFailedRun() throws {
        #expect(
            K8sRunner.outcome(
                end: .init(complete: false, reason: "PodFailurePolicy", message: "m"),
                segmentExit: 0,
                logs: "",
                name: "j"
            ).exitCode == 1
        )
        #expect(
            K8sRunner.outcome(
                end: .init(complete: true, reason: "", message: ""),
                segmentExit: nil,
                logs: "",
                name: "j"
            ).exitCode == 0
        )
        #expect(K8sRunner.end(in: "SuccessCriteriaMet\tTrue\t\t\n") == nil)
        #expect(K8sRunner.end(in: "Failed\tFalse\t\t\n") == nil)
    }

    @Test func aJobThatNeverEndsTimesOut() throws {
        let fake = try FakeKubectl(conditions: "", exitCode: "")
        defer { try? FileManager.default.removeItem(atPath: fake.dir) }
        let started = Date()
        let r = try run(fake, ["--timeout", "500ms", "--delete"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("did not end within the --timeout; deleted"))
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(fake.calls.last?.hasPrefix("delete job/volley-p") == true)
    }

    /// A failed clean-up is said, and does not change the run's exit code.
    @Test func aFailedDeleteIsReported() throws {
        let fake = try FakeKubectl(conditions: "Complete\tTrue\t\t\n", exitCode: "0")
        defer { try? FileManager.default.removeItem(atPath: fake.dir) }
        try k8sWrite("", "deletefails", in: fake.dir)
        let r = try run(fake, ["--delete"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("job volley-p complete; not deleted: kubectl delete job/volley-p failed (exit 1)"))
        #expect(r.stderr.contains("Forbidden"))
    }

    @Test func anExistingJobIsNotReplaced() throws {
        let fake = try FakeKubectl(conditions: "", exitCode: "", existing: "job.batch/volley-p\n")
        defer { try? FileManager.default.removeItem(atPath: fake.dir) }
        let r = try run(fake)
        #expect(r.status == 2)
        #expect(r.stderr.contains("a Job named volley-p already exists"))
        #expect(fake.calls == ["get job volley-p --ignore-not-found -o name"])
    }

    @Test func missingKubectlIsAClearError() throws {
        let dir = try k8sTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plan = try k8sWrite(k8sPlanText(), "p.yaml", in: dir)
        let r = try runVolley(["k8s", "run", plan, "--segments", "2", "--kubectl", dir + "/no-kubectl"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("is not an executable file"))
        #expect(r.stderr.contains("apt-get install kubernetes-client"))
        #expect(throws: CLIError.self) { try K8sRunCommand.findKubectl(nil, path: dir) }
    }
}
