import VolleyCore

/// Steps: requests, think times and groups.
extension PlanReader {
    static let stepKinds = ["request", "think", "group"]
    static let requestKeys = [
        "request", "name", "headers", "query", "json", "form", "body", "body_file", "content_type", "timeout", "check",
        "capture", "http",
    ]
    static let methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]

    /// Reads a list of steps; request steps add their references to `currentSteps`.
    func readSteps(_ node: PlanNode, _ subject: String) -> [Step] {
        guard let items = list(node, subject) else { return [] }
        return items.compactMap(readStep)
    }

    private func readStep(_ node: PlanNode) -> Step? {
        guard let pairs = node.pairs else {
            error(
                "a step must be a map, got \(node.kindDescription)",
                at: node.location,
                hint: "e.g. - request: GET /api/v1/todos"
            )
            return nil
        }
        let kinds = pairs.filter { Self.stepKinds.contains($0.key) }
        guard let kind = kinds.first else {
            if let typo = pairs.first(where: { Suggestion.didYouMean($0.key, among: Self.stepKinds) != nil }) {
                unknownKey(typo, among: Self.stepKinds, context: "a step")
            } else {
                error(
                    "a step needs \"request\", \"think\" or \"group\"",
                    at: node.location,
                    hint: "e.g. - request: GET /api/v1/todos, - think: 5s, or - group: name with steps:"
                )
            }
            return nil
        }
        if kinds.count > 1 {
            error(
                "a step is one of \"request\", \"think\" or \"group\", this one has both \"\(kind.key)\" and \"\(kinds[1].key)\"",
                at: kinds[1].keyNode.location,
                hint: "start a new step with \"- \""
            )
            return nil
        }
        switch kind.key {
        case "think":
            checkKeys(pairs, allowed: ["think"], in: "a think step")
            return readThink(kind.value, at: node.location).map(Step.think)
        case "group":
            checkKeys(pairs, allowed: ["group", "steps"], in: "a group")
            let name = text(kind.value, "group")
            guard let stepsNode = value(pairs, "steps") else {
                error("group \"\(name ?? "")\" has no steps", at: kind.keyNode.location, hint: "add steps: under it")
                return nil
            }
            let steps = readSteps(stepsNode, "\"steps\"")
            if stepsNode.isNull || stepsNode.items?.isEmpty == true {
                error("group \"\(name ?? "")\" has no steps", at: stepsNode.location, hint: "add at least one step")
            }
            guard let name else { return nil }
            return .group(name: name, steps: steps, location: node.location)
        default:
            checkKeys(pairs, allowed: Self.requestKeys, in: "a request step")
            _ = takeUses()
            _ = takeCaptureDefinitions()
            let request = readRequest(pairs, request: kind.value, at: node.location)
            currentSteps.append(StepReferences(uses: takeUses(), captures: takeCaptureDefinitions()))
            if let request { requestNames.append(request.name) }
            return request.map(Step.request)
        }
    }

    /// `think: 10s` or a uniform range `think: 5s..10s`.
    private func readThink(_ node: PlanNode, at location: SourceLocation) -> ThinkTime? {
        guard let resolved = resolvedScalar(node, "\"think\"", expected: "a duration such as 5s or 5s..10s") else {
            return nil
        }
        let bounds = resolved.text.components(separatedBy: "..")
        guard bounds.count <= 2 else {
            error(
                "invalid think time \"\(resolved.text)\"",
                at: node.location,
                hint: "write 5s, or a range such as 5s..10s"
            )
            return nil
        }
        let parsed = bounds.map {
            duration(
                ResolvedText(text: $0, template: resolved.template),
                at: node.location,
                key: "think",
                positive: false
            )
        }
        guard let low = parsed[0], let high = parsed[parsed.count - 1] else { return nil }
        guard low <= high else {
            error(
                "think range \"\(resolved.text)\" goes backwards",
                at: node.location,
                hint: "write MIN..MAX, e.g. 5s..10s"
            )
            return nil
        }
        return ThinkTime(minimum: low, maximum: high, location: location)
    }

    private func readRequest(
        _ pairs: [PlanNode.Pair],
        request node: PlanNode,
        at location: SourceLocation
    ) -> RequestStep? {
        let line = readRequestLine(node)
        let name = value(pairs, "name").flatMap { text($0, "name") }
        let query = value(pairs, "query").map(readQuery) ?? []
        let headers = value(pairs, "headers").map(readHeaders) ?? []
        let body = readBody(pairs)
        let timeout = value(pairs, "timeout").flatMap { duration($0, "timeout", positive: true) }
        let checks = value(pairs, "check").map(readChecks) ?? []
        let captures = value(pairs, "capture").map(readCaptures) ?? []
        let httpNode = value(pairs, "http")
        let http = httpNode.flatMap(readHTTP)
        guard let (method, url) = line else { return nil }
        if httpNode == nil || http != nil {
            checkHTTP(http ?? defaultHTTP, url: url, fromDefaults: http == nil, at: httpNode?.location ?? node.location)
        }
        return RequestStep(
            name: name,
            method: method,
            url: url,
            query: query,
            headers: headers,
            body: body,
            timeout: timeout,
            checks: checks,
            captures: captures,
            http: http,
            location: location
        )
    }

    /// `GET /api/v1/todos/${id}`: the method (substituted now) and the URL (a template).
    private func readRequestLine(_ node: PlanNode) -> (String, Template)? {
        guard let line = node.text else {
            error(
                "\"request\" must be a method and a URL, got \(node.kindDescription)",
                at: node.location,
                hint: "e.g. request: GET /api/v1/todos"
            )
            return nil
        }
        let chars = Array(line)
        let start = chars.firstIndex { !$0.isWhitespace } ?? chars.count
        let end = chars[start...].firstIndex { $0.isWhitespace } ?? chars.count
        let urlStart = chars[end...].firstIndex { !$0.isWhitespace } ?? chars.count
        let first = String(chars[start..<end])
        guard urlStart < chars.count else {
            error("request \"\(line)\" has no URL", at: node.location, hint: "write METHOD URL, e.g. GET /api/v1/todos")
            return nil
        }
        let urlText = String(chars[urlStart...]).trimmingSpaces()
        guard let method = resolveNow(first, in: node, offset: start, subject: "the method")?.text else { return nil }
        let methodAt = location(in: node, offset: start)
        guard Self.methods.contains(method) else {
            error(
                "invalid method \"\(method)\"",
                at: methodAt,
                hint: Suggestion.didYouMean(method, among: Self.methods).map { "did you mean \"\($0)\"?" }
                    ?? "methods are \(Self.methods.joined(separator: ", "))"
            )
            return nil
        }
        guard let url = template(urlText, in: node, offset: urlStart) else { return nil }
        checkURL(url, in: node, offset: urlStart)
        return (method, url)
    }

    /// A URL must be a path (with a base URL) or a full http(s) URL, without spaces or
    /// control bytes; a literal one must be sendable as written (a port in 1-65535, a host,
    /// valid %-escapes), or it would fail at every iteration of the run.
    private func checkURL(_ url: Template, in node: PlanNode, offset: Int) {
        let at = location(in: node, offset: offset)
        do {
            try WireText.refuseControlBytes(inURL: url.source)
        } catch {
            report(error, at: at)
            return
        }
        if url.source.contains(where: \.isWhitespace) {
            error("request URL \"\(url.source)\" contains a space", at: at, hint: "encode spaces as %20")
            return
        }
        let known = url.substituting { environment[$0] }
        guard case .literal(let head)? = known.parts.first else { return }
        let lower = head.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            // Fully known now (literal, or environment only): parsed as the run will parse it.
            if known.parts.count == 1 {
                do {
                    _ = try TargetURL(parsing: head)
                } catch {
                    report(error, at: at)
                }
            }
            return
        }
        if known.parts.count == 1 {
            do {
                _ = try WireText.requestTarget(head)
            } catch {
                report(error, at: at)
                return
            }
        }
        guard head.hasPrefix("/") else {
            error(
                "request URL \"\(url.source)\" must start with / or http(s)://",
                at: at,
                hint: "write a path such as /api/v1/todos (joined to base_url) or a full URL"
            )
            return
        }
        if !hasBaseURL {
            error(
                "request path \"\(url.source)\" needs a base_url",
                at: at,
                hint: "add base_url: http://host:port at the top of the plan, or write a full URL"
            )
        }
    }

    private func readQuery(_ node: PlanNode) -> [(name: String, value: Template)] {
        guard let pairs = map(node, "\"query\"") else { return [] }
        var query: [(name: String, value: Template)] = []
        for pair in pairs {
            for item in oneOrMany(pair.value) {
                if let value = templateValue(item, "query parameter \"\(pair.key)\"") {
                    query.append((pair.key, value))
                }
            }
        }
        return query
    }
}
