import ArgumentParser
import Foundation
import VolleyAnalysis
import VolleyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `volley merge BUNDLE…`: the segments of a distributed run, merged into the one run they
/// are parts of — exact percentiles, thresholds judged once on the whole, one history run.
struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract:
            "Merge the result bundles of a run's segments into one run (exact percentiles, thresholds judged once).",
        discussion: """
            Each segment writes its bundle with `volley run PLAN --segment i/N --bundle FILE`. The merge \
            adds their histograms bucket by bucket and their counters, re-bins their timelines on the \
            earliest start, and judges the plan's thresholds on the whole run (exit 99 when one fails). \
            Bundles of another plan, other flags or another volley version are refused.

            Examples:
              volley merge seg-0.json seg-1.json seg-2.json
              volley merge bundles/*.json --json --junit results.xml --html report.html
            """
    )

    @Argument(help: "The bundles, one per segment.")
    var bundles: [String]

    @Flag(help: "Merge even when segments are missing (a machine died); the result says which, and exits 1.")
    var allowMissing = false

    @Flag(help: "Print the summary as JSON on stdout (the human summary then goes to stderr).")
    var json = false

    @Option(help: "A label for the merged run in the history.")
    var label: String?

    @Flag(help: "Do not save the merged run to the history.")
    var noSave = false

    @Option(help: "Also write the merged run's HTML report to this file.")
    var html: String?

    @Option(help: "Also write the thresholds and checks as JUnit XML to this file.")
    var junit: String?

    func run() async throws {
        if let html { try OutputPath.check(html, flag: "--html") }
        if let junit { try OutputPath.check(junit, flag: "--junit") }
        var inputs: [BundleMerge.Input] = []
        for path in bundles {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw InputError(
                    "cannot read the bundle \(path): \(error.localizedDescription)",
                    hint: "bundles are written by volley run --bundle FILE"
                )
            }
            inputs.append(BundleMerge.Input(try ResultBundle.decode(data, path: path), source: path))
        }
        let merged = try BundleMerge.merge(inputs, allowMissing: allowMissing)
        try Self.present(
            merged,
            output: ResultOutput(json: json, label: label, noSave: noSave, html: html, junit: junit)
        )
    }

    /// Shows and keeps a merged run like any other (also segment 0's, after a rendezvous).
    static func present(_ merged: BundleMerge.Merged, output: ResultOutput) throws {
        let outcome = RunCommand.Outcome(
            summary: merged.summary,
            histograms: merged.histograms,
            kind: merged.kind,
            startedAt: merged.startedAt,
            stoppedBy: nil
        )
        try output.present(outcome, humanFD: output.json ? STDERR_FILENO : STDOUT_FILENO)
    }
}
