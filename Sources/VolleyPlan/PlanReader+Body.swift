import Foundation
import VolleyCore

/// Request bodies: `json`, `form`, `body` or `body_file`, one per request.
extension PlanReader {
    static let bodyKeys = ["json", "form", "body", "body_file"]

    /// The body of a request step; nil when it has none or it is invalid (reported).
    func readBody(_ pairs: [PlanNode.Pair]) -> RequestBody? {
        let given = pairs.filter { Self.bodyKeys.contains($0.key) }
        if given.count > 1 {
            error(
                "\"\(given[0].key)\" and \"\(given[1].key)\" cannot be combined",
                at: given[1].keyNode.location,
                hint: "a request has one body: json, form, body or body_file"
            )
            return nil
        }
        let contentType = pair(pairs, "content_type")
        let type = contentType.flatMap { text($0.value, "content_type") }
        if let contentType, given.first.map({ $0.key == "json" || $0.key == "form" }) ?? true {
            error(
                "\"content_type\" applies to body and body_file only",
                at: contentType.keyNode.location,
                hint: "json and form set their own Content-Type; add a header to override it"
            )
        }
        guard let entry = given.first else { return nil }
        switch entry.key {
        case "json":
            return jsonTemplate(entry.value).map(RequestBody.json)
        case "form":
            guard let fields = map(entry.value, "\"form\"") else { return nil }
            var form: [TemplatedHeader] = []
            for field in fields {
                if let value = templateValue(field.value, "form field \"\(field.key)\"") {
                    form.append(TemplatedHeader(name: field.key, value: value))
                }
            }
            return .form(form)
        case "body":
            guard case .scalar(let text, _) = entry.value.kind else {
                error(
                    "\"body\" must be text, got \(entry.value.kindDescription)",
                    at: entry.value.location,
                    hint: "use json: for a JSON body, or quote the text"
                )
                return nil
            }
            return template(text, in: entry.value).map { .raw($0, contentType: type) }
        default:
            guard let path = text(entry.value, "body_file") else { return nil }
            let resolved = resolvedPath(path)
            if let problem = BodyFile.check(resolved, regularOnly: true) {
                error(
                    "body_file \"\(path)\" \(problem.message)",
                    at: entry.value.location,
                    hint: problem.hint
                        + "; paths are relative to the plan file's directory (\(baseDirectory.isEmpty ? "." : baseDirectory))"
                )
                return nil
            }
            return .file(path: resolved, contentType: type)
        }
    }

    /// A YAML value as JSON: plain scalars are numbers, booleans or null when they look like
    /// one, quoted scalars are always strings (and may hold `${...}`).
    func jsonTemplate(_ node: PlanNode) -> JSONTemplate? {
        switch node.kind {
        case .scalar(let text, let style):
            if style == .plain {
                if node.isNull { return .null }
                if text == "true" || text == "false" { return .bool(text == "true") }
                if JSONNumber.isNumber(text), let number = Double(text) { return .number(number) }
            }
            return template(text, in: node).map(JSONTemplate.string)
        case .sequence(let items):
            let values = items.map(jsonTemplate)
            return values.contains { $0 == nil } ? nil : .array(values.compactMap { $0 })
        case .mapping(let pairs):
            let values = pairs.map { jsonTemplate($0.value) }
            var fields: [(key: String, value: JSONTemplate)] = []
            for (pair, value) in zip(pairs, values) {
                guard let value else { return nil }
                fields.append((pair.key, value))
            }
            return .object(fields)
        }
    }
}
