import Foundation
import VolleyCore

/// The variables a plan's `${NAME}` templates see: the process environment overlaid with
/// `-e NAME=value` flags (shared by the commands that load plans).
enum PlanEnvironment {
    static func make(
        overrides: [String],
        base: [String: String] = ProcessInfo.processInfo.environment
    ) throws(InputError)
        -> [String: String]
    {
        var environment = base
        for item in overrides {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw InputError(
                    "invalid -e \"\(item)\"",
                    hint: "write -e NAME=value, e.g. -e ENDPOINT=http://127.0.0.1:8080"
                )
            }
            environment[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        return environment
    }
}
