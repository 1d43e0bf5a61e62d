import Foundation
import Testing
import VolleyCore

@testable import VolleyEngine

@Suite struct VUContextTests {
    private let context = VUContext(number: 7, iteration: 3, variables: ["id": "42", "title": "a \"quoted\" title"])

    private func render(_ text: String) throws -> String {
        try context.render(Template(parsing: text)).get()
    }

    @Test func variablesBuiltinsAndDefaults() throws {
        #expect(try render("/todos/${id}?vu=${vu}&i=${iteration}") == "/todos/42?vu=7&i=3")
        #expect(try render("${missing:-fallback}") == "fallback")
        #expect(
            context.render(try Template(parsing: "/todos/${nothere}")) == .failure(MissingVariable(name: "nothere"))
        )
    }

    @Test func functionsProduceFreshValuesOfTheRightShape() throws {
        let uuid = try render("${uuid()}")
        #expect(UUID(uuidString: uuid) != nil)
        #expect(try render("${uuid()}") != uuid)
        for _ in 0..<50 {
            let n = try #require(Int(try render("${randomInt(5, 9)}")))
            #expect((5...9).contains(n))
        }
        let s = try render("${randomString(12)}")
        #expect(s.count == 12 && s.allSatisfy { $0.isLetter || $0.isNumber })
        let now = try #require(Int64(try render("${now()}")))
        #expect(abs(now - Int64(Date().timeIntervalSince1970 * 1000)) < 5000)
    }

    @Test func jsonBodiesEscapeTemplatedStrings() throws {
        let body: JSONTemplate = ["title": "${title}", "id": "${id}", "n": 3, "done": false]
        #expect(try context.renderJSON(body).get() == #"{"title":"a \"quoted\" title","id":"42","n":3,"done":false}"#)
    }
}
