import VolleyCore

/// Checks every `${...}` against what defines it, in step order: plan variables, captures of
/// earlier steps (or of setup), built-ins, environment variables, feeds and their columns.
/// This is where `DELETE /todos/${id}` before any step captured `id` is caught, before the
/// run rather than as `DELETE /todos/undefined` during it.
struct ReferenceChecker {
    var references: PlanReferences
    var environment: [String: String]
    private(set) var diagnostics: [PlanDiagnostic] = []
    /// Where each capture is defined, and in which step list.
    private var definitions: [String: [(location: SourceLocation, scope: String, isValid: Bool)]] = [:]
    private var used: Set<String> = []
    private var usedFeeds: Set<String> = []

    init(references: PlanReferences, environment: [String: String]) {
        self.references = references
        self.environment = environment
        func define(_ steps: [StepReferences], _ scope: String) {
            for capture in steps.flatMap(\.captures) {
                definitions[capture.name, default: []].append((capture.location, scope, capture.isValid))
            }
        }
        define(references.setup, "setup")
        for scenario in references.scenarios { define(scenario.steps, "scenario \"\(scenario.name)\"") }
        define(references.teardown, "teardown")
    }

    /// Every capture name, to leave them out of environment substitution.
    var captureNames: Set<String> { Set(definitions.keys) }

    mutating func check() -> [PlanDiagnostic] {
        let setupCaptures = Set(references.setup.flatMap(\.captures).map(\.name))
        walk(references.setup, available: [])
        for scenario in references.scenarios { walk(scenario.steps, available: setupCaptures) }
        walk(references.teardown, available: setupCaptures)
        for use in references.defaults { check(use, available: captureNames) }
        for (name, uses) in references.variables {
            for use in uses { checkVariableValue(use, variable: name) }
        }
        for (name, locations) in definitions.sorted(by: { $0.key < $1.key }) where !used.contains(name) {
            for definition in locations where definition.isValid {
                diagnostics.append(
                    PlanDiagnostic(
                        .warning,
                        "capture \"\(name)\" is never used",
                        at: definition.location,
                        hint: "use it as ${\(name)} in a later step, or remove it"
                    )
                )
            }
        }
        return diagnostics
    }

    private mutating func walk(_ steps: [StepReferences], available initial: Set<String>) {
        var available = initial
        for step in steps {
            for use in step.uses { check(use, available: available) }
            available.formUnion(step.captures.map(\.name))
        }
    }

    private mutating func error(_ message: String, at location: SourceLocation, hint: String?) {
        diagnostics.append(PlanDiagnostic(.error, message, at: location, hint: hint))
    }

    private mutating func check(_ use: TemplateUse, available: Set<String>) {
        switch use.part {
        case .variable(let name, let fallback):
            used.insert(name)
            if Template.builtins.contains(name) || references.variableNames.contains(name) || available.contains(name) {
                return
            }
            if let places = definitions[name] {
                guard fallback == nil, let first = places.first else { return }
                error(
                    "\(use.written) is used before any step captures it",
                    at: use.location,
                    hint: "\"\(name)\" is captured at \(first.location) (\(first.scope)); a capture is visible to "
                        + "the later steps of its scenario, and to every scenario when captured in setup"
                )
                return
            }
            if environment[name] != nil || fallback != nil { return }
            let known = Array(references.variableNames) + Array(definitions.keys) + Array(Template.builtins)
            let hint =
                Suggestion.didYouMean(name, among: known.sorted()).map { "did you mean ${\($0)}?" }
                ?? "define it under variables:, capture it in an earlier step, pass -e \(name)=value, "
                + "or give a default: ${\(name):-value}"
            error("\(use.written) is not defined", at: use.location, hint: hint)
        case .field(let feed, let column):
            usedFeeds.insert(feed)
            guard let columns = references.feedColumns[feed] else {
                let feeds = references.feedColumns.keys.sorted()
                error(
                    "feed \"\(feed)\" is not defined",
                    at: use.location,
                    hint: Suggestion.didYouMean(feed, among: feeds).map { "did you mean \"\($0)\"?" }
                        ?? "declare it under feeds: with a file"
                )
                return
            }
            guard let columns, !columns.contains(column) else { return }
            error(
                "feed \"\(feed)\" has no column \"\(column)\"",
                at: use.location,
                hint: Suggestion.didYouMean(column, among: columns).map { "did you mean \"\($0)\"?" }
                    ?? "its columns are \(columns.joined(separator: ", "))"
            )
        case .literal, .function:
            return
        }
    }

    /// Plan variables are rendered when a VU starts, with nothing but built-ins, functions and
    /// the environment to draw on.
    private mutating func checkVariableValue(_ use: TemplateUse, variable: String) {
        if case .variable(let name, let fallback) = use.part {
            used.insert(name)
            let runtime = references.variableNames.contains(name) || definitions[name] != nil
            if Template.builtins.contains(name) || (!runtime && (environment[name] != nil || fallback != nil)) {
                return
            }
            if !runtime {
                error(
                    "\(use.written) is not defined",
                    at: use.location,
                    hint: "pass -e \(name)=value, or give a default: ${\(name):-value}"
                )
                return
            }
        }
        error(
            "plan variable \"\(variable)\" cannot use \(use.written)",
            at: use.location,
            hint: "plan variables are set when a VU starts, from environment variables, ${vu} and functions only"
        )
    }

    /// Feeds that no step reads.
    func unusedFeeds(_ feeds: [DataFeed]) -> [PlanDiagnostic] {
        feeds.filter { !usedFeeds.contains($0.name) }.map {
            PlanDiagnostic(
                .warning,
                "feed \"\($0.name)\" is never used",
                at: $0.location,
                hint: "use it as ${\($0.name).column} in a step, or remove it"
            )
        }
    }
}
