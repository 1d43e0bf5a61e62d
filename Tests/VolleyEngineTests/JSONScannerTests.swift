import Foundation
import Testing
import VolleyCore

@testable import VolleyEngine

/// The byte scanner must read exactly what Foundation's parser reads.
@Suite struct JSONScannerTests {
    static let document = """
        { "id": 42, "title": "say \\"hi\\"\\n\\u00e9\\ud83d\\ude00", "done": false, "none": null, "ratio": 1.50,
          "tags": ["a", "b", {"deep": [1, 2, 3]}], "nested": {"items": [{"id": "x1"}, {"id": "x2"}], "e": {}},
          "sci": 2e3, "neg": -7 }
        """

    private func text(_ path: String) throws -> String? {
        JSONScanner.find(try JSONPath(parsing: path), in: Array(Self.document.utf8))?.text
    }

    private func foundation(_ path: String) throws -> String? {
        let root = try JSONSerialization.jsonObject(with: Data(Self.document.utf8))
        return try JSONPath(parsing: path).evaluate(root).flatMap { JSONPath.text(of: $0) }
    }

    @Test(arguments: [
        "$.id", "$.title", "$.done", "$.none", "$.ratio", "$.tags[1]", "$.tags[-1].deep[2]", "$.nested.items[1].id",
        "$['nested']['items'][0]['id']", "$.sci", "$.neg", "$.missing", "$.tags[9]", "$.id.x",
    ])
    func agreesWithFoundation(path: String) throws {
        #expect(try text(path) == foundation(path), "\(path)")
    }

    @Test func compositesAreReturnedAsText() throws {
        let v = JSONScanner.find(try JSONPath(parsing: "$.tags[2]"), in: Array(Self.document.utf8))
        #expect(v == .composite("{\"deep\": [1, 2, 3]}"))
        #expect(
            JSONScanner.find(try JSONPath(parsing: "$.nested.e"), in: Array(Self.document.utf8)) == .composite("{}")
        )
    }

    @Test(arguments: ["", "not json", "{\"a\": ", "{\"a\" 1}"])
    func brokenJSONFindsNothingAndNeverCrashes(text: String) throws {
        #expect(JSONScanner.find(try JSONPath(parsing: "$.a"), in: Array(text.utf8)) == nil)
        #expect(JSONScanner.find(try JSONPath(parsing: "$[1]"), in: Array(text.utf8)) == nil)
    }

    @Test func aBodyCutAtTheLimitStillYieldsWhatCameBeforeTheCut() throws {
        // Bodies are kept up to 1 MiB: values before the cut are still readable.
        let cut = Array("{\"id\": 7, \"items\": [1, 2".utf8)
        #expect(JSONScanner.find(try JSONPath(parsing: "$.id"), in: cut)?.text == "7")
        #expect(JSONScanner.find(try JSONPath(parsing: "$.items[1]"), in: cut)?.text == "2")
    }
}
