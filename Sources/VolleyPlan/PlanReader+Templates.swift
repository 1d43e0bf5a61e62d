import VolleyCore

/// Text resolved when the plan is loaded, and the template it came from when there was one
/// (for messages such as `got "abc" (from ${VUS})`).
struct ResolvedText {
    var text: String
    var template: String?

    var origin: String { template.map { " (from \($0))" } ?? "" }
}

extension PlanReader {
    /// Character ranges of the `${...}` placeholders of `text`, in the order `Template`
    /// parses them (`$${` is a literal).
    static func placeholderSpans(_ text: String) -> [Range<Int>] {
        let chars = Array(text)
        var spans: [Range<Int>] = []
        var i = 0
        while i + 1 < chars.count {
            if chars[i] == "$" && chars[i + 1] == "$" && i + 2 < chars.count && chars[i + 2] == "{" {
                i += 3
            } else if chars[i] == "$" && chars[i + 1] == "{" {
                guard let close = chars[(i + 2)...].firstIndex(of: "}") else { break }
                spans.append(i..<(close + 1))
                i = close + 1
            } else {
                i += 1
            }
        }
        return spans
    }

    /// The location of character `offset` of the scalar `node`: exact on one-line and literal
    /// (`|`) scalars, the start of the value otherwise.
    func location(in node: PlanNode, offset: Int) -> SourceLocation {
        guard case .scalar(let text, let style) = node.kind else { return node.location }
        let prefix = String(text.prefix(offset))
        var result = node.location
        switch style {
        case .plain, .singleQuoted, .doubleQuoted:
            let start = node.location.column - 1 + (style == .plain ? 0 : 1)
            guard node.location.line - 1 < sourceLines.count, start >= 0 else { return node.location }
            let line = Array(sourceLines[node.location.line - 1].unicodeScalars)
            let written = Array(prefix.unicodeScalars)
            guard start + written.count <= line.count, Array(line[start..<(start + written.count)]) == written else {
                return node.location
            }
            result.column = start + written.count + 1
        case .literal:
            let lineBreaks = prefix.filter { $0 == "\n" }.count
            let lineIndex = node.location.line + lineBreaks
            guard lineIndex < sourceLines.count else { return node.location }
            let indent =
                sourceLines[node.location.line...].first { !$0.allSatisfy { $0 == " " } }?
                .prefix { $0 == " " }.count ?? 0
            let lastLine = prefix.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
            result.line = lineIndex + 1
            result.column = indent + lastLine.unicodeScalars.count + 1
        case .folded:
            return node.location
        }
        return result
    }

    /// Parses `text`, found at character `offset` of the scalar `node`, as a template; syntax
    /// errors are reported at their column. Placeholders are recorded as runtime uses.
    func template(_ text: String, in node: PlanNode, offset: Int = 0) -> Template? {
        let parsed: Template
        do {
            parsed = try Template(parsing: text)
        } catch {
            self.error(error.message, at: location(in: node, offset: offset + error.offset), hint: error.hint)
            return nil
        }
        let chars = Array(text)
        let placeholders = parsed.parts.filter {
            if case .literal = $0 { return false }
            return true
        }
        for (part, span) in zip(placeholders, Self.placeholderSpans(text)) {
            switch part {
            case .variable, .field:
                let written = String(chars[span])
                record(
                    TemplateUse(
                        part: part,
                        written: written,
                        location: location(in: node, offset: offset + span.lowerBound)
                    )
                )
            case .literal, .function:
                break
            }
        }
        return parsed
    }

    /// A template value of a map entry (header, query, form field): any scalar; a number or
    /// `true` is its text.
    func templateValue(_ node: PlanNode, _ subject: String) -> Template? {
        guard case .scalar(let text, _) = node.kind else {
            error("\(subject) must be text, got \(node.kindDescription)", at: node.location)
            return nil
        }
        return template(node.isNull ? "" : text, in: node)
    }

    /// Resolves `text` (at `offset` of `node`) for a field read when the plan is loaded:
    /// environment variables and their defaults are substituted; anything only known during
    /// the run (captures, plan variables, feeds, functions) is an error.
    func resolveNow(_ text: String, in node: PlanNode, offset: Int = 0, subject: String) -> ResolvedText? {
        let parsed: Template
        do {
            parsed = try Template(parsing: text)
        } catch {
            self.error(error.message, at: location(in: node, offset: offset + error.offset), hint: error.hint)
            return nil
        }
        if parsed.isLiteral { return ResolvedText(text: parsed.parts.map(Self.literalText).joined(), template: nil) }
        let chars = Array(text)
        let spans = Self.placeholderSpans(text)
        var out = ""
        var ok = true
        var index = 0
        for part in parsed.parts {
            if case .literal(let s) = part {
                out += s
                continue
            }
            let span = index < spans.count ? spans[index] : 0..<0
            index += 1
            let written = String(chars[span])
            let at = location(in: node, offset: offset + span.lowerBound)
            if case .variable(let name, let fallback) = part, !Template.builtins.contains(name) {
                if let value = environment[name] {
                    out += value
                    continue
                }
                if !references.variableNames.contains(name) {
                    if let fallback {
                        out += fallback
                    } else {
                        ok = false
                        error(
                            "\(written) is not set",
                            at: at,
                            hint: "pass -e \(name)=value, or give a default: ${\(name):-value}"
                        )
                    }
                    continue
                }
            }
            ok = false
            error(
                "\(subject) can only use environment variables, not \(written)",
                at: at,
                hint: "it is read when the plan is loaded, before any request is sent"
            )
        }
        return ok ? ResolvedText(text: out, template: text) : nil
    }

    private static func literalText(_ part: Template.Part) -> String {
        if case .literal(let s) = part { return s }
        return ""
    }
}
