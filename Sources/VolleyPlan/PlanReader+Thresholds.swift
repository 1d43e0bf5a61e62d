import VolleyCore

/// Thresholds: expressions, or maps that restrict one to a request or make it stop the run.
extension PlanReader {
    static let thresholdKeys = ["threshold", "request", "abort_on_fail"]

    func readThresholds(_ node: PlanNode) -> [Threshold] {
        guard let items = list(node, "\"thresholds\"") else { return [] }
        return items.compactMap(readThreshold)
    }

    private func readThreshold(_ item: PlanNode) -> Threshold? {
        var expressionNode = item
        var request: String?
        var abort = false
        if let pairs = item.pairs {
            let example = "{ threshold: \"p(99) < 1s\", request: GET /api }"
            guard let node = mainValue(item, pairs, "threshold", allowed: Self.thresholdKeys, example: example)
            else { return nil }
            expressionNode = node
            if let node = value(pairs, "request") {
                request = text(node, "request")
                if let name = request, !requestNames.contains(name) {
                    let hint =
                        Suggestion.didYouMean(name, among: requestNames).map { "did you mean \"\($0)\"?" }
                        ?? "requests are named by name:, or \"METHOD url\" as written"
                    error("no request is named \"\(name)\"", at: node.location, hint: hint)
                    return nil
                }
            }
            abort = value(pairs, "abort_on_fail").flatMap { bool($0, "abort_on_fail") } ?? false
        }
        guard
            let text = resolvedScalar(
                expressionNode,
                "a threshold",
                expected: "an expression such as \"p(95) < 500ms\""
            )?.text
        else { return nil }
        do {
            let (metric, comparison, value) = try ThresholdExpression.parse(text)
            return Threshold(
                metric: metric,
                comparison: comparison,
                value: value,
                requestName: request,
                abortOnFail: abort,
                expression: text,
                location: expressionNode.location
            )
        } catch {
            self.error(error.message, at: expressionNode.location, hint: error.hint)
            return nil
        }
    }
}
