import Foundation
import VolleyAnalysis
import VolleyCore
import VolleyStore

/// What `volley ab --json` prints and the history keeps as an "ab" experiment. An A/A
/// experiment (`same_target`) is also the noise floor `compare` uses for single runs of
/// that target and load.
struct AbReport: Codable {
    struct Side: Codable {
        var label: String
        /// The URL or plan file as given.
        var target: String
    }

    struct Load: Codable {
        var model: String
        var connections: Int?
        var rate: Double?
        var durationS: Double
    }

    var kind = "ab"
    var a: Side
    var b: Side
    /// Both sides ran the same URL or plan (with the same variables): an A/A calibration.
    var sameTarget: Bool
    /// The first round's run target and plan name, as saved runs carry them, so that
    /// `compare` can find the calibration of a run.
    var target: String
    var plan: String?
    var load: Load
    var decision: RoundComparison
    /// The history's id of this experiment (E<id>), when it was saved.
    var experiment: Int64?

    init(a: Side, b: Side, first: RunSummary, decision: RoundComparison) {
        self.a = a
        self.b = b
        sameTarget = a.target == b.target
        target = first.target
        plan = first.plan
        load = Load(model: first.model, connections: first.connections, rate: first.rate, durationS: first.durationS)
        self.decision = decision
    }

    /// Saves it as an experiment; returns its id, or nil (with a warning) when saving failed.
    func save(startedAt: Date) -> Int64? {
        do {
            let store = try HistoryStore(directory: HistoryStore.defaultDirectory())
            return try store.saveExperiment(
                ExperimentRecord(
                    startedAt: startedAt,
                    kind: "ab",
                    label: "\(a.label) vs \(b.label)",
                    target: target,
                    command: Redaction.commandLine(Array(CommandLine.arguments.dropFirst())),
                    result: try ExperimentJSON.encode(self)
                )
            )
        } catch let error as HistoryError {
            Terminal.writeError("volley: warning: \(error.message)\n")
        } catch {
            Terminal.writeError("volley: warning: the ab experiment was not saved: \(error)\n")
        }
        return nil
    }

    /// The newest A/A experiment of `run`'s target and load shape (model, connections, rate)
    /// with at least 3 rounds: the between-run noise of that kind of run on this machine.
    static func calibration(for run: RunSummary, in store: HistoryStore) -> NoiseCalibration? {
        guard let experiments = try? store.experiments(limit: 1_000) else { return nil }
        for e in experiments.reversed() where e.kind == "ab" {
            guard let report = try? ExperimentJSON.decode(AbReport.self, from: e.result), report.sameTarget,
                report.target == run.target, report.plan == run.plan, report.load.model == run.model,
                report.load.connections == run.connections, report.load.rate == run.rate,
                let calibration = NoiseCalibration(experiment: e.id, report.decision)
            else { continue }
            return calibration
        }
        return nil
    }
}

/// `--json` for commands whose progress lines go to stdout: everything printed goes to stderr
/// instead, and the JSON alone to the original stdout, so `| jq` reads one document.
enum JSONStdout {
    /// Points stdout at stderr; returns a descriptor of the original stdout.
    static func divert() -> Int32 {
        let original = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        return original
    }

    static func write(_ text: String, to fd: Int32) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { break }
            offset += n
        }
    }
}
