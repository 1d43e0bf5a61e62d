import Testing
import VolleyCore
import VolleyPlan

/// `defaults: { compression: … }`: plans ask for compressed bodies unless told not to.
@Suite struct CompressionOptionTests {
    private func plan(_ defaults: String) -> String {
        """
        base_url: http://127.0.0.1:8080
        defaults:
        \(defaults)
        scenarios:
          s:
            executor: constant-vus
            duration: 1s
            steps:
              - request: GET /
        """
    }

    @Test func compressionIsOnUnlessTurnedOff() throws {
        #expect(try load(plan("  timeout: 5s")).plan.defaults.compression == true)
        #expect(try load(plan("  compression: false")).plan.defaults.compression == false)
        #expect(try load(plan("  compression: true")).plan.defaults.compression == true)
    }

    @Test func aValueThatIsNotABooleanIsAnErrorWithItsPlace() {
        #expect(
            problems(plan("  compression: gzip")) == [
                "3:16: error: \"compression\" must be true or false, got \"gzip\""
            ]
        )
    }
}
