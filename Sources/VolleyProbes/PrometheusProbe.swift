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

/// Scrapes a Prometheus endpoint once a second while a run goes on, on the run's clock, so
/// that the server's side (pool in use, queue depth, …) lines up with the load's timeline.
public final class PrometheusProbe: @unchecked Sendable {
    // Safety: `state` is only touched under `lock`.
    public let url: URL
    /// The URL without user or password, for output, history and reports.
    public let displayName: String
    private let lock = NSLock()
    private var series: [String: [[Double]]] = [:]
    private var failed = 0
    private var task: Task<Void, Never>?
    private let session: URLSession

    public init(url: URL) {
        self.url = url
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        components?.user = nil
        components?.password = nil
        displayName = components?.string ?? url.absoluteString
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 2
        session = URLSession(configuration: configuration)
    }

    /// `scheme://user:password@host…` → `scheme://***@host…`: credentials never reach output.
    public static func redact(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else {
            return text
        }
        let userinfo = text[scheme.upperBound..<at]
        guard !userinfo.contains("/") else { return text }
        return String(text[..<scheme.upperBound]) + "***" + String(text[at...])
    }

    /// One scrape now: the values, or a clear error for the start-up check.
    public func scrape() async throws -> [String: Double] {
        let (data, response) = try await session.data(from: url)
        guard let http = response as? HTTPURLResponse else { throw ProbeError("\(displayName): not an HTTP answer") }
        guard http.statusCode == 200 else { throw ProbeError("\(displayName) answered HTTP \(http.statusCode)") }
        return PrometheusText.parse(String(decoding: data, as: UTF8.self))
    }

    /// Samples every `interval` from now; `t` counts from `start`.
    public func start(at start: ContinuousClock.Instant, interval: Duration = .seconds(1)) {
        task = Task { [weak self] in
            var next = start
            while !Task.isCancelled {
                guard let self else { return }
                let values = try? await self.scrape()
                let t = (ContinuousClock.now - start).components
                let seconds = Double(t.seconds) + Double(t.attoseconds) / 1e18
                self.lock.withLock {
                    if let values {
                        for (key, value) in values where value.isFinite {
                            self.series[key, default: []].append([seconds, value])
                        }
                    } else {
                        self.failed += 1
                    }
                }
                next = next + interval
                try? await Task.sleep(until: next, clock: .continuous)
            }
        }
    }

    /// Stops sampling and returns what was collected.
    public func stop() async -> ProbeResult {
        task?.cancel()
        await task?.value
        return lock.withLock { ProbeResult(probe: displayName, series: series, failedScrapes: failed) }
    }
}

public struct ProbeError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A few lines per probe for the terminal summary: the series that moved, by how much.
public enum ProbeSummary {
    public static func lines(_ result: ProbeResult, limit: Int = 10) -> [String] {
        var rows: [(key: String, min: Double, max: Double, last: Double)] = []
        for (key, points) in result.series {
            let values = points.map { $0[1] }
            guard let lo = values.min(), let hi = values.max(), let last = values.last else { continue }
            if key.hasSuffix("_bucket") || key.contains("_bucket{") { continue }
            rows.append((key, lo, hi, last))
        }
        // Series that moved first (the bottleneck's gauges), then the rest by name.
        rows.sort { ($0.max - $0.min > 0 ? 0 : 1, $0.key) < ($1.max - $1.min > 0 ? 0 : 1, $1.key) }
        var out = [
            "Probe \(result.probe): \(result.series.count) series"
                + (result.failedScrapes > 0 ? ", \(result.failedScrapes) scrapes failed" : "")
        ]
        for row in rows.prefix(limit) {
            out.append("  \(row.key)  min \(format(row.min))  max \(format(row.max))  last \(format(row.last))")
        }
        if rows.count > limit { out.append("  … \(rows.count - limit) more series in the JSON summary") }
        return out
    }

    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%.4g", x)
    }
}
