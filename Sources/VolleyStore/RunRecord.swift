import Foundation
import VolleyCore

/// Where and with what a run was made, so that two runs can be judged comparable (same
/// machine, same version) before their numbers are.
public struct RunEnvironment: Sendable, Codable, Equatable {
    public var host: String
    public var cores: Int
    public var os: String
    public var volleyVersion: String
    /// `git rev-parse HEAD` of the working directory, when it is inside a repository.
    public var gitCommit: String?
    public var workingDirectory: String

    enum CodingKeys: String, CodingKey {
        case host, cores, os
        case volleyVersion = "volley_version"
        case gitCommit = "git_commit"
        case workingDirectory = "working_directory"
    }

    public init(
        host: String,
        cores: Int,
        os: String,
        volleyVersion: String,
        gitCommit: String?,
        workingDirectory: String
    ) {
        self.host = host
        self.cores = cores
        self.os = os
        self.volleyVersion = volleyVersion
        self.gitCommit = gitCommit
        self.workingDirectory = workingDirectory
    }

    /// This process's environment. Runs `git` once (bounded to 2 s) for the commit.
    public static func current() -> RunEnvironment {
        let info = ProcessInfo.processInfo
        let cwd = FileManager.default.currentDirectoryPath
        return RunEnvironment(
            host: info.hostName,
            cores: info.activeProcessorCount,
            os: info.operatingSystemVersionString,
            volleyVersion: VolleyVersion.current,
            gitCommit: gitCommit(in: cwd),
            workingDirectory: cwd
        )
    }

    static func gitCommit(in directory: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory, "rev-parse", "HEAD"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning {
            process.terminate()
            return nil
        }
        guard process.terminationStatus == 0 else { return nil }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return text.count == 40 ? text : nil
    }
}

/// One run as the history keeps it.
public struct RunRecord: Sendable {
    /// Assigned by the store on save.
    public var id: Int64?
    public var startedAt: Date
    /// A free-text label (`--label "cache on"`), for finding and comparing runs.
    public var label: String?
    /// "url", "plan" or "demo".
    public var kind: String
    public var target: String
    /// The plan's name (plan runs).
    public var plan: String?
    /// The command line as given, so that a run can be repeated.
    public var command: [String]
    public var environment: RunEnvironment
    public var summary: RunSummary
    public var exitCode: Int32
    /// The per-request samples file (`--out`), when one was written; reports draw it.
    public var samplesPath: String?
    /// The plan file's text as it was run (plan runs), so that a run can be repeated or
    /// explained after the file has changed.
    public var planSource: String?

    public init(
        id: Int64? = nil,
        startedAt: Date,
        label: String?,
        kind: String,
        target: String,
        plan: String?,
        command: [String],
        environment: RunEnvironment,
        summary: RunSummary,
        exitCode: Int32
    ) {
        self.id = id
        self.startedAt = startedAt
        self.label = label
        self.kind = kind
        self.target = target
        self.plan = plan
        self.command = command
        self.environment = environment
        self.summary = summary
        self.exitCode = exitCode
    }
}

/// A saved run with its histograms, as loaded back.
public struct StoredRun: Sendable {
    public var record: RunRecord
    public var histograms: RunHistograms?

    public init(record: RunRecord, histograms: RunHistograms?) {
        self.record = record
        self.histograms = histograms
    }
}

/// One line of `volley history`.
public struct RunListing: Sendable, Codable, Equatable {
    public var id: Int64
    public var startedAt: Date
    public var label: String?
    public var kind: String
    public var target: String
    public var plan: String?
    public var requests: Int
    public var rps: Double
    public var p50Ms: Double
    public var p99Ms: Double
    public var errorRate: Double
    public var durationS: Double
    public var exitCode: Int32

    enum CodingKeys: String, CodingKey {
        case id
        case startedAt = "started_at"
        case label, kind, target, plan, requests, rps
        case p50Ms = "p50_ms"
        case p99Ms = "p99_ms"
        case errorRate = "error_rate"
        case durationS = "duration_s"
        case exitCode = "exit_code"
    }
}

/// Which runs `volley history` lists.
public struct HistoryFilter: Sendable {
    public var label: String?
    public var target: String?
    public var since: Date?
    public var until: Date?
    public var limit: Int

    public init(label: String? = nil, target: String? = nil, since: Date? = nil, until: Date? = nil, limit: Int = 50) {
        self.label = label
        self.target = target
        self.since = since
        self.until = until
        self.limit = limit
    }
}

/// An experiment — a sweep, a matrix, a find-max — as the history keeps it.
public struct ExperimentRecord: Sendable {
    public var id: Int64?
    public var startedAt: Date
    /// "sweep", "matrix" or "find-max".
    public var kind: String
    public var label: String?
    public var target: String
    public var command: [String]
    /// The experiment's result as JSON (what its command prints with `--json`).
    public var result: String

    public init(
        id: Int64? = nil,
        startedAt: Date,
        kind: String,
        label: String?,
        target: String,
        command: [String],
        result: String
    ) {
        self.id = id
        self.startedAt = startedAt
        self.kind = kind
        self.label = label
        self.target = target
        self.command = command
        self.result = result
    }
}

/// The one JSON form of experiment results: what `--json` prints, what the history keeps and
/// what reports read back.
public enum ExperimentJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: Data(text.utf8))
    }
}
