import Foundation
import Synchronization
import VolleyAnalysis
import VolleyCore
import VolleyEngine

/// One segment's part in a run coordinated through segment 0's rendezvous (`volley run
/// --segment i/N --rendezvous HOST:PORT`): register, receive one start time and segment 0's
/// setup captures, relay aborts both ways, and at the end deliver this segment's bundle — or,
/// on segment 0, collect every bundle and merge them into the run to present.
final class DistributedRun: Sendable {
    let config: RendezvousConfig
    /// The segment's result bundle from its outcome (the command's run key and clock offset).
    let makeBundle: @Sendable (RunCommand.Outcome, RendezvousSession) throws -> ResultBundle
    /// How long segment 0 waits for the others' bundles after its own run ended.
    let collectTimeout: Duration
    /// `--bundle FILE` beside `--rendezvous`: this segment's own bundle, also kept locally.
    let localCopy: String?
    private let current = Mutex<RendezvousSession?>(nil)

    init(
        config: RendezvousConfig,
        collectTimeout: Duration,
        localCopy: String?,
        makeBundle: @escaping @Sendable (RunCommand.Outcome, RendezvousSession) throws -> ResultBundle
    ) {
        self.config = config
        self.collectTimeout = collectTimeout
        self.localCopy = localCopy
        self.makeBundle = makeBundle
    }

    var isSegment0: Bool { config.segment.index == 0 }

    /// The engine's part: start at the agreed time with segment 0's setup variables (the
    /// setup runs on segment 0 only, through the rendezvous), keep each second's histogram,
    /// tell the others when one of this segment's abort thresholds stops the run.
    func engineOptions() -> EngineOptions {
        EngineOptions(
            startGate: { [self] _ in
                guard let session = current.withLock({ $0 }) else {
                    throw RendezvousError(.connectionLost, "the run started outside its rendezvous")
                }
                try await session.waitUntilStart()
                return session.variables
            },
            keepIntervals: true,
            runsSetup: false,
            runsTeardown: isSegment0,
            onAbort: { [self] reason in
                guard let session = current.withLock({ $0 }) else { return }
                Task { try? await session.abort(reason: reason) }
            }
        )
    }

    /// Joins (hosting the rendezvous on segment 0), runs `load` once the start is agreed,
    /// and returns the outcome to present: the merged run on segment 0, this segment's own
    /// elsewhere (after its bundle reached segment 0). `stop` is called when another segment
    /// aborts (a threshold with abort_on_fail: its expression is the reason) or is lost.
    func coordinate(
        setup: RendezvousServer.Setup?,
        stop: @escaping @Sendable (RendezvousAbort) -> Void,
        load: () async throws -> RunCommand.Outcome
    ) async throws -> RunCommand.Outcome {
        do {
            if isSegment0 {
                return try await RendezvousServer.withServer(config, setup: setup) { server in
                    try await joined(server: server, stop: stop, load: load)
                }
            }
            return try await joined(server: nil, stop: stop, load: load)
        } catch let error as RendezvousError {
            throw CLIError(message: error.message, hint: error.hint, code: .failure)
        }
    }

    private func joined(
        server: RendezvousServer?,
        stop: @escaping @Sendable (RendezvousAbort) -> Void,
        load: () async throws -> RunCommand.Outcome
    ) async throws -> RunCommand.Outcome {
        try await RendezvousClient.withSession(config, server: server, onAbort: stop) { session in
            current.withLock { $0 = session }
            var outcome = try await load()
            // Stopped because a segment was lost (not by a threshold): the run failed.
            if let abort = session.firstAbort, abort.kind != .aborted { outcome.failure = abort.reason }
            let bundle = try makeBundle(outcome, session)
            let data = try bundle.encoded()
            if let localCopy { try RunCommand.write(data, to: localCopy) }
            let bytes = [UInt8](data)
            guard let server else {
                try await session.deliver(bundle: bytes, timeout: collectTimeout)
                Terminal.writeError(
                    "volley: segment \(config.segment.description): results delivered to segment 0, which merges and judges the run\n"
                )
                var own = outcome
                own.judgedBySegment0 = true
                return own
            }
            let collection = await server.collect(own: bytes, timeout: collectTimeout)
            return try merged(collection, server: server, own: outcome)
        }
    }

    /// Segment 0: every bundle that arrived, merged; the missing ones named (the run fails).
    private func merged(
        _ collection: BundleCollection,
        server: RendezvousServer,
        own: RunCommand.Outcome
    ) throws -> RunCommand.Outcome {
        var inputs: [BundleMerge.Input] = []
        for (index, bytes) in collection.bundles.sorted(by: { $0.key < $1.key }) {
            let source = "segment \(index)/\(config.segment.count)'s bundle"
            inputs.append(BundleMerge.Input(try ResultBundle.decode(Data(bytes), path: source), source: source))
        }
        for (index, reason) in collection.missing.sorted(by: { $0.key < $1.key }) {
            Terminal.writeError("volley: segment \(index)/\(config.segment.count) missing: \(reason)\n")
        }
        let merged = try BundleMerge.merge(inputs, allowMissing: true, missingReasons: collection.missing)
        var outcome = own
        if outcome.failure == nil, let lost = collection.missing.sorted(by: { $0.key < $1.key }).first {
            outcome.failure = lost.value
        }
        outcome.summary = merged.summary
        outcome.histograms = merged.histograms
        outcome.startedAt = merged.startedAt
        outcome.samplesPath = own.samplesPath
        return outcome
    }
}
