import Foundation
import VolleyCore

/// The JSON summary (`--json`): field names are documented in docs/json-summary.md and are
/// a stable interface for scripts and CI, so they are spelled out in `RunSummary.CodingKeys`
/// rather than derived.
public enum JSONReport {
    /// `compact` drops the indentation (the history stores summaries this way).
    public static func encode(_ summary: RunSummary, compact: Bool = false) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            compact ? [.sortedKeys, .withoutEscapingSlashes] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf",
            negativeInfinity: "-inf",
            nan: "nan"
        )
        let data = try encoder.encode(summary)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func decode(_ text: String) throws -> RunSummary {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf",
            negativeInfinity: "-inf",
            nan: "nan"
        )
        return try decoder.decode(RunSummary.self, from: Data(text.utf8))
    }
}
