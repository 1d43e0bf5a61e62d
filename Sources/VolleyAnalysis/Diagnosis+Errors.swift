import Foundation
import VolleyCore

// Every error the run counted gets an explanation: either a finding that accounts for it
// says so (with what the server said), or a finding of its own does. A diagnosis that says
// "no bottleneck" while the service answered 500s is worse than none.
extension Diagnosis {
    /// Words of an error body that say a connection pool gave up (SQLAlchemy, HikariCP,
    /// Django, node-postgres, PgBouncer …).
    static let poolWords = [
        "queuepool", "pool limit", "connection pool", "pool exhausted", "pool timeout", "timed out waiting for",
        "connection is not available", "too many clients", "remaining connection slots",
        "timeout exceeded when trying to connect", "no more connections allowed",
    ]

    struct ErrorClass {
        var key: String
        var count: Int
        var sample: String?
        var isStatus: Bool
        var line: String {
            let what = isStatus ? "\(count) × \(key)" : "\(count) × \(key) (no HTTP response)"
            guard let sample else { return what }
            return "\(what): \"\(sample)\""
        }
    }

    static func errorClasses(_ run: RunSummary) -> [ErrorClass] {
        var out: [ErrorClass] = []
        for (code, count) in run.status.sorted(by: { $0.key < $1.key }) where count > 0 && (Int(code) ?? 0) >= 500 {
            let sample = run.errorSamples?[code]?.max { ($0.count ?? 0) < ($1.count ?? 0) }?.excerpt
            out.append(ErrorClass(key: code, count: count, sample: sample.map { clip($0) }, isStatus: true))
        }
        for (kind, count) in run.transportErrors.sorted(by: { $0.key < $1.key }) where count > 0 {
            out.append(ErrorClass(key: kind, count: count, sample: nil, isStatus: false))
        }
        return out
    }

    static func clip(_ s: String) -> String {
        let line = s.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        return line.count > 160 ? String(line.prefix(157)) + "…" : line
    }

    /// Attaches each error class to the finding that explains it, or adds an `errors` finding.
    static func explainErrors(_ v: RunView, _ findings: inout [Finding]) {
        let total = v.run.requests + v.run.unsent
        var unexplained: [ErrorClass] = []
        for error in errorClasses(v.run) {
            let share =
                total > 0 ? " (\(String(format: "%.1f", Double(error.count) / Double(total) * 100)) % of requests)" : ""
            let sampleSaysPool = error.sample.map { s in poolWords.contains { s.lowercased().contains($0) } } ?? false
            if error.isStatus, let i = findings.firstIndex(where: { $0.id == .poolSaturation }),
                sampleSaysPool || error.sample == nil
            {
                findings[i].evidence.append(
                    error.line + share + " — the pool's checkout timeouts: requests that waited longer than its timeout"
                )
                findings[i].severity = .critical
                continue
            }
            if error.isStatus, findings.contains(where: { $0.id == .errorsAfterSaturation }) { continue }
            if !error.isStatus, ["no_response", "reset"].contains(error.key),
                findings.contains(where: { $0.id == .noResponseBefore5xx })
            {
                continue
            }
            if let i = findings.firstIndex(where: { $0.id == .generatorBound }), error.key == "timeout" {
                findings[i].evidence.append(error.line + share + " — timeouts measured by a saturated generator")
                continue
            }
            unexplained.append(error)
        }
        guard !unexplained.isEmpty else { return }
        let count = unexplained.reduce(0) { $0 + $1.count }
        let pct = total > 0 ? Double(count) / Double(total) * 100 : 0
        var evidence = unexplained.map(\.line)
        let firstBad = v.loaded.first { $0.failed > 0 || ($0.serverErrors ?? 0) > 0 }
        if let firstBad { evidence.append("the first in the second ending at \(Fmt.s(firstBad.t))") }
        if unexplained.contains(where: {
            $0.sample.map { s in poolWords.contains { s.lowercased().contains($0) } } ?? false
        }) {
            evidence.append("the server's own words name a connection pool: probe the database (--probe postgres://…)")
        }
        let kinds = unexplained.map { $0.isStatus ? $0.key : $0.key.replacingOccurrences(of: "_", with: " ") }
        findings.append(
            Finding(
                id: .errors,
                title: "\(count) requests failed (\(String(format: "%.1f", pct)) %): "
                    + kinds.joined(separator: ", "),
                statement: "The service failed requests, and no probed resource accounts for them: what the server "
                    + "said is below; the probes did not show a limit that explains it.",
                evidence: evidence,
                next: "Read the server's log for these requests; probe the resources the error names (--probe "
                    + "postgres://…, pid:SERVER_PID) and re-run, or run at lower load to see where the errors begin.",
                severity: .critical,
                since: firstBad?.t
            )
        )
    }
}
