import VolleyCore

/// A validated plan, ready to run: the plan value, what is worth a warning, and the rows of
/// its data feeds (read once here so a malformed file fails before any load is sent).
public struct LoadedPlan: Sendable {
    /// The plan, with environment values already written into its templates.
    public var plan: Plan
    /// Problems that do not stop the plan from running, in file order.
    public var warnings: [PlanDiagnostic]
    /// The rows of each feed, by feed name.
    public var feeds: [String: FeedTable]

    /// Builds a loaded plan directly, e.g. for a plan made in Swift that the engine should run
    /// like one read from a file.
    public init(plan: Plan, warnings: [PlanDiagnostic] = [], feeds: [String: FeedTable] = [:]) {
        self.plan = plan
        self.warnings = warnings
        self.feeds = feeds
    }
}
