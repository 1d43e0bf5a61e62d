import VolleyCore

/// CSV exports for spreadsheets: the per-second timeline (what our users tabulated by hand)
/// and the per-request-name table. RFC 4180 quoting, `.` decimals whatever the locale.
public enum CSVExport {
    public static func timeline(_ s: RunSummary) -> String {
        var out =
            "t_s,rps,completed,failed,errors,p50_ms,p90_ms,p99_ms,max_ms,in_flight,connections,waiting,bytes_in,bytes_out\n"
        for e in s.timeline {
            let fields: [String] = [
                number(e.t), number(e.rps), String(e.completed), String(e.failed), String(e.errors),
                number(e.latencyMs.p50), number(e.latencyMs.p90), number(e.latencyMs.p99), number(e.latencyMs.max),
                String(e.inFlight), String(e.connections), String(e.waiting), String(e.bytesIn), String(e.bytesOut),
            ]
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    /// One row per request name (plans), or one row for the whole run (URL runs).
    public static func requests(_ s: RunSummary) -> String {
        var out = "name,requests,rps,error_rate,min_ms,mean_ms,p50_ms,p90_ms,p95_ms,p99_ms,max_ms,skipped\n"
        let rows: [(String, Int, Double, Double, LatencyStats, Int)] =
            s.requestsByName.map { named in
                named.map { ($0.name, $0.requests, $0.rps, $0.errorRate, $0.latencyMs, $0.skipped) }
            } ?? [("\(s.method) \(s.target)", s.requests, s.rps, s.errorRate, s.latencyMs, 0)]
        for (name, requests, rps, errorRate, l, skipped) in rows {
            let fields = [
                quote(name), String(requests), number(rps), number(errorRate), number(l.min), number(l.mean),
                number(l.p50), number(l.p90), number(l.p95), number(l.p99), number(l.max), String(skipped),
            ]
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    static func number(_ x: Double) -> String {
        guard x.isFinite else { return "" }
        return Fmt.fixed(x, 3).replacingOccurrences(of: ",", with: "")
    }

    static func quote(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// JUnit XML, so that CI systems show a run's thresholds and checks as test cases: a failed
/// threshold or a check with failures is a failed test case, with the measured value.
public enum JUnitExport {
    public static func render(_ s: RunSummary, suiteName: String) -> String {
        var cases: [(name: String, className: String, failure: String?)] = []
        for t in s.thresholds ?? [] {
            let scope = t.request.map { " [\($0)]" } ?? ""
            let actual = t.actual.map { "actual \(Fmt.fixed($0, 4))" } ?? "nothing measured"
            cases.append((t.expression + scope, "thresholds", t.passed ? nil : "threshold failed: \(actual)"))
        }
        for c in s.checks ?? [] {
            cases.append((c.name, "checks", c.fails == 0 ? nil : "\(c.fails) of \(c.passes + c.fails) failed"))
        }
        // A run without thresholds or checks still says whether it did anything at all.
        cases.append(
            (
                "requests completed", "run",
                s.completed > 0 ? nil : "no request completed (\(s.failed) failed, \(s.unsent) unsent)"
            )
        )
        let failures = cases.filter { $0.failure != nil }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"volley\" tests=\"\(cases.count)\" failures=\"\(failures)\">\n"
        out += "  <testsuite name=\"\(escape(suiteName))\" tests=\"\(cases.count)\" failures=\"\(failures)\" "
        out += "time=\"\(Fmt.fixed(s.durationS, 3).replacingOccurrences(of: ",", with: ""))\">\n"
        out += "    <properties>\n"
        out += "      <property name=\"target\" value=\"\(escape(s.target))\"/>\n"
        out += "      <property name=\"requests\" value=\"\(s.requests)\"/>\n"
        out += "      <property name=\"error_rate\" value=\"\(CSVExport.number(s.errorRate))\"/>\n"
        out += "      <property name=\"p99_ms\" value=\"\(CSVExport.number(s.latencyMs.p99))\"/>\n"
        out += "    </properties>\n"
        for c in cases {
            out += "    <testcase classname=\"\(escape(c.className))\" name=\"\(escape(c.name))\""
            if let failure = c.failure {
                out += ">\n      <failure message=\"\(escape(failure))\"/>\n    </testcase>\n"
            } else {
                out += "/>\n"
            }
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case _ where ch.value < 0x20 && ch != "\n" && ch != "\t": out += "?"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
