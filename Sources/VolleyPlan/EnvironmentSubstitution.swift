import VolleyCore

/// Writes environment values into the templates of a plan when it is loaded, so the engine
/// only resolves what changes during the run (captures, plan variables, feeds, built-ins,
/// functions). Names that are plan variables or captures are left alone even when an
/// environment variable of the same name exists: the plan's own definition wins.
struct EnvironmentSubstitution {
    var environment: [String: String]
    /// Plan variables, captures and built-ins.
    var runtimeNames: Set<String>

    func apply(to plan: Plan) -> Plan {
        var plan = plan
        plan.defaults.headers = plan.defaults.headers.map(apply)
        plan.variables = plan.variables.mapValues(apply)
        plan.setup = plan.setup.map(apply)
        plan.teardown = plan.teardown.map(apply)
        for i in plan.scenarios.indices {
            plan.scenarios[i].steps = plan.scenarios[i].steps.map(apply)
        }
        return plan
    }

    func apply(_ template: Template) -> Template {
        template.substituting { runtimeNames.contains($0) ? nil : environment[$0] }
    }

    private func apply(_ header: TemplatedHeader) -> TemplatedHeader {
        TemplatedHeader(name: header.name, value: apply(header.value))
    }

    private func apply(_ step: Step) -> Step {
        switch step {
        case .think:
            return step
        case .group(let name, let steps, let location):
            return .group(name: name, steps: steps.map(apply), location: location)
        case .request(var request):
            request.url = apply(request.url)
            request.query = request.query.map { ($0.name, apply($0.value)) }
            request.headers = request.headers.map(apply)
            request.body = request.body.map(apply)
            request.checks = request.checks.map(apply)
            return .request(request)
        }
    }

    private func apply(_ body: RequestBody) -> RequestBody {
        switch body {
        case .json(let value): return .json(apply(value))
        case .form(let fields): return .form(fields.map(apply))
        case .raw(let text, let contentType): return .raw(apply(text), contentType: contentType)
        case .file: return body
        }
    }

    private func apply(_ check: Check) -> Check {
        guard case .jsonPathEquals(let path, let value) = check.condition else { return check }
        var out = check
        out.condition = .jsonPathEquals(path: path, value: apply(value))
        return out
    }

    private func apply(_ value: JSONTemplate) -> JSONTemplate {
        switch value {
        case .string(let template): return .string(apply(template))
        case .array(let items): return .array(items.map(apply))
        case .object(let fields): return .object(fields.map { ($0.key, apply($0.value)) })
        case .null, .bool, .number: return value
        }
    }
}
