extension Plan {
    /// The literal credentials the plan's text holds: the values written in headers whose
    /// names say they carry one (see ``Redaction/isSecretHeader(_:)``) and of variables whose
    /// names do (``Redaction/isSecretVariable(_:)``). The history keeps the plan's text
    /// (`volley show --plan`) with these replaced; `${VARIABLE}` references are not secrets.
    public var literalSecrets: Set<String> {
        var found: Set<String> = []
        func add(_ template: Template, isAuthorization: Bool) {
            for case .literal(let text) in template.parts {
                var words = text.split(separator: " ").map(String.init)
                // `Bearer abc`: the scheme names the kind of credential, the rest is it.
                if isAuthorization, words.count > 1 { words.removeFirst() }
                for word in words where word.count >= 4 { found.insert(word) }
            }
        }
        func visit(_ headers: [TemplatedHeader]) {
            for h in headers where Redaction.isSecretHeader(h.name) {
                let lower = h.name.lowercased()
                add(h.value, isAuthorization: lower == "authorization" || lower == "proxy-authorization")
            }
        }
        func visit(_ steps: [Step]) {
            for step in steps {
                switch step {
                case .request(let r): visit(r.headers)
                case .group(_, let inner, _): visit(inner)
                case .think: break
                }
            }
        }
        visit(defaults.headers)
        visit(setup)
        visit(teardown)
        for s in scenarios { visit(s.steps) }
        for (name, value) in variables where Redaction.isSecretVariable(name) {
            add(value, isAuthorization: false)
        }
        return found
    }
}

extension Redaction {
    /// `text` with every occurrence of `secrets` replaced by ``mask``, longest first (so a
    /// secret that contains another is replaced whole).
    public static func replacing(_ secrets: Set<String>, in text: String) -> String {
        var out = text
        for secret in secrets.sorted(by: { $0.count > $1.count }) where !secret.isEmpty {
            out = out.replacing(secret, with: mask)
        }
        return out
    }
}
