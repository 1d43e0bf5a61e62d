import Foundation
import VolleyCore

/// The JSON summary (`--json`): field names are documented in docs/json-summary.md and are
/// a stable interface for scripts and CI, so they are spelled out in `RunSummary.CodingKeys`
/// rather than derived.
public enum JSONReport {
    public static func encode(_ summary: RunSummary) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf",
            negativeInfinity: "-inf",
            nan: "nan"
        )
        let data = try encoder.encode(summary)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func decode(_ text: String) throws -> RunSummary {
        try JSONDecoder().decode(RunSummary.self, from: Data(text.utf8))
    }
}
