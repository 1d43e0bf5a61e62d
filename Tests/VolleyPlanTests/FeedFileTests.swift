import Testing
import VolleyCore

@testable import VolleyPlan

/// The CSV and JSON readers behind feeds.
@Suite struct FeedFileTests {
    @Test func csvFollowsRFC4180() throws {
        let table = try CSVFeed.parse("id,note\r\n1,\"a, b\"\r\n2,\"say \"\"hi\"\"\"\r\n\r\n3,\"two\nlines\"\n4,")
        #expect(table.columns == ["id", "note"])
        #expect(table.rows == [["1", "a, b"], ["2", "say \"hi\""], ["3", "two\nlines"], ["4", ""]])
        #expect(throws: FeedProblem.self) { try CSVFeed.parse("a\n\"open") }
    }

    @Test func jsonKeepsKeyOrderAndWritesValuesAsText() throws {
        let table = try JSONFeed.parse(
            #"[{"b": "x\u00e9\n", "a": 1.50, "n": null}, {"a": true, "c": {"k": [1, "v"]}}, {"b": "\ud83d\ude00"}]"#
        )
        #expect(table.columns == ["b", "a", "n", "c"])
        #expect(table.rows == [["xé\n", "1.50", "", ""], ["", "true", "", "{\"k\":[1,\"v\"]}"], ["😀", "", "", ""]])
    }

    @Test func malformedJSONSaysWhere() {
        func message(_ text: String) -> String {
            do {
                _ = try JSONFeed.parse(text)
                return "parsed"
            } catch {
                return (error as? FeedProblem)?.message ?? "\(error)"
            }
        }
        #expect(message("{\"a\": 1}") == "must hold a JSON array of objects")
        #expect(message("[1, 2]") == "must hold a JSON array of objects, item 1 is not an object")
        #expect(message("[{\"a\": tru}]") == "is not valid JSON: unexpected \"tru\" at line 1, column 8")
        #expect(message("[{\"a\": \"x}]") == "is not valid JSON: unclosed string at line 1, column 12")
        #expect(message("[{\"a\": 1}] x") == "is not valid JSON: unexpected text after the array at line 1, column 12")
        #expect(
            message(String(repeating: "[", count: 100))
                == "is not valid JSON: values nested too deeply at line 1, column 65"
        )
    }
}
