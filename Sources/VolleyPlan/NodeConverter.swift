import VolleyCore
import Yams

/// Converts a Yams tree to `PlanNode`s: locations fixed up for the composer's edits, merge
/// keys applied, duplicate and non-text keys reported, size and depth bounded.
final class NodeConverter {
    private let file: String
    private let edits: [YAMLComposer.Edit]
    private var budget = YAMLComposer.maximumNodes
    private(set) var diagnostics: [PlanDiagnostic] = []
    /// Set when the tree is too large or too deep to be worth reading further.
    private(set) var aborted = false

    init(file: String, edits: [YAMLComposer.Edit]) {
        self.file = file
        self.edits = edits
    }

    private func location(_ mark: Mark?) -> SourceLocation {
        guard let mark else { return SourceLocation(file: file, line: 1, column: 1) }
        return YAMLComposer.adjusted(line: mark.line, column: mark.column, edits: edits, file: file)
    }

    private func abort(_ message: String, at location: SourceLocation, hint: String) {
        if !aborted { diagnostics.append(PlanDiagnostic(.error, message, at: location, hint: hint)) }
        aborted = true
    }

    func convert(_ node: Node, depth: Int) -> PlanNode? {
        guard !aborted else { return nil }
        budget -= 1
        guard budget >= 0 else {
            abort(
                "the plan is too large: more than \(YAMLComposer.maximumNodes) values",
                at: location(node.mark),
                hint: "are aliases (*name) repeating a large block?"
            )
            return nil
        }
        guard depth <= YAMLComposer.maximumDepth else {
            abort(
                "values are nested more than \(YAMLComposer.maximumDepth) levels deep",
                at: location(node.mark),
                hint: "a plan never needs this much nesting"
            )
            return nil
        }
        switch node {
        case .scalar(let scalar):
            return PlanNode(kind: .scalar(scalar.string, style(scalar.style)), location: location(scalar.mark))
        case .sequence(let sequence):
            var items: [PlanNode] = []
            for item in sequence {
                guard let converted = convert(item, depth: depth + 1) else { return nil }
                items.append(converted)
            }
            return PlanNode(kind: .sequence(items), location: location(sequence.mark))
        case .mapping(let mapping):
            return convertMapping(mapping, depth: depth)
        case .alias(let alias):
            return PlanNode(kind: .scalar("", .plain), location: location(alias.mark))
        }
    }

    private func style(_ style: Node.Scalar.Style) -> PlanNode.Style {
        switch style {
        case .singleQuoted: return .singleQuoted
        case .doubleQuoted: return .doubleQuoted
        case .literal: return .literal
        case .folded: return .folded
        default: return .plain
        }
    }

    private enum Entry {
        case pair(PlanNode.Pair)
        case merge([PlanNode.Pair])
    }

    private func convertMapping(_ mapping: Node.Mapping, depth: Int) -> PlanNode? {
        var entries: [Entry] = []
        var seen: [String: SourceLocation] = [:]
        for (k, v) in mapping {
            guard let key = convert(k, depth: depth + 1), let value = convert(v, depth: depth + 1) else { return nil }
            guard case .scalar(let text, let keyStyle) = key.kind else {
                diagnostics.append(
                    PlanDiagnostic(.error, "keys must be text, got \(key.kindDescription)", at: key.location)
                )
                continue
            }
            if text == "<<" && keyStyle == .plain {
                entries.append(.merge(merged(value, at: key.location)))
                continue
            }
            if let first = seen[text] {
                diagnostics.append(
                    PlanDiagnostic(
                        .error,
                        "duplicate key \"\(text)\"",
                        at: key.location,
                        hint:
                            "\"\(text)\" is already set at line \(first.line), column \(first.column); a map keeps one value per key"
                    )
                )
                continue
            }
            seen[text] = key.location
            entries.append(.pair(PlanNode.Pair(key: text, keyNode: key, value: value)))
        }
        var pairs: [PlanNode.Pair] = []
        var mergedKeys: Set<String> = []
        for entry in entries {
            switch entry {
            case .pair(let pair):
                pairs.append(pair)
            case .merge(let extra):
                for pair in extra where seen[pair.key] == nil && !mergedKeys.contains(pair.key) {
                    mergedKeys.insert(pair.key)
                    pairs.append(pair)
                }
            }
        }
        return PlanNode(kind: .mapping(pairs), location: location(mapping.mark))
    }

    /// The pairs a merge key (`<<: *defaults` or `<<: [*a, *b]`) brings in; earlier maps win.
    private func merged(_ value: PlanNode, at location: SourceLocation) -> [PlanNode.Pair] {
        if let pairs = value.pairs { return pairs }
        if let items = value.items, items.allSatisfy({ $0.pairs != nil }) {
            return items.flatMap { $0.pairs ?? [] }
        }
        diagnostics.append(
            PlanDiagnostic(
                .error,
                "\"<<\" must be a map or a list of maps, got \(value.kindDescription)",
                at: location,
                hint: "write <<: *anchor to merge the keys of an anchored map"
            )
        )
        return []
    }
}
