import VolleyCore

/// The top level of a plan: name, base URL, defaults, variables, and the order sections are
/// read in (variables first, since other fields' messages depend on them; thresholds last,
/// since they name requests).
extension PlanReader {
    static let planKeys = [
        "name", "base_url", "defaults", "variables", "feeds", "setup", "teardown", "thresholds", "scenarios",
        "probes",
    ]

    func readPlan(_ root: PlanNode, defaultName: String) -> Plan? {
        guard let top = root.pairs else {
            error(
                "a plan must be a map of keys such as scenarios:, got \(root.kindDescription)",
                at: root.location,
                hint: "see docs/plan-format.md, or run volley init for an example"
            )
            return nil
        }
        checkKeys(top, allowed: Self.planKeys, in: "a plan")
        let variables = value(top, "variables").map(readVariables) ?? [:]
        let name = value(top, "name").flatMap { text($0, "name") } ?? defaultName
        let baseNode = value(top, "base_url")
        hasBaseURL = baseNode != nil
        let baseURL = baseNode.flatMap(readBaseURL)
        let defaults = value(top, "defaults").flatMap(readDefaults) ?? PlanDefaults()
        let feeds = value(top, "feeds").map(readFeeds) ?? []

        let setup = readStepSection(value(top, "setup"), "setup")
        references.setup = currentSteps
        let scenarios = readScenarios(top, planLocation: root.location)
        let teardown = readStepSection(value(top, "teardown"), "teardown")
        references.teardown = currentSteps
        let thresholds = value(top, "thresholds").map(readThresholds) ?? []
        let probes = value(top, "probes").map(readProbes) ?? []
        return Plan(
            name: name,
            baseURL: baseURL,
            defaults: defaults,
            variables: variables,
            feeds: feeds,
            setup: setup,
            teardown: teardown,
            scenarios: scenarios,
            thresholds: thresholds,
            probes: probes
        )
    }

    private func readStepSection(_ node: PlanNode?, _ key: String) -> [Step] {
        currentSteps = []
        guard let node else { return [] }
        return readSteps(node, "\"\(key)\"")
    }

    private func readBaseURL(_ node: PlanNode) -> String? {
        guard let url = text(node, "base_url") else { return nil }
        do {
            baseURLIsTLS = try TargetURL(parsing: url).isTLS
        } catch {
            report(error, at: node.location)
            return nil
        }
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    private func readVariables(_ node: PlanNode) -> [String: Template] {
        guard let pairs = map(node, "\"variables\"") else { return [:] }
        var variables: [String: Template] = [:]
        for pair in pairs where Self.isName(pair.key) && !Template.builtins.contains(pair.key) {
            references.variableNames.insert(pair.key)
        }
        for pair in pairs {
            guard Self.isName(pair.key), !Template.builtins.contains(pair.key) else {
                error(
                    "invalid variable name \"\(pair.key)\"",
                    at: pair.keyNode.location,
                    hint: Template.builtins.contains(pair.key)
                        ? "${\(pair.key)} is built in; choose another name"
                        : "names are letters, digits and _, e.g. todo_title"
                )
                continue
            }
            _ = takeUses()
            if let value = templateValue(pair.value, "variable \"\(pair.key)\"") {
                variables[pair.key] = value
            }
            references.variables.append((pair.key, takeUses()))
        }
        return variables
    }

    private static let defaultsKeys = [
        "headers", "timeout", "max_redirects", "cookies", "compression", "http", "http1_fallback",
    ]

    private func readDefaults(_ node: PlanNode) -> PlanDefaults? {
        guard let pairs = map(node, "\"defaults\"") else { return nil }
        checkKeys(pairs, allowed: Self.defaultsKeys, in: "defaults")
        let base = PlanDefaults()
        _ = takeUses()
        let headers = value(pairs, "headers").map(readHeaders) ?? []
        references.defaults = takeUses()
        let timeout = optional(pairs, "timeout", default: base.timeout) { duration($0, "timeout", positive: true) }
        let redirects = optional(pairs, "max_redirects", default: base.maxRedirects) {
            integer($0, "max_redirects", minimum: 0)
        }
        let cookies = optional(pairs, "cookies", default: base.cookies) { bool($0, "cookies") }
        let compression = optional(pairs, "compression", default: base.compression) { bool($0, "compression") }
        let http = optional(pairs, "http", default: base.http, readHTTP) ?? base.http
        defaultHTTP = http
        let fallback = optional(pairs, "http1_fallback", default: base.http1Fallback) { bool($0, "http1_fallback") }
        return PlanDefaults(
            headers: headers,
            timeout: timeout ?? base.timeout,
            maxRedirects: redirects ?? base.maxRedirects,
            cookies: cookies ?? base.cookies,
            compression: compression ?? base.compression,
            http: http,
            http1Fallback: fallback ?? base.http1Fallback
        )
    }

    /// Header names and template values, in file order.
    func readHeaders(_ node: PlanNode) -> [TemplatedHeader] {
        guard let pairs = map(node, "\"headers\"") else { return [] }
        var headers: [TemplatedHeader] = []
        for pair in pairs {
            guard Self.isToken(pair.key) else {
                error(
                    "invalid header name \"\(pair.key)\"",
                    at: pair.keyNode.location,
                    hint: "header names are letters, digits and - (no spaces or colons)"
                )
                continue
            }
            if let value = templateValue(pair.value, "header \"\(pair.key)\"") {
                // Literal text is checked now; values rendered during the run are checked
                // per request (a failed one counts as invalid_request).
                for case .literal(let text) in value.parts {
                    do {
                        try WireText.checkHeaderValue(text, name: pair.key)
                    } catch {
                        report(error, at: pair.value.location)
                    }
                }
                headers.append(TemplatedHeader(name: pair.key, value: value))
            }
        }
        return headers
    }

    /// An HTTP token (RFC 9110): header names and methods.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
                    || "!#$%&'*+-.^_`|~".unicodeScalars.contains($0)
            }
    }
}
