import VolleyCore

/// What the server said, under the Status line: one line per error body excerpt and per
/// failed capture, so that "500: QueuePool limit … reached" is read next to its count.
extension SummaryRenderer {
    /// Characters of an excerpt shown on a terminal line (the JSON has up to 256 bytes).
    static let excerptWidth = 100

    /// One line per sampled error body, by status.
    func errorSampleLines(_ s: RunSummary) -> [String] {
        guard let samples = s.errorSamples else { return [] }
        var out: [String] = []
        for (code, list) in samples.sorted(by: { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }) {
            for sample in list {
                let times = (sample.count ?? 1) > 1 ? " (×\(sample.count ?? 1))" : ""
                out.append(style.dim("               \(code): \(Self.line(sample.excerpt))\(times)"))
            }
        }
        return out
    }

    /// One line per sampled capture that found nothing: which, where it looked, and the body.
    func captureFailureLines(_ s: RunSummary) -> [String] {
        guard let failures = s.captureFailureSamples, !failures.isEmpty else { return [] }
        var out = ["  Captures     " + style.yellow("found nothing:")]
        for f in failures {
            let text = "\(f.request) › \(f.capture) (\(f.source)) in a \(f.status): \(f.excerpt)"
            out.append(style.dim("               " + Self.line(text)))
        }
        return out
    }

    /// The compressed bodies that could not be decoded: how many, and why for the first few.
    func decodeFailureLines(_ s: RunSummary) -> [String] {
        guard let count = s.decodeFailures, count > 0 else { return [] }
        var out = [
            "  Decoding     " + style.yellow("\(Fmt.int(count)) bodies could not be decoded")
                + " (the checks and captures that read them failed):"
        ]
        // The same reason for the same request is one line, with how many samples said it.
        var lines: [(text: String, count: Int)] = []
        for f in s.decodeFailureSamples ?? [] {
            let text = "\(f.request) in a \(f.status): \(f.message)"
            if let i = lines.firstIndex(where: { $0.text == text }) {
                lines[i].count += 1
            } else {
                lines.append((text, 1))
            }
        }
        for (text, count) in lines {
            let times = count > 1 ? " (×\(count))" : ""
            out.append(style.dim("               " + Self.line(text) + times))
        }
        return out
    }

    /// Printable on one line (a saved summary may come from anywhere), and short.
    static func line(_ text: String) -> String {
        let clean = Excerpt.sanitize(text)
        guard clean.count > excerptWidth else { return clean }
        return String(clean.prefix(excerptWidth - 1)) + "…"
    }
}
