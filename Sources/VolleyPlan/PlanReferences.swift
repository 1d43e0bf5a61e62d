import VolleyCore

/// A `${...}` placeholder of a template resolved during the run, with where it was written.
struct TemplateUse {
    var part: Template.Part
    /// The text as written, e.g. `${id}`.
    var written: String
    var location: SourceLocation
}

/// A variable defined by a capture.
struct CaptureDefinition {
    var name: String
    var location: SourceLocation
    /// False when the capture's source is invalid (already an error): it still defines the
    /// name, to spare its uses a second error, but is not worth a "never used" warning.
    var isValid = true
}

/// What one request step reads and defines, for the checks of variables against step order.
struct StepReferences {
    var uses: [TemplateUse] = []
    var captures: [CaptureDefinition] = []
}

/// Every template use of a plan, by where it is evaluated.
struct PlanReferences {
    var setup: [StepReferences] = []
    var teardown: [StepReferences] = []
    var scenarios: [(name: String, steps: [StepReferences])] = []
    /// Default headers go with every request, so only "defined somewhere" applies to them.
    var defaults: [TemplateUse] = []
    /// Plan variable values, rendered once when a VU starts.
    var variables: [(name: String, uses: [TemplateUse])] = []
    var variableNames: Set<String> = []
    /// Declared feeds, with their columns when the file could be read.
    var feedColumns: [String: [String]?] = [:]
}
