import Foundation
import VolleyCore

/// The Kubernetes objects of one distributed run: a ConfigMap with the plan (and the files it
/// reads), a headless Service through which the segments find segment 0, and an Indexed Job
/// whose pod `i` runs segment `i` of `segments`. A pure value: `volley k8s render` prints it,
/// `volley k8s run` pipes it to kubectl, and the tests parse it back.
struct K8sManifest {
    /// The port segment 0's rendezvous listens on (docs/distributed.md).
    static let rendezvousPort = 7070
    /// Where the ConfigMap is mounted: the plan is `plan.yaml` there, and the files it refers to
    /// sit beside it at the same relative paths, so the plan loads unchanged in the pod.
    static let planDirectory = "/etc/volley"
    /// The segment's result bundle, in an emptyDir (the image's filesystem may be read-only).
    static let bundleDirectory = "/tmp/volley"
    /// Segment counts beyond this are refused: one rendezvous collects every bundle.
    static let maxSegments = 1000

    /// A file the pod needs: the plan itself or a feed or body file it names.
    struct File: Equatable {
        /// The path relative to `planDirectory` (`plan.yaml`, `data/users.csv`).
        var path: String
        var bytes: [UInt8]
    }

    /// A `-e NAME=value` given to render, forwarded to the pods as an environment variable (the
    /// plan's `${NAME}` reads the environment): in the Job when plain, through a Secret when the
    /// name says it is a credential.
    struct Variable: Equatable {
        var name: String
        var value: String
        var isSecret: Bool { Redaction.isSecretVariable(name) }
    }

    var name: String
    var namespace: String?
    var segments: Int
    var image: String
    /// `activeDeadlineSeconds`: Kubernetes kills every pod of the Job at this age.
    var deadlineSeconds: Int
    var cpu: String?
    var memory: String?
    /// The plan first, then its files.
    var files: [File]
    var variables: [Variable] = []

    var serviceName: String { name }
    var configMapName: String { name + "-plan" }
    var secretName: String { name + "-env" }
    /// Pod 0's stable name through the headless Service (`<job>-0.<service>`): an Indexed Job's
    /// pod has hostname `<job>-<index>`, and `subdomain` gives it this DNS record.
    var rendezvousAddress: String { "\(name)-0.\(serviceName):\(Self.rendezvousPort)" }
    var secretVariables: [Variable] { variables.filter(\.isSecret) }

    /// What every pod runs after `volley`; the segment comes from `JOB_COMPLETION_INDEX` (set by
    /// Kubernetes) and `VOLLEY_SEGMENTS` (set below).
    var arguments: [String] {
        [
            "run", Self.planDirectory + "/plan.yaml", "--rendezvous", rendezvousAddress,
            "--bundle", Self.bundleDirectory + "/segment.vbundle", "--no-save", "--quiet", "--json",
        ]
    }

    /// The labels on every object; the instance label selects the Job's pods (Service,
    /// anti-affinity, `volley k8s run`).
    var labels: K8sYAML {
        .map([("app.kubernetes.io/name", .string("volley")), ("app.kubernetes.io/instance", .string(name))])
    }

    /// Name, namespace and labels, alike on every object.
    func metadata(_ objectName: String) -> K8sYAML {
        var pairs: [(String, K8sYAML)] = [("name", .string(objectName))]
        if let namespace { pairs.append(("namespace", .string(namespace))) }
        pairs.append(("labels", labels))
        return .map(pairs)
    }

    /// ConfigMap, Service and Job, as one multi-document YAML stream. The Secret is not in it:
    /// see `secretDocument`.
    var rendered: String {
        [configMap, service, job].map { "---\n" + $0.document }.joined()
    }

    /// The Secret holding the credential variables, or nil when there are none. Rendered apart
    /// so that the manifests can be printed, reviewed and committed without the values.
    var secretDocument: String? {
        let secrets = secretVariables
        guard !secrets.isEmpty else { return nil }
        let data = K8sYAML.map(secrets.map { ($0.name, .string($0.value)) })
        let secret = K8sYAML.map([
            ("apiVersion", .string("v1")), ("kind", .string("Secret")), ("metadata", metadata(secretName)),
            ("type", .string("Opaque")), ("stringData", data),
        ])
        return "---\n" + secret.document
    }

    /// The ConfigMap key of file `index`: keys allow no `/`, so the volume maps each key back to
    /// its path.
    static func key(_ index: Int) -> String { index == 0 ? "plan.yaml" : "file-\(index)" }

    var configMap: K8sYAML {
        var data: [(String, K8sYAML)] = []
        var binary: [(String, K8sYAML)] = []
        for (index, file) in files.enumerated() {
            if let text = String(validating: file.bytes, as: UTF8.self) {
                data.append((Self.key(index), .text(text)))
            } else {
                binary.append((Self.key(index), .string(Data(file.bytes).base64EncodedString())))
            }
        }
        var pairs: [(String, K8sYAML)] = [
            ("apiVersion", .string("v1")), ("kind", .string("ConfigMap")), ("metadata", metadata(configMapName)),
        ]
        if !data.isEmpty { pairs.append(("data", .map(data))) }
        if !binary.isEmpty { pairs.append(("binaryData", .map(binary))) }
        return .map(pairs)
    }

    /// Headless (`clusterIP: None`): no load balancing, only the per-pod DNS records that let
    /// the segments reach pod 0. `publishNotReadyAddresses` publishes them as soon as a pod has
    /// an address, so registration does not wait for readiness.
    var service: K8sYAML {
        .map([
            ("apiVersion", .string("v1")), ("kind", .string("Service")), ("metadata", metadata(serviceName)),
            (
                "spec",
                .map([
                    ("clusterIP", .string("None")), ("publishNotReadyAddresses", .bool(true)), ("selector", labels),
                    (
                        "ports",
                        .list([
                            .map([
                                ("name", .string("rendezvous")), ("port", .int(Self.rendezvousPort)),
                                ("targetPort", .int(Self.rendezvousPort)), ("protocol", .string("TCP")),
                            ])
                        ])
                    ),
                ])
            ),
        ])
    }
}
