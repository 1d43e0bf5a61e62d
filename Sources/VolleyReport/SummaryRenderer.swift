import VolleyCore

/// The human summary printed at the end of a run.
///
/// Shows, in order, what was run, whether the accounting adds up, throughput, the latency
/// distribution (and for the open model the service time and how well the schedule was
/// kept), responses by status, failures by class, and the slowest requests with the ids
/// to look up in the server's logs.
public struct SummaryRenderer: Sendable {
    public var style: Style

    public init(style: Style = Style(enabled: false)) {
        self.style = style
    }

    public func render(_ s: RunSummary) -> String {
        var out: [String] = []
        var model = s.model == "open" ? "open model" : (s.model == "plan" ? "plan \(s.plan ?? "")" : "closed model")
        if let c = s.connections { model += ", \(Fmt.int(c)) connections" }
        if let r = s.rate { model += ", " + Fmt.fixed(r, r < 10 ? 2 : 0) + " req/s target" }
        if let m = s.maxConnections { model += ", ≤\(Fmt.int(m)) connections" }
        model += ", \(s.threads) thread\(s.threads == 1 ? "" : "s")"
        let segment = s.segment.map { "  ·  segment \($0) (this machine's share)" } ?? ""
        model += segment
        if s.model == "plan" {
            out.append(
                style.bold("plan \(s.plan ?? "")")
                    + style.dim("  ·  \(s.target)  ·  \(s.threads) thread\(s.threads == 1 ? "" : "s")" + segment)
            )
        } else {
            out.append(style.bold("\(s.method) \(s.target)") + style.dim("  ·  " + model))
        }
        if s.interrupted {
            let why = s.segment != nil || s.distributed != nil ? "Ctrl-C, or a segment was lost" : "Ctrl-C"
            out.append(style.yellow("interrupted: the run was stopped early (\(why))"))
        }
        if let d = s.distributed { out += distributedLines(d) }
        out.append("")

        let errorText = "\(Fmt.int(s.errors)) errors (\(Fmt.percent(s.errorRate)))"
        out.append(
            "  Requests     \(Fmt.int(s.completed)) completed, \(Fmt.int(s.failed)) failed, "
                + "\(Fmt.int(s.unsent)) unsent of \(Fmt.int(s.scheduled)) scheduled · "
                + (s.errors > 0 ? style.red(errorText) : style.green(errorText))
        )
        let durationS = max(s.durationS, 1e-9)
        out.append(
            "  Throughput   " + style.bold(Fmt.fixed(s.rps, 1) + " req/s") + " over " + Fmt.seconds(s.durationS)
                + style.dim(
                    "  ·  in " + Fmt.bytes(s.bytesIn) + " (" + Fmt.bytes(UInt64(Double(s.bytesIn) / durationS))
                        + "/s), out " + Fmt.bytes(s.bytesOut) + ", " + Fmt.int(s.connectionsOpened)
                        + " connections opened"
                )
        )
        if let decoded = s.bytesDecoded, decoded > 0 {
            out.append(
                "  Decoded      " + Fmt.bytes(decoded) + " of compressed bodies read by checks and captures"
                    + style.dim("  ·  in counts the wire's " + Fmt.bytes(s.bytesIn))
            )
        }
        let reconnects = s.reconnects ?? 0
        let retries = s.retries ?? 0
        if reconnects > 0 || retries > 0 {
            out.append(
                "  Connections  " + Fmt.int(reconnects) + " closed by the server without notice (reconnected) · "
                    + Fmt.int(retries) + " request" + (retries == 1 ? "" : "s")
                    + " retried once on a new connection, not counted as errors"
            )
        }
        out += protocolLines(s)
        if let line = redirectLine(s) { out.append(line) }
        out.append("")
        let header = ["min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"]
        out.append(
            "  " + Fmt.pad("(ms)", 13, right: false) + header.map { Fmt.pad($0, 9) }.joined()
        )
        if s.completed == 0 {
            // No response, no latency: a row of zeros would read as an infinitely fast server.
            out.append("  " + Fmt.pad("Latency", 13, right: false) + style.dim("no response, so no latency"))
        } else {
            out.append(latencyRow("Latency", s.latencyMs))
        }
        if let service = s.serviceTimeMs, s.completed > 0 {
            out.append(latencyRow("Service time", service))
        }
        if s.model == "open" {
            out.append(style.dim("  latency counts from each request's intended start; service time from its write"))
        }
        if let lag = s.scheduleLag {
            out.append(
                "  Schedule     lag mean \(Fmt.ms(lag.meanMs)) ms, p99 \(Fmt.ms(lag.p99Ms)) ms, "
                    + "max \(Fmt.ms(lag.maxMs)) ms · \(Fmt.int(s.sentLate)) sent late (>10 ms)"
            )
        }
        out += phaseLines(s.phases)
        out.append("")
        if !s.status.isEmpty {
            let parts = s.status.sorted { $0.key < $1.key }.map { code, n -> String in
                let text = "\(code): \(Fmt.int(n))"
                return (Int(code) ?? 0) >= 400 ? style.red(text) : text
            }
            out.append("  Status       " + parts.joined(separator: "   "))
            out += errorSampleLines(s)
        }
        if !s.transportErrors.isEmpty {
            let parts = s.transportErrors.sorted { $0.key < $1.key }.map { cls, n in
                style.red("\(cls.replacingOccurrences("_", " ")): \(Fmt.int(n))")
            }
            out.append("  Transport    " + parts.joined(separator: "   "))
            for (cls, message) in s.transportErrorSamples.sorted(by: { $0.key < $1.key }) {
                out.append(style.dim("               \(cls.replacingOccurrences("_", " ")): \(message)"))
            }
        }
        out += captureFailureLines(s)
        out += decodeFailureLines(s)
        if s.completed + s.failed == 0 {
            out.append(style.red("  No request completed."))
        }
        let refused = s.transportErrors["connection_refused"] ?? 0
        if s.completed == 0 && refused > 0 && s.connectionsOpened == 0 {
            out.append(
                style.red("  The target refused every connection: is anything listening at \(s.target)?")
                    + style.dim(" (each connection retried after a pause of 10 ms, doubling to 0.5 s)")
            )
        }
        out += planSections(s)
        if !s.slowest.isEmpty {
            out.append("")
            out.append("  Slowest requests " + style.dim("(find them in the server's logs by their request id)"))
            for e in s.slowest {
                let outcome = e.status.map { String($0) } ?? (e.error ?? "?")
                out.append(
                    "    " + Fmt.pad(Fmt.ms(e.latencyMs) + " ms", 12) + "  " + Fmt.pad(outcome, 3, right: false)
                        + "  " + e.requestID + style.dim("  at " + Fmt.fixed(e.atS, 2) + " s")
                )
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// Per-request-name table, checks, iterations and thresholds (plan runs only).
    private func planSections(_ s: RunSummary) -> [String] {
        var out: [String] = []
        if let iterations = s.iterations {
            out.append(
                "  Iterations   \(Fmt.int(iterations.completed)) completed, \(Fmt.int(iterations.interrupted)) interrupted, "
                    + (iterations.dropped > 0
                        ? style.yellow("\(Fmt.int(iterations.dropped)) dropped (no free VU)") : "0 dropped")
            )
        }
        // The most VUs at any second (k6 prints vus and vus_max; the timeline has `vus`).
        if let peak = s.timeline.compactMap(\.vus).max() {
            out.append("  VUs          \(Fmt.int(peak)) at most")
        }
        if let named = s.requestsByName, !named.isEmpty {
            out.append("")
            let width = min(40, max(12, named.map(\.name.count).max() ?? 12))
            out.append(
                "  " + Fmt.pad("request", width, right: false) + Fmt.pad("count", 9) + Fmt.pad("rps", 9)
                    + Fmt.pad("p50", 9)
                    + Fmt.pad("p95", 9) + Fmt.pad("p99", 9) + Fmt.pad("errors", 9) + "  statuses"
            )
            for n in named {
                var statuses = n.status.sorted { $0.key < $1.key }.map { "\($0.key):\(Fmt.int($0.value))" }
                statuses += n.transportErrors.sorted { $0.key < $1.key }.map { "\($0.key):\(Fmt.int($0.value))" }
                if n.skipped > 0 {
                    let why = n.skipReason.map { " (\($0))" } ?? ""
                    statuses.append(style.yellow("skipped:\(Fmt.int(n.skipped))\(why)"))
                }
                if n.captureFailures > 0 {
                    statuses.append(style.yellow("capture failed:\(Fmt.int(n.captureFailures))"))
                }
                if let failures = n.decodeFailures, failures > 0 {
                    statuses.append(style.yellow("decode failed:\(Fmt.int(failures))"))
                }
                let name = n.name.count > width ? String(n.name.prefix(width - 1)) + "…" : n.name
                out.append(
                    "  " + Fmt.pad(name, width, right: false) + Fmt.pad(Fmt.int(n.requests), 9)
                        + Fmt.pad(Fmt.fixed(n.rps, 1), 9)
                        + Fmt.pad(Fmt.ms(n.latencyMs.p50), 9) + Fmt.pad(Fmt.ms(n.latencyMs.p95), 9)
                        + Fmt.pad(Fmt.ms(n.latencyMs.p99), 9) + Fmt.pad(Fmt.percent(n.errorRate), 9) + "  "
                        + statuses.joined(separator: " ")
                )
            }
            out += namedPhaseLines(named, width: width)
        }
        if let checks = s.checks, !checks.isEmpty {
            out.append("")
            out.append("  Checks")
            for c in checks {
                let total = c.passes + c.fails
                let rate = total > 0 ? Double(c.passes) / Double(total) : 0
                let mark = c.fails == 0 ? style.green("✓") : style.red("✗")
                out.append(
                    "    \(mark) \(c.name)  "
                        + style.dim("\(Fmt.int(c.passes)) / \(Fmt.int(total)) (\(Fmt.percent(rate)))")
                )
            }
        }
        if let groups = s.groups, !groups.isEmpty {
            out.append("")
            out.append("  Groups " + style.dim("(whole block, think times included)"))
            for g in groups {
                out.append(
                    "    \(g.name): \(Fmt.int(g.count)) × p50 \(Fmt.ms(g.durationMs.p50)) ms, p95 \(Fmt.ms(g.durationMs.p95)) ms, "
                        + "max \(Fmt.ms(g.durationMs.max)) ms"
                )
            }
        }
        if let abortedBy = s.abortedBy {
            out.append("")
            out.append(style.red("  Stopped early: threshold \"\(abortedBy)\" failed (abort_on_fail)"))
        }
        if let thresholds = s.thresholds, !thresholds.isEmpty {
            out.append("")
            out.append("  Thresholds")
            for t in thresholds {
                let mark = t.passed ? style.green("✓") : style.red("✗")
                let scope = t.request.map { " [\($0)]" } ?? ""
                let actual = t.actual.map { "actual " + Fmt.fixed($0, $0 < 1 ? 4 : 2) } ?? "nothing measured"
                out.append("    \(mark) \(t.expression)\(scope)  " + style.dim(actual))
            }
        }
        return out
    }

    /// `--follow N`: the hops followed and the chains that ended on a 3xx (the limit, or a
    /// Location that cannot be followed); nil when there were none.
    private func redirectLine(_ s: RunSummary) -> String? {
        let followed = s.redirectsFollowed ?? 0
        let limit = s.redirectLimit ?? 0
        let unusable = s.redirectUnusable ?? 0
        guard followed + limit + unusable > 0 else { return nil }
        var line = "  Redirects    " + Fmt.int(followed) + " followed (hops within requests, not counted as requests)"
        if limit > 0 {
            line += " · " + style.yellow(Fmt.int(limit) + " ended at the --follow limit (a longer chain or a loop)")
        }
        if unusable > 0 {
            line += " · " + style.yellow(Fmt.int(unusable) + " ended on a Location that cannot be followed")
        }
        return line
    }

    private func latencyRow(_ label: String, _ l: LatencyStats) -> String {
        let values = [l.min, l.mean, l.p50, l.p90, l.p95, l.p99, l.p999, l.max]
        return "  " + Fmt.pad(label, 13, right: false) + values.map { Fmt.pad(Fmt.ms($0), 9) }.joined()
    }
}

extension String {
    fileprivate func replacingOccurrences(_ a: Character, _ b: Character) -> String {
        String(self.map { $0 == a ? b : $0 })
    }
}

extension SummaryRenderer {
    /// A merged run: how many segments, how far apart they started, their clocks, and
    /// loudly, the segments whose results are missing.
    func distributedLines(_ d: DistributedInfo) -> [String] {
        var lines: [String] = []
        let offsets = d.segments.map { seg in
            let rtt = seg.clockRTTMs.map { " ±" + Fmt.fixed($0 / 2, 2) } ?? ""
            return "\(seg.index): " + (seg.clockOffsetMs >= 0 ? "+" : "") + Fmt.fixed(seg.clockOffsetMs, 2) + rtt
        }
        lines.append(
            "merged from \(d.merged.count) of \(d.segmentCount) segments"
                + style.dim(
                    "  ·  start skew " + Fmt.fixed(d.startSkewMs, 2) + " ms  ·  clock offsets (ms) "
                        + offsets.joined(separator: ", ")
                )
        )
        if !d.missing.isEmpty {
            let reasons = d.missing.map { i in "\(i)" + (d.missingReasons?[String(i)].map { " (\($0))" } ?? "") }
            lines.append(
                style.red(
                    "incomplete: segment\(d.missing.count > 1 ? "s" : "") \(reasons.joined(separator: ", ")) missing; "
                        + "the counts below are the finished segments' only"
                )
            )
        }
        return lines
    }
}
