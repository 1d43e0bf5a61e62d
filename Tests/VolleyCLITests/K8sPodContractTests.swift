import Foundation
import Testing
import VolleyReport
import VolleyTestSupport

@testable import volley

/// The rendered Job's pod command, run as the pods would run it (three processes, each with
/// the Job's environment and its completion index), with only what Kubernetes provides
/// replaced: segment 0's DNS name by 127.0.0.1, the mounted plan by its local copy. Without a
/// cluster this is the closest proof that what `volley k8s render` writes makes one run.
@Suite(.serialized) struct K8sPodContractTests {
    @Test func theRenderedPodCommandMakesOneDistributedRun() async throws {
        let server = try await TestServer.start()
        let dir = try k8sTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plan = try k8sWrite(
            """
            name: pods
            base_url: ${ENDPOINT}
            thresholds:
              - "error_rate < 1%"
            scenarios:
              hits:
                executor: shared-iterations
                vus: 6
                iterations: 90
                steps:
                  - request: GET /
                    check: { status: 200 }
            """,
            "pods.yaml",
            in: dir
        )
        let manifest = try k8sManifest([plan, "--segments", "3", "-e", "ENDPOINT=\(server.baseURL)"])
        let job = try k8sDocument(try k8sDocuments(manifest.rendered), kind: "Job")
        let container = try #require(k8sValue(job, ["spec", "template", "spec", "containers", 0]) as? [String: Any])
        let args = try #require(container["args"] as? [String])
        let env = try #require(container["env"] as? [[String: Any]])
        var environment: [String: String] = [:]
        for entry in env {
            if let name = entry["name"] as? String, let value = entry["value"] as? String { environment[name] = value }
        }
        #expect(environment["VOLLEY_SEGMENTS"] == "3")
        let rendezvous = try #require(args.firstIndex(of: "--rendezvous"))
        #expect(args[rendezvous + 1] == "\(manifest.name)-0.\(manifest.name):7070")
        let port = try freeLoopbackPort()
        let pods = try (0..<3).map { index in
            let podArgs = args.enumerated().map { i, arg -> String in
                if i == rendezvous + 1 { return "127.0.0.1:\(port)" }
                if arg == "/etc/volley/plan.yaml" { return plan }
                if arg == "/tmp/volley/segment.vbundle" { return dir + "/segment-\(index).json" }
                return arg
            }
            var podEnvironment = environment
            podEnvironment["JOB_COMPLETION_INDEX"] = String(index)
            return try ChildProcess(podArgs, environment: podEnvironment)
        }
        let outcomes = pods.map { $0.finish(limit: 60) }
        let received = server.requestsReceived
        try await server.shutdown()

        #expect(outcomes.map(\.status) == [0, 0, 0], "\(outcomes.map(\.stderr))")
        let merged = try JSONReport.decode(outcomes[0].stdout)
        #expect(merged.completed == 90)
        #expect(received == 90)
        #expect(merged.distributed?.merged == [0, 1, 2])
        #expect(merged.thresholds?.map(\.passed) == [true])
        // Each pod kept its own bundle where the Job's emptyDir would hold it.
        for index in 0..<3 {
            #expect(FileManager.default.fileExists(atPath: dir + "/segment-\(index).json"))
        }
    }
}
