import Foundation
import Testing
import Yams

@testable import volley

/// `volley k8s render`: what the manifests carry, that the plan reaches the pods byte for byte,
/// and every refusal, without a cluster.
@Suite struct K8sRenderTests {
    /// Texts a block scalar or a quoted string must carry exactly: YAML's own syntax, tabs,
    /// trailing and leading spaces, Unicode (and the characters YAML treats as line breaks),
    /// control characters, CRLF, no final newline, several final newlines.
    static let awkwardTexts: [String] = [
        "key: value # not a comment\n'single' \"double\" `back`\n\tindented by a tab\ntrailing spaces   \n",
        "  leading spaces on the first line\nthen none\n",
        "no final newline: ü 日本語 🚀",
        "three final newlines\n\n\n",
        "crlf\r\nlines\r\n",
        "bell\u{07} and nul\u{00} and del\u{7F}\n",
        "nel\u{85}ls\u{2028}ps\u{2029}bom\u{FEFF}\n",
        "   \nline of spaces above\n",
        "- a: b\n---\n...\n%YAML 1.1\n&anchor *alias !tag |>\n",
        "", "\n", "x",
    ]

    @Test(arguments: awkwardTexts)
    func planTextRoundTripsThroughTheConfigMap(_ text: String) throws {
        let dir = try k8sTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The ConfigMap carries files' bytes: the awkward text is a body file beside the plan,
        // and the plan's own text is compared too.
        try k8sWrite(text, "data/body.txt", in: dir)
        let plan = try k8sWrite(
            k8sPlanText(step: "- request: POST /\n        body_file: data/body.txt"),
            "p.yaml",
            in: dir
        )
        let manifest = try k8sManifest([plan, "--segments", "2"])
        let configMap = try k8sDocument(try k8sDocuments(manifest.rendered), kind: "ConfigMap")
        let data = try #require(configMap["data"] as? [String: Any])
        let carried = try #require(data["file-1"] as? String)
        #expect(Array(carried.utf8) == Array(text.utf8))
        let planText = try #require(data["plan.yaml"] as? String)
        #expect(Array(planText.utf8) == Array(try Data(contentsOf: URL(fileURLWithPath: plan))))
    }

    @Test(arguments: awkwardTexts)
    func theWriterRoundTripsEveryScalar(_ text: String) throws {
        let yaml = K8sYAML.map([("text", .text(text)), ("string", .string(text)), ("list", .list([.string(text)]))])
        let parsed = try #require(try Yams.load(yaml: yaml.document) as? [String: Any])
        #expect((parsed["text"] as? String).map { Array($0.utf8) } == Array(text.utf8))
        #expect((parsed["string"] as? String).map { Array($0.utf8) } == Array(text.utf8))
        #expect(((parsed["list"] as? [Any])?.first as? String).map { Array($0.utf8) } == Array(text.utf8))
    }

    /// Strings YAML 1.1 would read as something else are quoted.
    @Test func plainLookingScalarsStayStrings() throws {
        for text in ["7070", "yes", "No", "on", "null", "~", "1e3", "0x1F", ".inf", "a: b", "-", "true", "y", "12:30"] {
            let parsed = try #require(
                try Yams.load(yaml: K8sYAML.map([("v", .string(text))]).document) as? [String: Any]
            )
            #expect(parsed["v"] as? String == text, "\(text)")
        }
    }

    /// The Job runs what the rest of the issue expects: the contract's flags, the segment from
    /// the Job's index, no retries, the deadline, the Service as the pods' subdomain.
    @Test func theJobCarriesTheContract() throws {
        let dir = try k8sTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try k8sWrite("id\n1\n2\n", "data/ids.csv", in: dir)
        let plan = try k8sWrite(
            k8sPlanText(
                seconds: 90,
                extra: "feeds:\n  ids: { file: data/ids.csv, order: unique }",
                step: "- request: GET /${ids.id}"
            ),
            "checkout.yaml",
            in: dir
        )
        let manifest = try k8sManifest([
            plan, "--segments", "12", "--image", "registry.example/volley:1.0", "--namespace", "load",
            "--cpu", "2", "--memory", "1Gi", "-e", "ENDPOINT=http://api:8080",
        ])
        #expect(manifest.name == "volley-checkout")
        let documents = try k8sDocuments(manifest.rendered)
        #expect(documents.map { $0["kind"] as? String } == ["ConfigMap", "Service", "Job"])
        #expect(documents.allSatisfy { k8sValue($0, ["metadata", "namespace"]) as? String == "load" })
        let job = try k8sDocument(documents, kind: "Job")
        #expect(k8sValue(job, ["spec", "completionMode"]) as? String == "Indexed")
        #expect(k8sValue(job, ["spec", "completions"]) as? Int == 12)
        #expect(k8sValue(job, ["spec", "parallelism"]) as? Int == 12)
        #expect(k8sValue(job, ["spec", "backoffLimit"]) as? Int == 0)
        #expect(k8sValue(job, ["spec", "activeDeadlineSeconds"]) as? Int == 90 + 120)
        #expect(k8sValue(job, ["spec", "template", "spec", "restartPolicy"]) as? String == "Never")
        #expect(k8sValue(job, ["spec", "template", "spec", "subdomain"]) as? String == "volley-checkout")
        let container = try #require(k8sValue(job, ["spec", "template", "spec", "containers", 0]) as? [String: Any])
        #expect(container["image"] as? String == "registry.example/volley:1.0")
        #expect(container["command"] as? [String] == ["volley"])
        #expect(
            container["args"] as? [String] == [
                "run", "/etc/volley/plan.yaml", "--rendezvous", "volley-checkout-0.volley-checkout:7070", "--bundle",
                "/tmp/volley/segment.vbundle", "--no-save", "--quiet", "--json",
            ]
        )
        let env = try #require(container["env"] as? [[String: Any]])
        #expect(env.map { $0["name"] as? String } == ["VOLLEY_SEGMENTS", "ENDPOINT"])
        #expect(env.map { $0["value"] as? String } == ["12", "http://api:8080"])
        #expect(k8sValue(container, ["resources", "limits", "cpu"]) as? String == "2")
        #expect(k8sValue(container, ["resources", "requests", "memory"]) as? String == "1Gi")
        // The feed is mounted beside the plan, at the path the plan names.
        let items = try #require(
            k8sValue(job, ["spec", "template", "spec", "volumes", 0, "configMap", "items"]) as? [[String: String]]
        )
        #expect(items == [["key": "plan.yaml", "path": "plan.yaml"], ["key": "file-1", "path": "data/ids.csv"]])
        let configMap = try k8sDocument(documents, kind: "ConfigMap")
        #expect(k8sValue(configMap, ["data", "file-1"]) as? String == "id\n1\n2\n")
        let service = try k8sDocument(documents, kind: "Service")
        #expect(k8sValue(service, ["spec", "clusterIP"]) as? String == "None")
        #expect(k8sValue(service, ["spec", "ports", 0, "port"]) as? Int == 7070)
        #expect(
            k8sValue(service, ["spec", "selector"]) as? [String: String]
                == k8sValue(job, ["spec", "template", "metadata", "labels"]) as? [String: String]
        )
    }

    /// A credential variable reaches the pods through a Secret: never in the Job, never on stdout.
    @Test func credentialsGoThroughASecretOnly() throws {
        let dir = try k8sTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plan = try k8sWrite(
            k8sPlanText(extra: "defaults:\n  headers: { X-Api: \"${API_TOKEN}\" }"),
            "p.yaml",
            in: dir
        )
        let refused = try runVolley(["k8s", "render", plan, "--segments", "2", "-e", "API_TOKEN=s3cr3t-value"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("API_TOKEN looks like credentials"))
        #expect(!refused.stdout.contains("s3cr3t-value") && !refused.stderr.contains("s3cr3t-value"))

        let secretFile = dir + "/secret.yaml"
        let r = try runVolley([
            "k8s", "render", plan, "--segments", "2", "-e", "API_TOKEN=s3cr3t-value", "--secret-out", secretFile,
        ])
        #expect(r.status == 0)
        #expect(!r.stdout.contains("s3cr3t-value") && !r.stderr.contains("s3cr3t-value"))
        let job = try k8sDocument(try k8sDocuments(r.stdout), kind: "Job")
        let env = try #require(k8sValue(job, ["spec", "template", "spec", "containers", 0, "env"]) as? [[String: Any]])
        #expect(k8sValue(env.last, ["valueFrom", "secretKeyRef", "name"]) as? String == "volley-p-env")
        #expect(k8sValue(env.last, ["valueFrom", "secretKeyRef", "key"]) as? String == "API_TOKEN")
        let secret = try k8sDocuments(String(contentsOfFile: secretFile, encoding: .utf8))
        #expect(k8sValue(secret.first, ["stringData", "API_TOKEN"]) as? String == "s3cr3t-value")
        let mode = try FileManager.default.attributesOfItem(atPath: secretFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    /// Bad input is refused with what, where and a hint, exit 2, and nothing on stdout.
    @Test func badInputIsRefused() throws {
        let dir = try k8sTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plan = try k8sWrite(k8sPlanText(), "p.yaml", in: dir)
        let outside = try k8sWrite("id\n1\n", "outside.csv", in: dir)
        let nested = try k8sWrite(
            k8sPlanText(extra: "feeds:\n  ids: { file: ../outside.csv }", step: "- request: GET /${ids.id}"),
            "sub/p.yaml",
            in: dir
        )
        let absolute = try k8sWrite(
            k8sPlanText(extra: "feeds:\n  ids: { file: \(outside) }", step: "- request: GET /${ids.id}"),
            "abs.yaml",
            in: dir
        )
        let invalid = try k8sWrite("scenarios:\n  s:\n    executor: nope\n", "bad.yaml", in: dir)
        let cases: [([String], String)] = [
            ([plan, "--segments", "0"], "--segments must be from 1 to 1000, got 0"),
            ([plan, "--segments", "1001"], "--segments must be from 1 to 1000, got 1001"),
            ([plan, "--segments", "2", "--name", "Volley_Run"], "--name \"Volley_Run\" is not a DNS-1123 label"),
            ([plan, "--segments", "1000", "--name", String(repeating: "a", count: 60)], "at most 59 characters"),
            ([plan, "--segments", "2", "--namespace", "Load"], "--namespace \"Load\" is not a DNS-1123 label"),
            ([plan, "--segments", "2", "--cpu", "two"], "--cpu \"two\" is not a Kubernetes quantity"),
            ([plan, "--segments", "2", "--deadline", "20s"], "--deadline 20s is not longer than the plan (30 s)"),
            ([plan, "--segments", "2", "-e", "1X=a"], "-e 1X: not a variable the pods can be given"),
            ([nested, "--segments", "2"], "is not below the plan's directory"),
            ([absolute, "--segments", "2"], "is named by an absolute path"),
            ([invalid, "--segments", "2"], "bad.yaml is not valid: "),
            ([dir + "/missing.yaml", "--segments", "2"], "no plan file at"),
        ]
        for (arguments, expected) in cases {
            let r = try runVolley(["k8s", "render"] + arguments)
            #expect(r.status == 2, "\(arguments)")
            #expect(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(arguments)")
        }
        // The invalid plan's problems are listed as validate lists them: file:line:column.
        let r = try runVolley(["k8s", "render", invalid, "--segments", "2"])
        let validate = try runVolley(["validate", invalid])
        #expect(r.stderr.hasPrefix(validate.stderr.components(separatedBy: "\n").first ?? "?"))
        #expect(r.stderr.contains("bad.yaml:3:15"))
    }

    /// The deadline leaves the margin after the planned length, and `--deadline` replaces it.
    @Test func deadlineIsThePlanPlusAMargin() throws {
        let dir = try k8sTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plan = try k8sWrite(k8sPlanText(seconds: 300), "p.yaml", in: dir)
        #expect(try k8sManifest([plan, "--segments", "3"]).deadlineSeconds == 420)
        #expect(try k8sManifest([plan, "--segments", "3", "--deadline", "10m"]).deadlineSeconds == 600)
        #expect(try k8sManifest([plan, "--segments", "3", "--name", "x"]).rendezvousAddress == "x-0.x:7070")
    }

    /// `-o` writes the file and prints nothing on stdout.
    @Test func outputGoesToAFile() throws {
        let dir = try k8sTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plan = try k8sWrite(k8sPlanText(), "p.yaml", in: dir)
        let r = try runVolley(["k8s", "render", plan, "--segments", "4", "-o", dir + "/job.yaml"])
        #expect(r.status == 0 && r.stdout.isEmpty)
        let written = try String(contentsOfFile: dir + "/job.yaml", encoding: .utf8)
        #expect(try k8sDocuments(written).count == 3)
    }
}
