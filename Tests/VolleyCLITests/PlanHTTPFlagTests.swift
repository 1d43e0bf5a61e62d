import Foundation
import Testing

/// `--h2c`, `--http2` and `-m` belong to `volley run URL`: with a plan they are refused, with
/// the plan's own way to say it.
@Suite struct PlanHTTPFlagTests {
    @Test func protocolFlagsWithAPlanPointToHTTPInThePlan() throws {
        let plan = FileManager.default.temporaryDirectory.appendingPathComponent("h2-\(UUID().uuidString).yaml")
        try
            "base_url: http://127.0.0.1:1\nscenarios:\n  s:\n    executor: per-vu-iterations\n    vus: 1\n    iterations: 1\n    steps:\n      - request: GET /\n"
            .write(to: plan, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: plan) }
        let result = try runVolley(["run", plan.path, "--h2c", "-m", "4"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--h2c, -m/--streams do not apply to a plan file"), "\(result.stderr)")
        #expect(result.stderr.contains("http: h2c under defaults:"), "\(result.stderr)")
        let fallback = try runVolley(["run", plan.path, "--http1-fallback"])
        #expect(fallback.status == 2)
        #expect(fallback.stderr.contains("http1_fallback: true under defaults:"), "\(fallback.stderr)")
    }

    @Test func aSchemeThatCannotCarryThePlansHTTPIsAnInputErrorAtItsLine() throws {
        let plan = FileManager.default.temporaryDirectory.appendingPathComponent("h2-\(UUID().uuidString).yaml")
        try
            "base_url: http://127.0.0.1:1\ndefaults: { http: 2 }\nscenarios:\n  s:\n    executor: per-vu-iterations\n    vus: 1\n    iterations: 1\n    steps:\n      - request: GET /\n"
            .write(to: plan, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: plan) }
        let result = try runVolley(["run", plan.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains(":9:18: error: defaults: http: 2 is HTTP/2 over TLS"), "\(result.stderr)")
        #expect(result.stderr.contains("http: h2c"), "\(result.stderr)")
    }
}
