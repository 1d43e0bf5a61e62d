import VolleyCore

/// Scalars read when the plan is loaded: counts, durations, rates, switches and names. Each
/// may be an environment template (`${VUS:-20}`), substituted before it is parsed.
extension PlanReader {
    /// The text of a scalar with environment variables substituted, or nil after reporting
    /// why (not a scalar, a bad template, a variable that is not set).
    func resolvedScalar(_ node: PlanNode, _ subject: String, expected: String) -> ResolvedText? {
        guard let text = node.text else {
            error("\(subject) must be \(expected), got \(node.kindDescription)", at: node.location)
            return nil
        }
        return resolveNow(text, in: node, subject: subject)
    }

    /// Text such as a name or a content type.
    func text(_ node: PlanNode, _ key: String) -> String? {
        resolvedScalar(node, "\"\(key)\"", expected: "text")?.text
    }

    /// A whole number of at least `minimum`.
    func integer(_ node: PlanNode, _ key: String, minimum: Int) -> Int? {
        guard let resolved = resolvedScalar(node, "\"\(key)\"", expected: "a whole number") else { return nil }
        let text = resolved.text.trimmingSpaces()
        guard let n = Int(text) else {
            error(
                "\"\(key)\" must be a whole number, got \"\(resolved.text)\"\(resolved.origin)",
                at: node.location,
                hint: "e.g. \(key): 10"
            )
            return nil
        }
        guard n >= minimum else {
            error(
                "\"\(key)\" must be at least \(minimum), got \(n)\(resolved.origin)",
                at: node.location,
                hint: minimum == 0 ? "counts cannot be negative" : "e.g. \(key): \(max(minimum, 10))"
            )
            return nil
        }
        return n
    }

    /// A duration such as `30s` or `1m30s`; `positive` refuses zero.
    func duration(_ node: PlanNode, _ key: String, positive: Bool) -> Duration? {
        guard let resolved = resolvedScalar(node, "\"\(key)\"", expected: "a duration such as 30s") else { return nil }
        return duration(resolved, at: node.location, key: key, positive: positive)
    }

    func duration(_ resolved: ResolvedText, at location: SourceLocation, key: String, positive: Bool) -> Duration? {
        let value: Duration
        do {
            value = try BoundedDuration.parse(resolved.text)
        } catch {
            report(error, at: location, origin: resolved.origin)
            return nil
        }
        if positive && value <= .zero {
            error("\"\(key)\" must be more than 0s\(resolved.origin)", at: location, hint: "e.g. \(key): 30s")
            return nil
        }
        return value
    }

    /// A rate in requests per second: `100`, `100/s` or `30/m`.
    func rate(_ node: PlanNode, _ key: String, positive: Bool) -> Double? {
        guard let resolved = resolvedScalar(node, "\"\(key)\"", expected: "a rate such as 100/s") else { return nil }
        let value: Double
        do {
            value = try BoundedRate.parse(resolved.text)
        } catch {
            report(error, at: node.location, origin: resolved.origin)
            return nil
        }
        if positive && value <= 0 {
            error("\"\(key)\" must be more than 0\(resolved.origin)", at: node.location, hint: "e.g. \(key): 100/s")
            return nil
        }
        // Rates above RateText.maximum were refused by the parser.
        return value
    }

    /// `true` or `false`.
    func bool(_ node: PlanNode, _ key: String) -> Bool? {
        guard let resolved = resolvedScalar(node, "\"\(key)\"", expected: "true or false") else { return nil }
        switch resolved.text.trimmingSpaces().lowercased() {
        case "true": return true
        case "false": return false
        default:
            error("\"\(key)\" must be true or false, got \"\(resolved.text)\"\(resolved.origin)", at: node.location)
            return nil
        }
    }

    /// Reports an error thrown by a Core parser (`InputError` keeps its words and hint).
    func report(_ thrown: any Error, at location: SourceLocation, origin: String = "") {
        if let input = thrown as? InputError {
            error(input.message + origin, at: location, hint: input.hint)
        } else {
            error("\(thrown)\(origin)", at: location)
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
