import Foundation
import VolleyCore
import VolleyEngine
import VolleyPlan

extension RunCommand {
    /// What the engines are asked beyond the load: to start with the other segments (the
    /// rendezvous's start, or `--start-at`), and to keep each second's histogram when a
    /// bundle will be written.
    func engineOptions(_ distributed: DistributedRun?) throws -> EngineOptions {
        if let distributed { return distributed.engineOptions() }
        guard let startAt else { return EngineOptions(keepIntervals: bundle != nil) }
        let at = try StartAt.parse(startAt)
        return EngineOptions(
            startGate: { variables in
                try await WallClock.sleep(until: at)
                return variables
            },
            keepIntervals: bundle != nil
        )
    }

    /// `--rendezvous HOST:PORT`: this process is one segment of a run coordinated by segment 0.
    func makeDistributed() throws -> DistributedRun? {
        guard let rendezvous else { return nil }
        if startAt != nil {
            throw InputError(
                "--start-at and --rendezvous both given",
                hint: "with --rendezvous segment 0 announces the start; --start-at is for runs without one"
            )
        }
        let segment = try segmentOfThisRun()
        let fromJob = try ExecutionSegment.fromEnvironment(ProcessInfo.processInfo.environment)
        guard self.segment != nil || fromJob != nil else {
            throw InputError(
                "--rendezvous needs the segment this process runs",
                hint: "add --segment 0/3 (or set JOB_COMPLETION_INDEX and VOLLEY_SEGMENTS)"
            )
        }
        let (host, port) = try Self.hostAndPort(rendezvous)
        let timeout = try Self.positiveDuration(barrierTimeout, flag: "--barrier-timeout")
        let key = runKey(segmentCount: segment.count)
        let config = RendezvousConfig(
            segment: segment,
            host: host,
            port: port,
            runKey: key + "/" + VolleyVersion.current,
            barrierTimeout: timeout
        )
        let localCopy = bundle
        return DistributedRun(config: config, collectTimeout: timeout, localCopy: localCopy) { outcome, session in
            try Self.makeBundle(
                outcome,
                runKey: key,
                segment: segment,
                clockOffsetNanos: -session.offsetNanoseconds,
                clockRTTNanos: session.rttNanoseconds
            )
        }
    }

    /// `HOST:PORT`, `[IPv6]:PORT`.
    static func hostAndPort(_ text: String) throws -> (String, Int) {
        let hint = "e.g. --rendezvous 127.0.0.1:7070, or volley-run-0.volley-run:7070 in Kubernetes"
        guard let colon = text.lastIndex(of: ":") else {
            throw InputError("--rendezvous \"\(text)\" has no port", hint: hint)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0.isNewline }),
            let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else {
            throw InputError("--rendezvous \"\(text)\" is not HOST:PORT", hint: hint)
        }
        return (host, port)
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
    static func makeBundle(
        _ outcome: Outcome,
        runKey: String,
        segment: ExecutionSegment,
        clockOffsetNanos: Int64 = 0,
        clockRTTNanos: Int64? = nil
    ) throws -> ResultBundle {
        guard let results = outcome.results else {
            throw CLIError(
                message: "the run ended before it measured anything; no bundle was written",
                hint: nil,
                code: .failure
            )
        }
        return ResultBundle(
            runKey: runKey,
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
        let segment = try segmentOfThisRun()
        let data = try Self.makeBundle(outcome, runKey: runKey(segmentCount: segment.count), segment: segment).encoded()
        try Self.write(data, to: path)
    }

    /// Writes a bundle's bytes; a failure says the summary follows.
    static func write(_ data: Data, to path: String) throws {
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

extension RunCommand {
    /// Makes the job one segment of a distributed run when asked: its start, its options,
    /// and probes on segment 0 only (one set of server-side series for the whole run).
    func distribute(_ job: inout RunJob) throws {
        let distributed = try makeDistributed()
        job.distributed = distributed
        job.options = try engineOptions(distributed)
        if let distributed, !distributed.isSegment0 {
            job.probing = try ProbeOptions.parse([])
            job.runsProbes = false
        }
    }
}
