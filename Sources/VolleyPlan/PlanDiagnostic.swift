import VolleyCore

/// One problem found in a plan file, phrased like a compiler message so editors and terminals
/// can jump to it: `plan.yaml:12:7: error: unknown key "captrue"`, then an indented hint.
public struct PlanDiagnostic: Equatable, Sendable, CustomStringConvertible {
    /// Errors make the plan unusable; warnings point at something probably unintended (a
    /// capture nobody reads) but leave the plan runnable.
    public enum Severity: String, Equatable, Sendable {
        /// The plan cannot be used as written.
        case error
        /// The plan runs, but probably not as intended.
        case warning
    }

    /// Whether the plan can still run.
    public var severity: Severity
    /// Where the offending key or value is; nil when the problem concerns the whole file
    /// (for example when it cannot be read).
    public var location: SourceLocation?
    /// What is wrong, naming the offending text.
    public var message: String
    /// How to fix it, when there is something more useful to say than the message.
    public var hint: String?

    /// A diagnostic as the loader reports it; public so other front ends (an editor plug-in,
    /// the run command) can add their own in the same format.
    public init(_ severity: Severity, _ message: String, at location: SourceLocation?, hint: String? = nil) {
        self.severity = severity
        self.location = location
        self.message = message
        self.hint = hint
    }

    /// `file:line:column: error: message`, then `    hint: ...` on its own line.
    public var description: String {
        let prefix = location.map { "\($0): " } ?? ""
        let head = "\(prefix)\(severity.rawValue): \(message)"
        return hint.map { head + "\n    hint: " + $0 } ?? head
    }

    /// Orders diagnostics as they appear in the file; problems without a location come first.
    static func byLocation(_ a: PlanDiagnostic, _ b: PlanDiagnostic) -> Bool {
        switch (a.location, b.location) {
        case (nil, nil): return false
        case (nil, _): return true
        case (_, nil): return false
        case (let x?, let y?): return (x.line, x.column) < (y.line, y.column)
        }
    }
}
