import Foundation
import VolleyCore

/// Why a feed file could not be used, phrased to follow `feed file "ids.json" `.
struct FeedProblem: Error {
    var message: String
    var hint: String?
}

/// Reads the rows of a feed file: CSV with a header row, or a JSON array of objects.
enum FeedFile {
    static func read(path: String, format: DataFeed.Format) -> Result<FeedTable, FeedProblem> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(
                FeedProblem(message: "does not exist", hint: "looked for \(path); paths are relative to the plan file")
            )
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else {
            return .failure(FeedProblem(message: "cannot be read", hint: "check that \(path) is a readable file"))
        }
        guard var text = String(validating: data, as: UTF8.self) else {
            return .failure(FeedProblem(message: "is not UTF-8 text", hint: nil))
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        let table: FeedTable
        do {
            table = format == .csv ? try CSVFeed.parse(text) : try JSONFeed.parse(text)
        } catch let problem as FeedProblem {
            return .failure(problem)
        } catch {
            return .failure(FeedProblem(message: "cannot be read: \(error)", hint: nil))
        }
        guard !table.rows.isEmpty else {
            return .failure(FeedProblem(message: "has no rows", hint: "a feed needs at least one row of data"))
        }
        var seen: Set<String> = []
        for column in table.columns where !seen.insert(column).inserted {
            return .failure(
                FeedProblem(message: "has the column \"\(column)\" twice", hint: "column names must be unique")
            )
        }
        return .success(table)
    }
}
