import Foundation
import VolleyCore

extension FeedTable {
    /// Reads a feed file outside a plan (`volley matrix --data`) with the checks a plan's feed
    /// gets (rows, unique columns, UTF-8); the format comes from the name, `.csv` or `.json`.
    /// The error's message follows the path: `"ids.txt" cannot be read`.
    public static func read(path: String) throws(InputError) -> FeedTable {
        let suffix = path.split(separator: ".").last.map { $0.lowercased() } ?? ""
        guard path.contains("."), let format = DataFeed.Format(rawValue: suffix) else {
            throw InputError("\"\(path)\": cannot tell the format from its name", hint: "name it .json or .csv")
        }
        switch FeedFile.read(path: path, format: format) {
        case .success(let table): return table
        case .failure(let problem):
            // Outside a plan, paths are the user's own (not relative to a plan file).
            let hint = problem.hint?.replacingOccurrences(of: "; paths are relative to the plan file", with: "")
            throw InputError("\"\(path)\" \(problem.message)", hint: hint)
        }
    }
}
