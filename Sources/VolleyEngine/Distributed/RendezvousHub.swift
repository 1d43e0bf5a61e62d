import NIOCore
import Synchronization

/// Lines to write, each to one segment's connection; computed under the hub's lock and
/// written after it is released (no I/O under a lock).
struct Outbox: Sendable {
    var items: [(NIOAsyncChannelOutboundWriter<ByteBuffer>, ByteBuffer)] = []

    func send() async {
        // A segment whose connection closed meanwhile is handled by its close; its write
        // failing here changes nothing.
        for (writer, line) in items { try? await writer.write(line) }
    }
}

/// Segment 0's rendezvous state: who registered, the barrier, the start, aborts and bundles.
/// Every event is a method that changes the state and returns what to send; the connections
/// and timers of `RendezvousServer` perform the sends.
final class RendezvousHub: Sendable {
    enum Phase: Equatable {
        case gathering
        case settingUp
        case started(at: Int64)
        case failed(RendezvousAbort)
    }

    struct Member {
        var registration: SegmentRegistration
        var writer: NIOAsyncChannelOutboundWriter<ByteBuffer>?
    }

    struct State {
        var phase = Phase.gathering
        var members: [Int: Member] = [:]
        var bundles: [Int: [UInt8]] = [:]
        var lost: [Int: String] = [:]
        var aborts: [RendezvousAbort] = []
        var problems: [String] = []
        var collected = false
        var waiter: CheckedContinuation<Void, Never>?
        var setupRuns = 0
    }

    let config: RendezvousConfig
    let state = Mutex(State())
    var count: Int { config.segment.count }

    init(config: RendezvousConfig) { self.config = config }

    enum RegisterOutcome {
        case accepted(reply: ByteBuffer, runSetup: Bool)
        case refused(reply: ByteBuffer)
    }

    func register(
        _ r: RendezvousMessage.RegisterRequest,
        peer: String,
        writer: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) -> RegisterOutcome {
        state.withLock { s in
            func refuse(_ reason: String, _ hint: String) -> RegisterOutcome {
                s.problems.append("refused \(peer): \(reason)")
                return .refused(reply: RendezvousMessage.refused(reason: reason, hint: hint).encoded())
            }
            let who = "segment \(r.segment)/\(r.count) at \(peer)"
            if r.protocolVersion != RendezvousMessage.protocolVersion {
                return refuse(
                    "\(who) speaks rendezvous protocol \(r.protocolVersion), segment 0 speaks "
                        + "\(RendezvousMessage.protocolVersion)",
                    "run the same Volley version on every segment"
                )
            }
            if r.runKey != config.runKey {
                return refuse(
                    "\(who) runs another plan or Volley version (run key \"\(r.runKey)\", segment 0's is "
                        + "\"\(config.runKey)\")",
                    "give every segment the same plan file and the same Volley image"
                )
            }
            if r.count != count {
                return refuse(
                    "\(who) says the run has \(r.count) segments; segment 0 says \(count)",
                    "pass the same --segment I/\(count) count (or VOLLEY_SEGMENTS) to every segment"
                )
            }
            if r.segment < 0 || r.segment >= count {
                return refuse("\(who) is not a segment of a run of \(count)", "segments are 0 to \(count - 1)")
            }
            if let existing = s.members[r.segment] {
                return refuse(
                    "segment \(r.segment)/\(count) is already registered (from \(existing.registration.peer)); "
                        + "\(peer) registered it again",
                    "give every segment its own index (--segment I/N or JOB_COMPLETION_INDEX)"
                )
            }
            if case .failed(let abort) = s.phase {
                return refuse("the rendezvous already failed: \(abort.reason)", "start the run again")
            }
            s.members[r.segment] = Member(
                registration: SegmentRegistration(
                    segment: r.segment,
                    offsetNanoseconds: r.offsetNanoseconds,
                    rttNanoseconds: r.rttNanoseconds,
                    registeredAt: WallClock.now(),
                    peer: peer
                ),
                writer: writer
            )
            let all = s.members.count == count && s.phase == .gathering
            if all {
                s.phase = .settingUp
                s.setupRuns += 1
            }
            let reply = RendezvousMessage.registered(registered: s.members.count, count: count).encoded()
            return .accepted(reply: reply, runSetup: all)
        }
    }

    /// The setup ran (or failed): announce the start, or abort everyone.
    func setupFinished(_ result: Result<[String: String], any Error>) -> Outbox {
        state.withLock { s in
            guard s.phase == .settingUp else { return Outbox() }
            switch result {
            case .success(let variables):
                let at = WallClock.now() + config.startDelay.rendezvousNanoseconds
                s.phase = .started(at: at)
                return Self.broadcast(s, .start(at: at, variables: variables), except: nil)
            case .failure(let error):
                let abort = RendezvousAbort(
                    reason: "the plan's setup failed on segment 0: \(error)",
                    segment: 0,
                    kind: .setupFailed
                )
                return Self.fail(&s, abort)
            }
        }
    }

    /// The barrier time-out passed: if not everyone is in, the run fails naming who is missing.
    func barrierDeadlinePassed() -> Outbox {
        state.withLock { s in
            guard s.phase == .gathering else { return Outbox() }
            let missing = (0..<count).filter { s.members[$0] == nil }
            let abort = RendezvousAbort(
                reason: "\(s.members.count) of \(count) segments registered within "
                    + "\(config.barrierTimeout.rendezvousText): missing \(missing.map(String.init).joined(separator: ", "))",
                segment: nil,
                kind: .barrierTimeout
            )
            return Self.fail(&s, abort)
        }
    }

    /// Segment `index` asked for the run to stop: relay it to every other segment.
    func abortRequested(by index: Int, reason: String) -> Outbox {
        state.withLock { s in
            let abort = RendezvousAbort(
                reason: "\(config.name(index)) aborted the run: \(reason)",
                segment: index,
                kind: .aborted
            )
            if s.phase == .gathering || s.phase == .settingUp { return Self.fail(&s, abort, except: index) }
            s.aborts.append(abort)
            return Self.broadcast(s, .abort(abort), except: index)
        }
    }

    /// Segment `index` delivered its bundle.
    func bundleReceived(from index: Int, _ data: [UInt8]) {
        state.withLock { s in
            s.bundles[index] = data
            Self.resumeIfComplete(&s, count: count)
        }
    }

    /// Segment `index`'s connection ended. Before its bundle, it is lost: everyone else is told.
    func connectionClosed(_ index: Int, cause: String?) -> Outbox {
        state.withLock { s in
            s.members[index]?.writer = nil
            guard s.bundles[index] == nil, !s.collected, s.lost[index] == nil else { return Outbox() }
            let reason =
                "\(config.name(index)) lost: connection closed before its results" + (cause.map { " (\($0))" } ?? "")
            s.lost[index] = reason
            let abort = RendezvousAbort(reason: reason, segment: index, kind: .connectionLost)
            defer { Self.resumeIfComplete(&s, count: count) }
            if s.phase == .gathering || s.phase == .settingUp { return Self.fail(&s, abort, except: index) }
            s.aborts.append(abort)
            return Self.broadcast(s, .abort(abort), except: index)
        }
    }

    func recordProblem(_ text: String) { state.withLock { $0.problems.append(text) } }

    // MARK: - Collection

    /// Stores segment 0's own bundle and waits until every segment's bundle is in or its
    /// segment is lost, or `timeout` passes.
    func collect(own: [UInt8], timeout: Duration) async -> BundleCollection {
        state.withLock { s in
            s.bundles[0] = own
            s.lost[0] = nil
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitUntilComplete() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return state.withLock { s in
            s.collected = true
            var missing: [Int: String] = [:]
            for i in 0..<count where s.bundles[i] == nil {
                missing[i] =
                    s.lost[i]
                    ?? (s.members[i] == nil
                        ? "\(config.name(i)) never registered"
                        : "\(config.name(i)) sent no results within \(timeout.rendezvousText)")
            }
            return BundleCollection(bundles: s.bundles, missing: missing)
        }
    }

    private func waitUntilComplete() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                state.withLock { s in
                    if Task.isCancelled || Self.isComplete(s, count: count) {
                        c.resume()
                    } else {
                        s.waiter = c
                    }
                }
            }
        } onCancel: {
            state.withLock { s in
                s.waiter?.resume()
                s.waiter = nil
            }
        }
    }

    // MARK: - Helpers (called under the lock)

    private static func isComplete(_ s: State, count: Int) -> Bool {
        (0..<count).allSatisfy { s.bundles[$0] != nil || s.lost[$0] != nil }
    }

    private static func resumeIfComplete(_ s: inout State, count: Int) {
        guard isComplete(s, count: count), let waiter = s.waiter else { return }
        s.waiter = nil
        waiter.resume()
    }

    private static func fail(_ s: inout State, _ abort: RendezvousAbort, except: Int? = nil) -> Outbox {
        s.phase = .failed(abort)
        s.aborts.append(abort)
        return broadcast(s, .abort(abort), except: except)
    }

    private static func broadcast(_ s: State, _ message: RendezvousMessage, except: Int?) -> Outbox {
        let line = message.encoded()
        var outbox = Outbox()
        for (index, member) in s.members.sorted(by: { $0.key < $1.key }) where index != except {
            if let writer = member.writer { outbox.items.append((writer, line)) }
        }
        return outbox
    }
}

/// What segment 0 collected at the end of a run.
public struct BundleCollection: Sendable {
    /// The bundles that arrived, by segment index (segment 0's own included).
    public var bundles: [Int: [UInt8]]
    /// The segments without a bundle and why ("segment 2/3 lost: connection closed before
    /// its results"); empty when the run is whole.
    public var missing: [Int: String]

    /// Whether every segment's bundle is in.
    public var isComplete: Bool { missing.isEmpty }
}
