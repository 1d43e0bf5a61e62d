import VolleyCore

/// Checks (assertions on a response) and captures (values taken from it).
extension PlanReader {
    static let checkKeys = [
        "status", "json", "json_exists", "header", "header_contains", "header_exists", "body_contains", "body_matches",
        "latency_below", "abort_on_fail",
    ]
    static let captureSources = ["json", "regex", "header"]

    /// `check:` is a map of conditions, or a list of such maps (each with its own
    /// `abort_on_fail`).
    func readChecks(_ node: PlanNode) -> [Check] {
        (node.items ?? [node]).flatMap(readCheckMap)
    }

    private func readCheckMap(_ node: PlanNode) -> [Check] {
        guard let pairs = map(node, "\"check\"") else { return [] }
        checkKeys(pairs, allowed: Self.checkKeys, in: "a check")
        let abort = value(pairs, "abort_on_fail").flatMap { bool($0, "abort_on_fail") } ?? false
        var checks: [Check] = []
        func add(_ condition: Check.Condition?, at location: SourceLocation) {
            if let condition { checks.append(Check(condition, abortOnFail: abort, location: location)) }
        }
        for pair in pairs {
            let at = pair.keyNode.location
            let items = oneOrMany(pair.value).map { (node: $0, at: pair.value.items == nil ? at : $0.location) }
            switch pair.key {
            case "status":
                let codes = items.map { statusCode($0.node) }
                if !codes.contains(nil) { add(.status(codes.compactMap { $0 }), at: at) }
            case "json":
                for entry in map(pair.value, "\"json\"") ?? [] where jsonPath(entry.key, at: entry.keyNode.location) {
                    add(
                        jsonTemplate(entry.value).map { .jsonPathEquals(path: entry.key, value: $0) },
                        at: entry.keyNode.location
                    )
                }
            case "json_exists":
                for item in items {
                    if let path = checkText(item.node, pair.key), jsonPath(path, at: item.node.location) {
                        add(.jsonPathExists(path: path), at: item.at)
                    }
                }
            case "header", "header_contains":
                for entry in map(pair.value, "\"\(pair.key)\"") ?? [] {
                    guard let expected = checkText(entry.value, "header \(entry.key)") else { continue }
                    let condition: Check.Condition =
                        pair.key == "header"
                        ? .headerEquals(name: entry.key, value: expected)
                        : .headerContains(name: entry.key, value: expected)
                    add(condition, at: entry.keyNode.location)
                }
            case "header_exists":
                for item in items { add(checkText(item.node, pair.key).map { .headerExists(name: $0) }, at: item.at) }
            case "body_contains":
                for item in items { add(checkText(item.node, pair.key).map { .bodyContains($0) }, at: item.at) }
            case "body_matches":
                for item in items {
                    if let pattern = checkText(item.node, pair.key), regex(pattern, at: item.node.location) {
                        add(.bodyMatches(regex: pattern), at: item.at)
                    }
                }
            case "latency_below":
                add(duration(pair.value, pair.key, positive: true).map { .latencyBelow($0) }, at: at)
            default:
                break
            }
        }
        return checks
    }

    private func checkText(_ node: PlanNode, _ key: String) -> String? {
        resolvedScalar(node, "\"\(key)\"", expected: "text")?.text
    }

    private func statusCode(_ node: PlanNode) -> Int? {
        guard let code = integer(node, "status", minimum: 0) else { return nil }
        guard (100...599).contains(code) else {
            error("invalid status \(code)", at: node.location, hint: "status codes are 100 to 599")
            return nil
        }
        return code
    }

    /// Whether `path` is a JSON path Volley can evaluate; reports it when not.
    func jsonPath(_ path: String, at location: SourceLocation) -> Bool {
        do {
            _ = try JSONPath(parsing: path)
            return true
        } catch {
            self.error(error.message, at: location, hint: error.hint)
            return false
        }
    }

    /// Whether `pattern` compiles as a Swift regex (what the engine matches with).
    func regex(_ pattern: String, at location: SourceLocation) -> Bool {
        do {
            _ = try Regex(pattern)
            return true
        } catch {
            self.error("invalid regex \"\(pattern)\": \(error)", at: location, hint: "e.g. \"id\":\\s*(\\d+)")
            return false
        }
    }

    /// `capture:` maps variable names to `json $.path`, `regex <pattern>`, `header <Name>`, or
    /// the map forms `{json: ...}`, `{regex: ..., group: N}`, `{header: ...}`.
    func readCaptures(_ node: PlanNode) -> [Capture] {
        guard let pairs = map(node, "\"capture\"") else { return [] }
        var captures: [Capture] = []
        for pair in pairs {
            guard Self.isName(pair.key), !Template.builtins.contains(pair.key) else {
                error(
                    "invalid capture name \"\(pair.key)\"",
                    at: pair.keyNode.location,
                    hint: Template.builtins.contains(pair.key)
                        ? "${\(pair.key)} is built in; choose another name"
                        : "names are letters, digits and _, e.g. todo_id"
                )
                continue
            }
            if references.variableNames.contains(pair.key) {
                warning(
                    "capture \"\(pair.key)\" hides the plan variable of the same name",
                    at: pair.keyNode.location,
                    hint: "rename the capture or the variable"
                )
            }
            let source = pair.value.pairs != nil ? captureMap(pair.value) : captureText(pair.value, name: pair.key)
            define(CaptureDefinition(name: pair.key, location: pair.keyNode.location, isValid: source != nil))
            if let source { captures.append(Capture(name: pair.key, source: source, location: pair.keyNode.location)) }
        }
        return captures
    }

    private func captureText(_ node: PlanNode, name: String) -> Capture.Source? {
        guard let text = resolvedScalar(node, "capture \"\(name)\"", expected: "text")?.text.trimmingSpaces() else {
            return nil
        }
        let kind = String(text.prefix { !$0.isWhitespace })
        let argument = String(text.dropFirst(kind.count)).trimmingSpaces()
        guard Self.captureSources.contains(kind) else {
            error(
                "invalid capture \"\(text)\"",
                at: node.location,
                hint: Suggestion.didYouMean(kind, among: Self.captureSources).map { "did you mean \"\($0)\"?" }
                    ?? "write \"json $.path\", \"regex <pattern>\" or \"header <Name>\""
            )
            return nil
        }
        guard !argument.isEmpty else {
            error(
                "capture \"\(name)\" has no \(kind == "json" ? "path" : kind == "regex" ? "pattern" : "header name")",
                at: node.location,
                hint: "e.g. \(name): json $.id"
            )
            return nil
        }
        return captureSource(kind, argument, group: 1, at: node.location)
    }

    private func captureMap(_ node: PlanNode) -> Capture.Source? {
        guard let pairs = node.pairs else { return nil }
        checkKeys(pairs, allowed: Self.captureSources + ["group"], in: "a capture")
        let given = pairs.filter { Self.captureSources.contains($0.key) }
        guard given.count == 1, let entry = given.first else {
            error(
                given.isEmpty
                    ? "a capture needs json, regex or header" : "a capture takes one of json, regex or header",
                at: node.location,
                hint: "e.g. { json: $.id } or { regex: \"id=(\\d+)\", group: 1 }"
            )
            return nil
        }
        let group = pair(pairs, "group")
        if let group, entry.key != "regex" {
            error("\"group\" applies to regex captures only", at: group.keyNode.location)
            return nil
        }
        let number = group.flatMap { integer($0.value, "group", minimum: 0) } ?? 1
        guard let argument = checkText(entry.value, entry.key) else { return nil }
        return captureSource(entry.key, argument, group: number, at: entry.value.location)
    }

    private func captureSource(
        _ kind: String,
        _ argument: String,
        group: Int,
        at location: SourceLocation
    ) -> Capture.Source? {
        switch kind {
        case "json": return jsonPath(argument, at: location) ? .jsonPath(argument) : nil
        case "regex": return regex(argument, at: location) ? .regex(argument, group: group) : nil
        default: return .header(argument)
        }
    }
}
