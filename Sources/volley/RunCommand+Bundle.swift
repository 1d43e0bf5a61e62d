import Foundation
import VolleyCore
import VolleyEngine
import VolleyPlan

extension RunCommand {
    /// What the engines are asked beyond the load: to keep each second's histogram when a
    /// bundle will be written.
    func engineOptions() -> EngineOptions {
        EngineOptions(keepIntervals: bundle != nil)
    }

    /// The fingerprint that makes segments parts of one run (``RunKey``): the plan's text or
    /// the URL run's load flags, the `-e` variables (a secret's value left out: the key is
    /// printed and stored), and the segment count.
    func runKey(segmentCount: Int) -> String {
        var parts = ["segments=\(segmentCount)"]
        if Self.isPlanPath(url) {
            parts.append("plan")
            parts.append((try? String(contentsOfFile: url, encoding: .utf8)) ?? url)
        } else {
            parts.append("url")
            parts += [url, method, connections.map(String.init) ?? "-", requests.map(String.init) ?? "-"]
            parts += [duration ?? "-", rate ?? "-", stages ?? "-", String(maxConnections), String(follow)]
            parts += headers.map { $0.split(separator: ":", maxSplits: 1).first.map(String.init) ?? $0 }
            parts.append(String(body?.utf8.count ?? -1))
            parts.append(bodyFile ?? "-")
        }
        for assignment in environment.sorted() {
            let name = assignment.split(separator: "=", maxSplits: 1).first.map(String.init) ?? assignment
            parts.append(Redaction.isSecretVariable(name) ? "\(name)=(secret)" : assignment)
        }
        return RunKey.make(parts)
    }

    /// The segment's result bundle, as `volley merge` reads it.
    func makeBundle(_ outcome: Outcome, clockOffsetNanos: Int64 = 0, clockRTTNanos: Int64? = nil) throws -> ResultBundle
    {
        guard let results = outcome.results else {
            throw CLIError(
                message: "the run ended before it measured anything; no bundle was written",
                hint: nil,
                code: .failure
            )
        }
        let segment = try segmentOfThisRun()
        return ResultBundle(
            runKey: runKey(segmentCount: segment.count),
            kind: outcome.kind,
            segment: segment,
            startedAtUnixNanos: results.startedAtUnixNanos,
            clockOffsetNanos: clockOffsetNanos,
            clockRTTNanos: clockRTTNanos,
            summary: outcome.summary,
            thresholds: outcome.thresholds,
            overall: results.overall,
            byName: results.byName,
            groups: results.groups,
            intervals: results.intervals
        )
    }

    /// `--bundle FILE`: written before the summary is printed, so a threshold's exit code or a
    /// full disk at the history cannot lose it.
    func writeBundle(_ outcome: Outcome, to path: String) throws {
        let data = try makeBundle(outcome).encoded()
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CLIError(
                message: "cannot write the bundle to \(path): \(error.localizedDescription)",
                hint: "the run's summary follows; check the folder and the free space",
                code: .failure
            )
        }
        Terminal.writeError("volley: bundle written to \(path) (volley merge it with the other segments')\n")
    }

    /// The segment this process runs (`--segment`, or the Kubernetes index), whole if none.
    func segmentOfThisRun() throws -> ExecutionSegment {
        if let segment { return try Self.naming("--segment") { try ExecutionSegment(parsing: segment) } }
        return try ExecutionSegment.fromEnvironment(ProcessInfo.processInfo.environment) ?? .whole
    }
}
