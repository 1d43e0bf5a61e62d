import VolleyCore

/// A plan that could not be loaded, with every error found (and the warnings), so one run of
/// `volley validate` shows all there is to fix.
public struct PlanLoadError: Error, Sendable, CustomStringConvertible {
    /// Sorted by location; contains at least one error.
    public var diagnostics: [PlanDiagnostic]

    /// Wraps diagnostics found by the loader (or by a caller that checks more, such as the
    /// run command) so they are reported the same way.
    public init(diagnostics: [PlanDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// Only the errors, in file order.
    public var errors: [PlanDiagnostic] { diagnostics.filter { $0.severity == .error } }

    /// Every diagnostic in the compiler format, one after the other.
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
