import VolleyCore

/// The live line printed once a second on stderr.
///
/// On a terminal it redraws one line with a bar; otherwise (CI logs, pipes) it prints one
/// plain line per second so the log reads as a timeline.
public struct ProgressRenderer: Sendable {
    public var style: Style
    public var isTTY: Bool
    /// -n, when known, for the percentage; otherwise the planned duration in seconds.
    public var expectedRequests: Int?
    public var expectedSeconds: Double?

    private var completed = 0
    private var failed = 0
    private var errors = 0

    public init(style: Style, isTTY: Bool, expectedRequests: Int?, expectedSeconds: Double?) {
        self.style = style
        self.isTTY = isTTY
        self.expectedRequests = expectedRequests
        self.expectedSeconds = expectedSeconds
    }

    /// Folds in the interval and returns the text to write (with the line control needed).
    public mutating func update(with e: TimelineEntry) -> String {
        completed += e.completed
        failed += e.failed
        errors += e.errors
        let done = completed + failed
        var fraction: Double?
        if let n = expectedRequests, n > 0 {
            fraction = min(1, Double(done) / Double(n))
        } else if let s = expectedSeconds, s > 0 {
            fraction = min(1, e.t / s)
        }
        let total = done > 0 ? Double(errors) / Double(done) : 0
        var text = "[" + Fmt.pad(Fmt.fixed(e.t, 0), 4) + "s] "
        text += Fmt.int(done) + " req"
        if let fraction, expectedRequests != nil { text += " (" + Fmt.fixed(fraction * 100, 0) + "%)" }
        text += "  " + Fmt.fixed(e.rps, 0) + " rps"
        text += "  p50 " + Fmt.ms(e.latencyMs.p50) + "ms p99 " + Fmt.ms(e.latencyMs.p99) + "ms"
        let errText = "errors \(Fmt.int(e.errors)) (total \(Fmt.percent(total)))"
        text += "  " + (e.errors > 0 ? style.red(errText) : errText)
        if let vus = e.vus { text += "  vus \(Fmt.int(vus))" }
        text += "  in flight \(Fmt.int(e.inFlight))"
        if e.waiting > 0 { text += style.yellow("  waiting \(Fmt.int(e.waiting))") }
        if isTTY {
            var bar = ""
            if let fraction {
                let width = 20
                let filled = Int((fraction * Double(width)).rounded(.down))
                bar = "[" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled) + "] "
            }
            return "\u{1B}[2K\r" + style.cyan(bar) + text
        }
        return text + "\n"
    }

    /// What to write after the last update so the summary starts on a clean line.
    public func finish() -> String {
        isTTY ? "\n" : ""
    }
}
