import Foundation
import Testing
import Yams

@testable import volley

/// A fresh temporary directory for one Kubernetes test.
func k8sTemporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("volley-k8s-tests-\(UInt64.random(in: 0...UInt64.max))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A one-scenario plan of `seconds` seconds, with `extra` top-level YAML (feeds, variables).
func k8sPlanText(seconds: Int = 30, extra: String = "", step: String = "- request: GET /") -> String {
    """
    base_url: ${ENDPOINT:-http://127.0.0.1:8080}
    \(extra)
    scenarios:
      s:
        executor: constant-vus
        vus: 2
        duration: \(seconds)s
        steps:
          \(step)

    """
}

/// Writes `text` to `dir/name` and returns the path.
@discardableResult
func k8sWrite(_ text: String, _ name: String, in dir: String) throws -> String {
    let path = dir + "/" + name
    try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent,
        withIntermediateDirectories: true
    )
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// The manifest `volley k8s render ARGS` would print, through the parsed command.
func k8sManifest(_ arguments: [String]) throws -> K8sManifest {
    try K8sRenderCommand.parse(arguments).options.makeManifest()
}

/// Every document of a multi-document YAML stream, parsed by Yams (libyaml) as a reader would.
func k8sDocuments(_ yaml: String) throws -> [[String: Any]] {
    try Yams.load_all(yaml: yaml).map { try #require($0 as? [String: Any]) }
}

/// The document of `kind` in a parsed stream.
func k8sDocument(_ documents: [[String: Any]], kind: String) throws -> [String: Any] {
    try #require(documents.first { $0["kind"] as? String == kind })
}

/// `value` at a path of keys and list indexes, for reading parsed manifests.
func k8sValue(_ value: Any?, _ path: [Any]) -> Any? {
    var current = value
    for step in path {
        if let key = step as? String {
            current = (current as? [String: Any])?[key]
        } else if let index = step as? Int, let list = current as? [Any], list.indices.contains(index) {
            current = list[index]
        } else {
            return nil
        }
    }
    return current
}
