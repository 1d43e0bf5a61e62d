import VolleyCore
import Yams

/// Turns YAML text into `PlanNode`s with a source location on every value.
///
/// Yams stops at the first duplicate key. To still report every problem at once, the composer
/// tags the earlier occurrence (`!volleyduplicate1 key:`), which makes the keys distinct to
/// Yams, and parses again; the converter then reports each duplicate itself, and the columns
/// moved by the inserted tag are shifted back so locations match the file as written.
enum YAMLComposer {
    /// The most values a plan may expand to, aliases included: a guard against "billion
    /// laughs" documents, far above any real plan.
    static let maximumNodes = 200_000
    /// Deeper than any plan needs, and shallow enough for any thread's stack.
    static let maximumDepth = 128
    private static let duplicateTag = "!volleyduplicate"

    struct Edit {
        var line: Int
        var column: Int
        var length: Int
    }

    /// The root value, or nil with the diagnostics saying why (empty file, invalid YAML).
    static func compose(_ yaml: String, file: String) -> (root: PlanNode?, diagnostics: [PlanDiagnostic]) {
        var text = yaml
        var edits: [Edit] = []
        var root: Node?
        for attempt in 1...64 {
            do {
                root = try Yams.compose(yaml: text, .default, .default, .utf8)
                break
            } catch YamlError.duplicatedKeysInMapping(let names, let context) {
                let tag = "\(duplicateTag)\(attempt) "
                guard attempt < 64, let edited = insert(tag, into: text, at: context.mark) else {
                    let at = adjusted(line: context.mark.line, column: context.mark.column, edits: edits, file: file)
                    let list = names.map { "\"\($0)\"" }.joined(separator: ", ")
                    return (
                        nil,
                        [PlanDiagnostic(.error, "duplicate key \(list)", at: at, hint: "a map keeps one value per key")]
                    )
                }
                text = edited
                edits.append(Edit(line: context.mark.line, column: context.mark.column, length: tag.count))
            } catch {
                return (nil, [diagnostic(for: error, yaml: text, edits: edits, file: file)])
            }
        }
        guard let root else {
            let hint = "start from the example that `volley init` writes, or see docs/plan-format.md"
            return (
                nil,
                [
                    PlanDiagnostic(
                        .error,
                        "the plan is empty",
                        at: SourceLocation(file: file, line: 1, column: 1),
                        hint: hint
                    )
                ]
            )
        }
        let converter = NodeConverter(file: file, edits: edits)
        let node = converter.convert(root, depth: 0)
        return (converter.aborted ? nil : node, converter.diagnostics)
    }

    /// Inserts `tag` before the key at `mark`, or nil when that would not be valid YAML (the key
    /// already has a tag or is an alias): the caller then reports the duplicate alone.
    private static func insert(_ tag: String, into text: String, at mark: Mark) -> String? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        var scalars = Array(lines[mark.line - 1].unicodeScalars)
        let index = mark.column - 1
        guard index >= 0, index < scalars.count, !["!", "*"].contains(scalars[index]) else { return nil }
        scalars.insert(contentsOf: tag.unicodeScalars, at: index)
        var line = String.UnicodeScalarView()
        line.append(contentsOf: scalars)
        lines[mark.line - 1] = String(line)
        return lines.joined(separator: "\n")
    }

    /// The location in the file as written of a mark in the edited text.
    static func adjusted(line: Int, column: Int, edits: [Edit], file: String) -> SourceLocation {
        var column = column
        for edit in edits.reversed() where edit.line == line && column > edit.column {
            column -= edit.length
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    static func isDuplicateTag(_ tag: String) -> Bool { tag.hasPrefix(duplicateTag) }

    private static func diagnostic(for error: any Error, yaml: String, edits: [Edit], file: String) -> PlanDiagnostic {
        func at(_ mark: Mark) -> SourceLocation {
            adjusted(line: mark.line, column: mark.column, edits: edits, file: file)
        }
        guard let yamlError = error as? YamlError else {
            return PlanDiagnostic(.error, "invalid YAML: \(error)", at: nil)
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return described(problem: problem, context: context, at: at(mark), character: character(at: mark, in: yaml))
        case .reader(let problem, let offset, _, _):
            let location = offset.map { locationOf(characterOffset: $0, in: yaml, file: file) }
            return PlanDiagnostic(.error, "invalid YAML: \(problem)", at: location, hint: "a plan must be UTF-8 text")
        default:
            return PlanDiagnostic(.error, "invalid YAML: \(yamlError)", at: nil)
        }
    }

    private static func described(
        problem: String,
        context: YamlError.Context?,
        at location: SourceLocation,
        character: Character?
    ) -> PlanDiagnostic {
        if problem.hasPrefix("Maximum nesting level") {
            return PlanDiagnostic(
                .error,
                "the plan is nested too deeply",
                at: location,
                hint: "YAML values nest at most 1,000 levels"
            )
        }
        if problem.contains("found another document") {
            return PlanDiagnostic(
                .error,
                "the file holds more than one YAML document",
                at: location,
                hint: "a plan is one document: remove the \"---\" line"
            )
        }
        var hint: String?
        if character == "\t" {
            hint = "indent with spaces: YAML does not allow tabs for indentation"
        } else if problem.contains("undefined alias") {
            hint = "define the anchor (&name) before using it as *name"
        } else if let context, !context.text.isEmpty {
            hint = "\(context.text) that starts at line \(context.mark.line), column \(context.mark.column)"
        }
        return PlanDiagnostic(.error, "invalid YAML: \(problem)", at: location, hint: hint)
    }

    private static func character(at mark: Mark, in text: String) -> Character? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        let scalars = Array(lines[mark.line - 1].unicodeScalars)
        guard mark.column >= 1, mark.column <= scalars.count else { return nil }
        return Character(scalars[mark.column - 1])
    }

    static func locationOf(characterOffset offset: Int, in text: String, file: String) -> SourceLocation {
        var line = 1
        var column = 1
        for (i, c) in text.enumerated() {
            if i >= offset { break }
            if c == "\n" || c == "\r\n" {
                line += 1
                column = 1
            } else {
                column += c.unicodeScalars.count
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }
}
