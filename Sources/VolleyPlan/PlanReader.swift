import Foundation
import VolleyCore

/// Reads the plan's YAML tree into Core values, reporting every problem and carrying on, so
/// one pass finds all of them. Lives for one load and is used from one thread.
final class PlanReader {
    let file: String
    let baseDirectory: String
    let environment: [String: String]
    let sourceLines: [Substring]
    private(set) var diagnostics: [PlanDiagnostic] = []
    var references = PlanReferences()
    var feedTables: [String: FeedTable] = [:]
    /// Runtime template uses recorded since the last `takeUses()`.
    private var pendingUses: [TemplateUse] = []
    /// Capture names defined since the last `takeCaptureDefinitions()`, kept even when the
    /// capture's source is invalid so its later uses are not reported as undefined too.
    private var pendingCaptures: [CaptureDefinition] = []
    /// The request steps of the step list being read (setup, one scenario, teardown).
    var currentSteps: [StepReferences] = []
    /// The names of every request step, for thresholds restricted to one request.
    var requestNames: [String] = []
    /// Whether relative request paths have a base URL to join (true when `base_url` is
    /// present, valid or not, so a bad base URL is reported once, not at every request).
    var hasBaseURL = false
    /// Whether the base URL is https (nil: no base URL, or not readable).
    var baseURLIsTLS: Bool?
    /// The plan's `defaults: http:`, for checking each request's URL against it.
    var defaultHTTP: HTTPProtocolChoice = .http1

    init(file: String, yaml: String, baseDirectory: String, environment: [String: String]) {
        self.file = file
        self.baseDirectory = baseDirectory
        self.environment = environment
        self.sourceLines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
    }

    // MARK: Diagnostics

    func error(_ message: String, at location: SourceLocation, hint: String? = nil) {
        diagnostics.append(PlanDiagnostic(.error, message, at: location, hint: hint))
    }

    func warning(_ message: String, at location: SourceLocation, hint: String? = nil) {
        diagnostics.append(PlanDiagnostic(.warning, message, at: location, hint: hint))
    }

    func record(_ use: TemplateUse) {
        pendingUses.append(use)
    }

    /// The runtime template uses recorded since the last call.
    func takeUses() -> [TemplateUse] {
        defer { pendingUses = [] }
        return pendingUses
    }

    func define(_ capture: CaptureDefinition) {
        pendingCaptures.append(capture)
    }

    /// The capture names defined since the last call.
    func takeCaptureDefinitions() -> [CaptureDefinition] {
        defer { pendingCaptures = [] }
        return pendingCaptures
    }

    // MARK: Maps and lists

    /// The entries of a map, or nil after reporting what the value is instead. A null value
    /// (`defaults:` with nothing after it) is an empty map, so optional sections may be empty.
    func map(_ node: PlanNode, _ subject: String) -> [PlanNode.Pair]? {
        if node.isNull { return [] }
        guard let pairs = node.pairs else {
            error("\(subject) must be a map, got \(node.kindDescription)", at: node.location)
            return nil
        }
        return pairs
    }

    /// The items of a list, or nil after reporting what the value is instead; null is empty.
    func list(_ node: PlanNode, _ subject: String) -> [PlanNode]? {
        if node.isNull { return [] }
        guard let items = node.items else {
            error("\(subject) must be a list, got \(node.kindDescription)", at: node.location)
            return nil
        }
        return items
    }

    /// A single value or a list of them (`status: 200` or `status: [200, 201]`).
    func oneOrMany(_ node: PlanNode) -> [PlanNode] {
        node.items ?? [node]
    }

    /// Reports keys that are not in `allowed`, suggesting the closest one.
    func checkKeys(_ pairs: [PlanNode.Pair], allowed: [String], in context: String) {
        for pair in pairs where !allowed.contains(pair.key) {
            unknownKey(pair, among: allowed, context: context)
        }
    }

    func unknownKey(_ pair: PlanNode.Pair, among allowed: [String], context: String) {
        let hint =
            Suggestion.didYouMean(pair.key, among: allowed).map { "did you mean \"\($0)\"?" }
            ?? "\(context) takes \(allowed.joined(separator: ", "))"
        error("unknown key \"\(pair.key)\"", at: pair.keyNode.location, hint: hint)
    }

    /// The short form's value in a list item's long form (`{ threshold: …, request: … }`,
    /// `{ probe: …, queues: … }`): its keys checked, and nil after reporting a missing `key`.
    func mainValue(
        _ item: PlanNode,
        _ pairs: [PlanNode.Pair],
        _ key: String,
        allowed: [String],
        example: String
    )
        -> PlanNode?
    {
        checkKeys(pairs, allowed: allowed, in: "a \(key)")
        guard let node = value(pairs, key) else {
            error("a \(key) map needs \"\(key)\"", at: item.location, hint: "e.g. \(example)")
            return nil
        }
        return node
    }

    func value(_ pairs: [PlanNode.Pair], _ key: String) -> PlanNode? {
        pairs.first { $0.key == key }?.value
    }

    func pair(_ pairs: [PlanNode.Pair], _ key: String) -> PlanNode.Pair? {
        pairs.first { $0.key == key }
    }

    /// Reads an optional value: `fallback` when the key is absent, nil when it is present but
    /// invalid (already reported).
    func optional<T>(_ pairs: [PlanNode.Pair], _ key: String, default fallback: T, _ read: (PlanNode) -> T?) -> T? {
        guard let node = value(pairs, key) else { return fallback }
        return read(node)
    }

    /// Resolves a path in the plan against the plan file's directory, as an absolute path, so
    /// whoever reads the file later (the run command, from any directory) finds the same one.
    func resolvedPath(_ path: String) -> String {
        let joined = path.hasPrefix("/") || baseDirectory.isEmpty ? path : baseDirectory + "/" + path
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }

    static func isName(_ text: String) -> Bool {
        guard let first = text.first, first.isLetter || first == "_" else { return false }
        return text.allSatisfy { ($0.isLetter || $0.isNumber || $0 == "_") && $0.isASCII }
    }
}
