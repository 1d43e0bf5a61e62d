import Foundation
import VolleyCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The Prometheus text exposition format, read leniently: `name{labels} value [timestamp]`
/// lines, comments skipped, `+Inf`/`NaN` kept as such.
public enum PrometheusText {
    public static func parse(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            // The value follows the name and its optional {labels}; labels may hold spaces.
            let nameEnd: String.Index
            if let close = line.lastIndex(of: "}") {
                nameEnd = line.index(after: close)
            } else if let space = line.firstIndex(of: " ") {
                nameEnd = space
            } else {
                continue
            }
            let key = String(line[..<nameEnd])
            let rest = line[nameEnd...].split(separator: " ")
            guard let first = rest.first else { continue }
            switch first {
            case "+Inf", "Inf": out[key] = .infinity
            case "-Inf": out[key] = -.infinity
            case "NaN": out[key] = .nan
            default: if let v = Double(first) { out[key] = v }
            }
        }
        return out
    }
}

/// Scrapes a Prometheus endpoint once a second while a run goes on, so that the server's
/// side (pool in use, queue depth, …) lines up with the load's timeline. Every series is kept
/// as scraped: counters stay counters (their names end in `_total`), which is what a
/// Prometheus user expects to read.
public final class PrometheusProbe: ProbeSource, @unchecked Sendable {
    // Safety: immutable after init; URLSession is thread-safe.
    public let url: URL
    public let kind = "prometheus"
    /// The URL without user or password, for output, history and reports.
    public let displayName: String
    private let session: URLSession

    /// Series kept from each scrape (empty: all).
    public let keep: [SeriesPattern]

    public init(url: URL, keep: [String] = []) {
        self.url = url
        self.keep = keep.map(SeriesPattern.init)
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        components?.user = nil
        components?.password = nil
        displayName = components?.string ?? url.absoluteString
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 2
        session = URLSession(configuration: configuration)
    }

    /// `scheme://user:password@host…` → `scheme://***@host…`: credentials never reach output.
    public static func redact(_ text: String) -> String { ProbeFactory.redact(text) }

    /// One scrape now: the values, or a clear error for the start-up check.
    public func scrape() async throws -> [String: Double] {
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.uncancelledData(for: URLRequest(url: url))
        } catch {
            throw ProbeError("\(displayName) cannot be reached: \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else { throw ProbeError("\(displayName): not an HTTP answer") }
        guard http.statusCode == 200 else { throw ProbeError("\(displayName) answered HTTP \(http.statusCode)") }
        return PrometheusText.parse(String(decoding: data, as: UTF8.self))
    }

    public func check() async throws { _ = try await scrape() }

    public func sample(at t: Double) async throws -> [String: Double] {
        let values = try await scrape()
        guard !keep.isEmpty else { return values }
        return values.filter { name, _ in keep.contains { $0.matches(name) } }
    }
}

/// A few lines per probe for the terminal: the probe, its kind, then per series the minimum,
/// median and maximum over the loaded seconds (the series that moved first), then its notes.
/// `volley run` and `volley show` print the same lines, so a saved run reads as it was printed.
public enum ProbeSummary {
    /// `loaded`: the seconds the run carried load (`RunSummary.loadedSpan`); readings outside
    /// it (before the first request, after the drain) are left out unless there are no others.
    public static func lines(_ result: ProbeResult, loaded: ClosedRange<Double>? = nil, limit: Int = 20) -> [String] {
        var rows: [(key: String, min: Double, median: Double, max: Double)] = []
        for (key, points) in result.series {
            if key.hasSuffix("_bucket") || key.contains("_bucket{") { continue }
            let inside = points.filter { $0.count >= 2 && (loaded?.contains($0[0]) ?? true) }
            let values = (inside.isEmpty ? points : inside).compactMap { $0.count >= 2 ? $0[1] : nil }.sorted()
            guard let lo = values.first, let hi = values.last else { continue }
            let mid = values.count
            let median = mid % 2 == 1 ? values[mid / 2] : (values[mid / 2 - 1] + values[mid / 2]) / 2
            rows.append((key, lo, median, hi))
        }
        // Series that moved first (the bottleneck's gauges), then the rest by name.
        rows.sort { ($0.max - $0.min > 0 ? 0 : 1, $0.key) < ($1.max - $1.min > 0 ? 0 : 1, $1.key) }
        var out = [
            "Probe \(result.probe)\(result.kind.map { " (\($0))" } ?? ""): \(result.series.count) series"
                + (result.failedScrapes > 0 ? ", \(result.failedScrapes) scrapes failed" : "")
                + (loaded == nil ? "" : ", over the loaded seconds")
        ]
        for row in rows.prefix(limit) {
            out.append(
                "  \(row.key)  min \(format(row.min))  median \(format(row.median))  max \(format(row.max))"
            )
        }
        if rows.count > limit { out.append("  … \(rows.count - limit) more series in the JSON summary") }
        for note in result.notes ?? [] { out.append("  · " + note) }
        return out
    }

    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%.4g", x)
    }
}
