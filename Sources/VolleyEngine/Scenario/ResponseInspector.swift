import Foundation
import VolleyCore

/// Compiled JSON paths and regular expressions, per event loop: compiling a regex for
/// every response cost more than the request itself.
final class PatternCache {
    private var paths: [String: JSONPath?] = [:]
    private var regexes: [String: Regex<AnyRegexOutput>?] = [:]

    func path(_ text: String) -> JSONPath? {
        if let cached = paths[text] { return cached }
        let parsed = try? JSONPath(parsing: text)
        paths[text] = .some(parsed)
        return parsed
    }

    func regex(_ pattern: String) -> Regex<AnyRegexOutput>? {
        if let cached = regexes[pattern] { return cached }
        let compiled = try? Regex(pattern)
        regexes[pattern] = .some(compiled)
        return compiled
    }
}

/// Evaluates checks and captures on a response. Pure: the tests feed it responses directly.
struct ResponseInspector {
    let response: VUResponse
    let latencyNanos: UInt64
    let patterns: PatternCache

    /// The most a decoded body may hold: the plan's body limit (``PlanEngine`` keeps the first
    /// 1 MiB of each body), so a decompression bomb costs no more than a plain body would.
    static let decodedLimit = 1 << 20

    init(response: VUResponse, latencyNanos: UInt64, patterns: PatternCache = PatternCache()) {
        self.response = response
        self.latencyNanos = latencyNanos
        self.patterns = patterns
    }

    private var bodyString: String?
    /// The body after its `Content-Encoding` was undone; nil until a check or a capture
    /// reads the body, so a step without body checks pays nothing.
    private(set) var decoding: ContentDecoder.Outcome?

    /// The body as checks and captures read it: decoded (once) when the response says it
    /// is compressed; nil when it could not be decoded, so whatever reads it fails.
    mutating func body() -> [UInt8]? {
        if decoding == nil {
            decoding = ContentDecoder.decode(
                response.body,
                contentEncoding: header("content-encoding"),
                limit: Self.decodedLimit,
                rawTruncated: response.body.count >= Self.decodedLimit
            )
        }
        switch decoding {
        case .decoded(let bytes, _): return bytes
        case .failed: return nil
        case .identity, .none: return response.body
        }
    }

    /// The body as text, decoded once however many checks and captures read it.
    mutating func bodyText() -> String? {
        if let bodyString { return bodyString }
        guard let bytes = body() else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        bodyString = text
        return text
    }

    /// Why the body could not be read (``ContentDecoder``), once something tried to read it.
    var decodeFailure: String? {
        if case .failed(let message) = decoding { return message }
        return nil
    }

    /// The decoded body's size, when the body was compressed and something read it.
    var decodedByteCount: Int? {
        if case .decoded(let bytes, _) = decoding { return bytes.count }
        return nil
    }

    func header(_ name: String) -> String? {
        response.headers.first { $0.name.equalsIgnoringASCIICase(name) }?.value
    }

    /// Whether `check` passes; `context` renders templated expectations.
    mutating func passes(_ check: Check, context: VUContext) -> Bool {
        switch check.condition {
        case .status(let codes):
            return codes.contains(response.status)
        case .headerEquals(let name, let value):
            return header(name) == value
        case .headerContains(let name, let value):
            return header(name)?.contains(value) ?? false
        case .headerExists(let name):
            return header(name) != nil
        case .bodyContains(let text):
            return bodyText()?.contains(text) ?? false
        case .bodyMatches(let pattern):
            guard let regex = patterns.regex(pattern), let text = bodyText() else { return false }
            return text.contains(regex)
        case .jsonPathExists(let path):
            guard let p = patterns.path(path), let body = body() else { return false }
            return JSONScanner.find(p, in: body) != nil
        case .jsonPathEquals(let path, let expected):
            guard let p = patterns.path(path), let body = body(), let actual = JSONScanner.find(p, in: body) else {
                return false
            }
            return Self.matches(actual, expected, context: context)
        case .latencyBelow(let limit):
            return Double(latencyNanos) < limit.seconds * 1e9
        }
    }

    static func matches(_ actual: JSONScanner.Value, _ expected: JSONTemplate, context: VUContext) -> Bool {
        switch expected {
        case .null:
            return actual == .null
        case .bool(let b):
            return actual.text == (b ? "true" : "false")
        case .number(let n):
            if case .number(let raw) = actual, let i = Int64(raw) { return Double(i) == n }
            guard let s = actual.text, let d = Double(s) else { return false }
            return d == n
        case .string(let t):
            guard case .success(let want) = context.render(t) else { return false }
            return actual.text == want
        case .array, .object:
            // Rare: compare both sides in one canonical form (sorted keys).
            guard case .composite(let text) = actual, case .success(let want) = context.renderJSON(expected),
                let got = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]),
                let wanted = try? JSONSerialization.jsonObject(with: Data(want.utf8), options: [.fragmentsAllowed])
            else { return false }
            return JSONPath.text(of: got) == JSONPath.text(of: wanted)
        }
    }

    /// The captured text, or nil when the source found nothing.
    mutating func capture(_ capture: Capture) -> String? {
        switch capture.source {
        case .header(let name):
            return header(name)
        case .jsonPath(let path):
            guard let p = patterns.path(path), let body = body() else { return nil }
            return JSONScanner.find(p, in: body)?.text
        case .regex(let pattern, let group):
            guard let regex = patterns.regex(pattern), let match = bodyText()?.firstMatch(of: regex),
                group < match.output.count, let sub = match.output[group].substring
            else { return nil }
            return String(sub)
        }
    }
}
