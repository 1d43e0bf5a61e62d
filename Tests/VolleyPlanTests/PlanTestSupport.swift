import Foundation
import Testing
import VolleyCore
import VolleyPlan

/// The fixtures directory copied into the test bundle.
enum Fixtures {
    static var directory: String {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)?.path ?? "Fixtures"
    }

    static func path(_ name: String) -> String { directory + "/" + name }

    /// The repository root, for Examples/.
    static var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }
}

/// Loads plan text as `plan.yaml` in the fixtures directory.
func load(_ yaml: String, environment: [String: String] = [:]) throws(PlanLoadError) -> LoadedPlan {
    try PlanLoader.load(yaml: yaml, file: "plan.yaml", baseDirectory: Fixtures.directory, environment: environment)
}

/// Every diagnostic of loading `yaml` (errors and warnings), as `line:column: severity: message`.
func problems(_ yaml: String, environment: [String: String] = [:]) -> [String] {
    diagnostics(yaml, environment: environment).map(short)
}

func diagnostics(_ yaml: String, environment: [String: String] = [:]) -> [PlanDiagnostic] {
    do {
        return try load(yaml, environment: environment).warnings
    } catch {
        return error.diagnostics
    }
}

func short(_ d: PlanDiagnostic) -> String {
    let at = d.location.map { "\($0.line):\($0.column): " } ?? ""
    return "\(at)\(d.severity.rawValue): \(d.message)"
}

func loc(_ line: Int, _ column: Int, file: String = "plan.yaml") -> VolleyCore.SourceLocation {
    VolleyCore.SourceLocation(file: file, line: line, column: column)
}

/// A valid plan around `steps` (indented by the caller to sit under `steps:`), for tests that
/// are only about steps. The first step is on line 7, indented by six spaces.
func planWithSteps(_ steps: String, extra: String = "") -> String {
    """
    base_url: http://127.0.0.1:8080
    scenarios:
      s:
        executor: constant-vus
        duration: 1s
        steps:
    \(steps)
    \(extra)
    """
}
