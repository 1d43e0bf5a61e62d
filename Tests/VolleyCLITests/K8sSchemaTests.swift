import Foundation
import Testing

@testable import volley

/// Is the Kubernetes schema validator installed (scripts/install-deps: `kubernetes-validate`
/// from PyPI, which ships the JSON schemas of each Kubernetes version), or required
/// (scripts/test sets VOLLEY_REQUIRE_K8S_VALIDATOR=1, so CI never skips the check silently)?
let k8sValidatorEnabled: Bool = {
    if ProcessInfo.processInfo.environment["VOLLEY_REQUIRE_K8S_VALIDATOR"] == "1" { return true }
    return (try? k8sValidate(["--version"]))?.status == 0
}()

/// Runs `python3 -m kubernetes_validate ARGS` (no shim needed, whatever installed it).
func k8sValidate(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-m", "kubernetes_validate"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The rendered manifests against the Kubernetes API's JSON schemas, strictly (an unknown field
/// fails), for the oldest version the Job needs (1.31: `podFailurePolicy` GA, the
/// `job-completion-index` pod label since 1.28) and the newest the validator ships. kubectl's
/// own `--dry-run=client --validate` downloads the schema from a live API server: none here.
@Suite(.enabled(if: k8sValidatorEnabled, "kubernetes-validate is not installed: run scripts/install-deps"))
struct K8sSchemaTests {
    static let versions = ["1.31.0", "1.37.0"]

    /// Validates `yaml` against each version; returns the validator's words for each failure.
    private func failures(_ yaml: String, in dir: String) throws -> [String] {
        let file = try k8sWrite(yaml, "manifest-\(UInt32.random(in: 0...UInt32.max)).yaml", in: dir)
        var out: [String] = []
        for version in Self.versions {
            let r = try k8sValidate(["--strict", "-k", version, file])
            if r.status != 0 { out.append("\(version): \(r.output)") }
        }
        return out
    }

    @Test func everyRenderedManifestIsValid() throws {
        let check = try k8sValidate(["--version"])
        try #require(check.status == 0, "kubernetes-validate must be installed (scripts/install-deps): \(check.output)")
        let dir = try k8sTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try k8sWrite("id\n1\n", "data/ids.csv", in: dir)
        try Data([0xFF, 0x00, 0xC3]).write(to: URL(fileURLWithPath: dir + "/bin.dat"))
        let simple = try k8sWrite(k8sPlanText(), "simple.yaml", in: dir)
        let withFiles = try k8sWrite(
            k8sPlanText(
                extra: "feeds:\n  ids: { file: data/ids.csv }",
                step: "- request: POST /${ids.id}\n        body_file: bin.dat"
            ),
            "files.yaml",
            in: dir
        )
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let cases: [[String]] = [
            [simple, "--segments", "1"],
            [simple, "--segments", "1000", "--namespace", "load", "--cpu", "500m", "--memory", "256Mi"],
            [withFiles, "--segments", "7", "-e", "ENDPOINT=http://api:8080", "-e", "DB_PASSWORD=x"],
            [repository + "/Examples/random-ids.yaml", "--segments", "3", "--image", "registry.example/volley:1.0"],
            [repository + "/Tests/VolleyPlanTests/Fixtures/full.yaml", "--segments", "12", "--deadline", "1h"],
        ]
        for arguments in cases {
            let manifest = try k8sManifest(arguments)
            let documents = manifest.rendered + (manifest.secretDocument ?? "")
            let problems = try failures(documents, in: dir)
            #expect(problems.isEmpty, "\(arguments): \(problems)")
            #expect(try k8sDocuments(documents).count == (manifest.secretDocument == nil ? 3 : 4))
        }
    }

    /// The check can fail: a misspelled field, a wrong type and a missing required field are
    /// each caught.
    @Test func aBrokenManifestFailsTheValidator() throws {
        let dir = try k8sTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plan = try k8sWrite(k8sPlanText(), "p.yaml", in: dir)
        let rendered = try k8sManifest([plan, "--segments", "3"]).rendered
        #expect(try failures(rendered, in: dir).isEmpty)
        let withoutServicePort = rendered.components(separatedBy: "\n").filter { !$0.contains(" port: 7070") }
        let breakages = [
            (
                "completionMod",
                rendered.replacingOccurrences(of: "completionMode: Indexed", with: "completionMod: Indexed")
            ),
            ("three", rendered.replacingOccurrences(of: "parallelism: 3", with: "parallelism: three")),
            ("clusterIp", rendered.replacingOccurrences(of: "clusterIP: None", with: "clusterIp: None")),
            ("'port' is a required property", withoutServicePort.joined(separator: "\n")),
        ]
        for (word, broken) in breakages {
            #expect(broken != rendered, "\(word)")
            let problems = try failures(broken, in: dir)
            #expect(problems.count == Self.versions.count, "\(word)")
            #expect(problems.allSatisfy { $0.contains(word) }, "\(word): \(problems)")
        }
    }
}
