import Foundation
import VolleyCore

/// One request from a samples file, as the report draws it.
public struct SamplePoint: Sendable, Equatable {
    public var t: Double
    public var latencyMs: Double
    public var failed: Bool
}

/// Reads a `--out samples.ndjson` file for the report's scatter of individual requests
/// ("response times vs time into test"): streamed in 1 MiB chunks, and reservoir-sampled to
/// at most `limit` points so that a run of ten million requests still draws in a browser.
public enum SampleScatter {
    public static func load(path: String, limit: Int = 4_000, seed: UInt64 = 1) -> [SamplePoint]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var reservoir: [SamplePoint] = []
        reservoir.reserveCapacity(limit)
        var seen = 0
        var random = SplitMix64(seed: seed)
        var pending = Data()
        func take(_ line: Data.SubSequence) {
            guard let point = parse(line) else { return }
            seen += 1
            if reservoir.count < limit {
                reservoir.append(point)
            } else {
                let j = Int(random.next() % UInt64(seen))
                if j < limit { reservoir[j] = point }
            }
        }
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            pending.append(chunk)
            var start = pending.startIndex
            while let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                take(pending[start..<end])
                start = end + 1
            }
            pending = Data(pending[start...])
        }
        if !pending.isEmpty { take(pending[...]) }
        return reservoir.sorted { $0.t < $1.t }
    }

    /// Reads `t`, `latency_ms` and whether `error` is present from one sample line.
    static func parse(_ line: Data.SubSequence) -> SamplePoint? {
        guard let text = String(data: Data(line), encoding: .utf8) else { return nil }
        func number(_ key: String) -> Double? {
            guard let range = text.range(of: "\"\(key)\":") else { return nil }
            let rest = text[range.upperBound...]
            let digits = rest.prefix { $0.isNumber || $0 == "." || $0 == "-" || $0 == "e" }
            return Double(digits)
        }
        guard let t = number("t"), let latency = number("latency_ms") else { return nil }
        let status = number("status") ?? 0
        return SamplePoint(t: t, latencyMs: latency, failed: text.contains("\"error\":") || status >= 400)
    }
}
