/// Short forms for building plans in Swift, mirroring the YAML (`request: GET /x`,
/// `think: 10s`, `check: {status: 201}`), so a plan reads the same in both.
extension Step {
    /// A request step; `url` is a path joined to the plan's base URL, or a full URL.
    public static func request(
        _ method: String,
        _ url: Template,
        name: String? = nil,
        headers: [TemplatedHeader] = [],
        json: JSONTemplate? = nil,
        checks: [Check] = [],
        captures: [Capture] = []
    ) -> Step {
        .request(
            RequestStep(
                name: name,
                method: method,
                url: url,
                headers: headers,
                body: json.map { .json($0) },
                checks: checks,
                captures: captures
            )
        )
    }

    public static func get(_ url: Template, name: String? = nil, checks: [Check] = [], captures: [Capture] = []) -> Step
    {
        request("GET", url, name: name, checks: checks, captures: captures)
    }

    public static func post(
        _ url: Template,
        name: String? = nil,
        json: JSONTemplate? = nil,
        checks: [Check] = [],
        captures: [Capture] = []
    ) -> Step {
        request("POST", url, name: name, json: json, checks: checks, captures: captures)
    }

    public static func delete(_ url: Template, name: String? = nil, checks: [Check] = []) -> Step {
        request("DELETE", url, name: name, checks: checks)
    }

    /// A fixed pause.
    public static func think(_ duration: Duration) -> Step {
        .think(ThinkTime(duration))
    }

    /// A pause drawn uniformly from `range`.
    public static func think(_ range: ClosedRange<Duration>) -> Step {
        .think(ThinkTime(minimum: range.lowerBound, maximum: range.upperBound))
    }
}

extension Check {
    public static func status(_ codes: Int...) -> Check { Check(.status(codes)) }
    public static func jsonPath(_ path: String, equals value: JSONTemplate) -> Check {
        Check(.jsonPathEquals(path: path, value: value))
    }
    public static func jsonPath(exists path: String) -> Check { Check(.jsonPathExists(path: path)) }
    public static func bodyContains(_ text: String) -> Check { Check(.bodyContains(text)) }
    public static func latency(below limit: Duration) -> Check { Check(.latencyBelow(limit)) }
}

extension Capture {
    /// `id: json $.id`
    public static func json(_ name: String, _ path: String) -> Capture { Capture(name: name, source: .jsonPath(path)) }
    /// `location: header Location`
    public static func header(_ name: String, _ header: String) -> Capture {
        Capture(name: name, source: .header(header))
    }
    /// `token: regex "token=(\w+)"`
    public static func regex(_ name: String, _ pattern: String, group: Int = 1) -> Capture {
        Capture(name: name, source: .regex(pattern, group: group))
    }
}

extension JSONTemplate: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral
{
    public init(stringLiteral value: String) { self = .string(Template(stringLiteral: value)) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(dictionaryLiteral elements: (String, JSONTemplate)...) {
        self = .object(elements.map { (key: $0.0, value: $0.1) })
    }
    public init(arrayLiteral elements: JSONTemplate...) { self = .array(elements) }
}
