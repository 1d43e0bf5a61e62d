import Testing
import VolleyCore
import VolleyReport

@Suite struct DiagnosisRendererTests {
    /// Every space of a finding survives wrapping: a word that made the wrapped line exactly
    /// as long as the first line's "next:" prefix used to lose the space before the next word.
    @Test func wrappingKeepsEverySpace() {
        let next =
            "Raise the pool (SQLAlchemy pool_size + max_overflow, HikariCP maximumPoolSize …) towards the "
            + "concurrency the service must serve while max_connections has room, or hold connections for less time "
            + "(shorter queries, no work inside the transaction); then sweep again to see the knee move."
        let finding = Finding(id: .poolSaturation, title: "t", statement: "s", evidence: [], next: next)
        let text = DiagnosisRenderer(style: Style(enabled: false)).renderFindings([finding], probed: true)
        let joined = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        #expect(joined.contains(next))
    }

    @Test func severitiesHaveTheirOwnMarks() {
        let make = { (s: Severity) in
            Finding(id: .queueing, title: "T", statement: "s", evidence: [], next: "n", severity: s)
        }
        let text = DiagnosisRenderer(style: Style(enabled: false)).renderFindings(
            [make(.critical), make(.warning), make(.info)],
            probed: true
        )
        #expect(text.contains("✗ T"))
        #expect(text.contains("! T"))
        #expect(text.contains("i T"))
    }
}
