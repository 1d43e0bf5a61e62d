import Foundation
import VolleyCore

/// Loads plan files: YAML → validated `Plan`, with every problem reported at once as
/// `file:line:column` diagnostics. Nothing is sent and nothing crashes, whatever the input.
public enum PlanLoader {
    /// Loads and validates a plan file; `environment` = process env overlaid with `-e NAME=value`.
    ///
    /// Relative paths in the plan (feeds, `body_file`) are resolved against the plan file's
    /// directory; locations name the file as `path` was given.
    public static func load(path: String, environment: [String: String]) throws(PlanLoadError) -> LoadedPlan {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw PlanLoadError(diagnostics: [
                PlanDiagnostic(
                    .error,
                    isDirectory.boolValue
                        ? "\"\(path)\" is a directory, not a plan file" : "no plan file at \"\(path)\"",
                    at: nil,
                    hint: "volley init \(path.hasSuffix(".yaml") ? path : "volley-plan.yaml") writes an example plan"
                )
            ])
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PlanLoadError(diagnostics: [PlanDiagnostic(.error, "cannot read \"\(path)\"", at: nil)])
        }
        guard let yaml = String(validating: data, as: UTF8.self) else {
            throw PlanLoadError(diagnostics: [
                PlanDiagnostic(.error, "\"\(path)\" is not UTF-8 text", at: nil, hint: "a plan is a YAML text file")
            ])
        }
        let directory = (path as NSString).deletingLastPathComponent
        return try load(yaml: yaml, file: path, baseDirectory: directory, environment: environment)
    }

    /// Loads and validates plan text; `file` names it in locations (and gives the default plan
    /// name), `baseDirectory` anchors its relative paths.
    public static func load(
        yaml: String,
        file: String,
        baseDirectory: String,
        environment: [String: String]
    ) throws(PlanLoadError) -> LoadedPlan {
        // libyaml counts CRLF as one line break, and so do the locations once it is LF.
        var text = yaml.contains("\r\n") ? yaml.replacingOccurrences(of: "\r\n", with: "\n") : yaml
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        let (root, yamlProblems) = YAMLComposer.compose(text, file: file)
        guard let root else { throw PlanLoadError(diagnostics: sorted(yamlProblems)) }

        let reader = PlanReader(file: file, yaml: text, baseDirectory: baseDirectory, environment: environment)
        let plan = reader.readPlan(root, defaultName: defaultName(file))
        var diagnostics = yamlProblems + reader.diagnostics
        var checker = ReferenceChecker(references: reader.references, environment: environment)
        if let plan {
            diagnostics += checker.check()
            diagnostics += checker.unusedFeeds(plan.feeds)
        }
        diagnostics = sorted(diagnostics)
        guard let plan, !diagnostics.contains(where: { $0.severity == .error }) else {
            throw PlanLoadError(diagnostics: diagnostics)
        }
        let substitution = EnvironmentSubstitution(
            environment: environment,
            runtimeNames: reader.references.variableNames.union(checker.captureNames).union(Template.builtins)
        )
        return LoadedPlan(plan: substitution.apply(to: plan), warnings: diagnostics, feeds: reader.feedTables)
    }

    /// The file name without directory or extension: `plans/checkout.yaml` → `checkout`.
    static func defaultName(_ file: String) -> String {
        let base = (file as NSString).lastPathComponent
        let stem = (base as NSString).deletingPathExtension
        return stem.isEmpty ? "plan" : stem
    }

    /// File order, errors before warnings at the same place; the sort is stable otherwise.
    private static func sorted(_ diagnostics: [PlanDiagnostic]) -> [PlanDiagnostic] {
        diagnostics.enumerated().sorted { a, b in
            if PlanDiagnostic.byLocation(a.element, b.element) { return true }
            if PlanDiagnostic.byLocation(b.element, a.element) { return false }
            return a.offset < b.offset
        }.map(\.element)
    }
}
