import Foundation
import Testing
import VolleyCore
import VolleyPlan

/// Whatever the input, loading ends in a plan or in diagnostics: never a crash, never a hang.
@Suite struct RobustnessTests {
    /// A small deterministic generator, so a failure can be replayed.
    private struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 29)
        }
    }

    private func survives(_ yaml: String) -> Bool {
        do {
            _ = try load(yaml, environment: ["A": "1"])
            return true
        } catch {
            return !error.diagnostics.isEmpty && error.diagnostics.contains { $0.severity == .error }
        }
    }

    @Test func oddDocumentsGiveDiagnostics() {
        let documents = [
            "", " ", "\n\n", "~", "null", "[]", "{}", "- - -", "42", "\"text\"", "scenarios:", "scenarios: []",
            "scenarios: { s: }", "scenarios: { s: { steps: } }", "scenarios: { s: { steps: [ ~ ] } }",
            "scenarios:\n\ts:\n", "\u{FEFF}scenarios: 1", "? [a]\n: b", "[a]: b", "a: &x [*x]",
            "a: !!binary aGVsbG8=", "<<: 1", "<<: [1, 2]", "scenarios: &s { a: *s }", "%YAML 1.2\n---\na: 1",
            String(repeating: "[", count: 5000), String(repeating: "- ", count: 2000) + "x",
            "a:\n" + (1...300).map { String(repeating: " ", count: $0) + "b:" }.joined(separator: "\n"),
            "scenarios: { s: { executor: constant-vus, duration: 1s, steps: ["
                + String(repeating: "{group: g, steps: [", count: 200)
                + "{request: GET http://x/}" + String(repeating: "]}", count: 200) + "] } }",
        ]
        for document in documents {
            #expect(survives(document), "\(document.prefix(80))")
        }
    }

    @Test func aliasBombsAreCut() {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<12 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            yaml += "a\(i): &a\(i) [\(refs)]\n"
        }
        yaml +=
            "scenarios: { s: { executor: constant-vus, duration: 1s, steps: [{ request: GET http://x/, json: *a11 }] } }\n"
        let found = problems(yaml)
        #expect(found.count == 1)
        #expect(found.first?.hasSuffix("error: the plan is too large: more than 200000 values") == true)
    }

    @Test func binaryGarbageAndRandomMutationsOfAValidPlan() throws {
        var random = Generator(state: 42)
        for _ in 0..<200 {
            let bytes = (0..<Int.random(in: 1...400, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            #expect(survives(String(decoding: bytes, as: UTF8.self)))
        }
        let valid = Array(ExamplePlan.yaml)
        let alphabet = Array("{}[]:-,#&*!|>'\"%@` \t\n${}.aZ09")
        for _ in 0..<300 {
            var chars = valid
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let i = Int.random(in: 0..<chars.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: chars.remove(at: i)
                case 1: chars.insert(alphabet.randomElement(using: &random) ?? "x", at: i)
                default: chars[i] = alphabet.randomElement(using: &random) ?? "x"
                }
            }
            let text = String(chars)
            do {
                _ = try load(text)
            } catch {
                #expect(error.diagnostics.contains { $0.severity == .error })
                #expect(error.diagnostics.allSatisfy { $0.location.map { $0.line >= 1 && $0.column >= 1 } ?? true })
            }
        }
    }

    @Test func aBinaryPlanFileIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volley-binary-\(UInt32.random(in: 0...UInt32.max)).yaml"
        ).path
        try Data([0xFF, 0xFE, 0x00, 0x80, 0x41]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try PlanLoader.load(path: path, environment: [:])
            Issue.record("loaded")
        } catch {
            #expect(error.diagnostics.map(\.message) == ["\"\(path)\" is not UTF-8 text"])
        }
    }
}
