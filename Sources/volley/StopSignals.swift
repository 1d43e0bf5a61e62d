import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The signals that stop a load: Ctrl-C, and what `timeout`, `docker stop`, Kubernetes and CI
/// cancellation send (SIGTERM) or a closed terminal sends (SIGHUP). All three mean "stop,
/// summarise, save"; the exit code says which one came (128 + the signal's number, as a shell
/// reports a process killed by it).
enum StopSignal: Sendable, CaseIterable {
    case interrupt
    case terminate
    case hangup

    var number: Int32 {
        switch self {
        case .interrupt: SIGINT
        case .terminate: SIGTERM
        case .hangup: SIGHUP
        }
    }

    var exit: VolleyExit {
        switch self {
        case .interrupt: .interrupted
        case .terminate: .terminated
        case .hangup: .hangup
        }
    }

    var name: String {
        switch self {
        case .interrupt: "SIGINT"
        case .terminate: "SIGTERM"
        case .hangup: "SIGHUP"
        }
    }
}

/// What the stop signals received so far mean; a value with no clock of its own, so that the
/// timing rule is tested with made-up instants.
///
/// The first signal stops gracefully. Another one counts as "exit now" only when it comes at
/// least `exitNowAfter` after the first: `timeout -s INT` signals the process and then its
/// whole group microseconds later, and taking that echo for a second Ctrl-C lost the summary
/// in 4 of 16 runs. A person pressing Ctrl-C twice is never that fast.
struct StopSignalState<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// What the watcher does with one signal.
    enum Action: Equatable, Sendable {
        /// The first signal: stop the load, keep the summary.
        case stop(StopSignal)
        /// A repeat too soon after the first to be a person's second press.
        case ignore
        /// A later repeat: quit at once with the first signal's exit code.
        case exitNow(StopSignal)
    }

    static var exitNowAfter: Duration { .seconds(1) }

    private(set) var first: (signal: StopSignal, at: Instant)?

    init() {}

    mutating func received(_ signal: StopSignal, at now: Instant) -> Action {
        guard let first else {
            self.first = (signal, now)
            return .stop(signal)
        }
        return first.at.duration(to: now) >= Self.exitNowAfter ? .exitNow(first.signal) : .ignore
    }
}

/// Delivers SIGINT, SIGTERM and SIGHUP to the load: the first stops it gracefully (the summary
/// is still printed and the run saved), a later one (see ``StopSignalState``) exits at once.
///
/// One watcher serves a whole command: an experiment (sweep, ab, find-max, time) points it at
/// each level's engine in turn with ``setTarget(_:)``, and reads ``signal`` between levels, so
/// a signal is never lost in the gap between two runs.
///
/// The signals are ignored at the process level and observed through Dispatch signal
/// sources, as swift-service-lifecycle does: the handler then runs on a queue, not in signal
/// context, so it may take locks and hop to event loops.
final class InterruptWatcher: Sendable {
    private let state = Mutex(StopSignalState<ContinuousClock.Instant>())
    private let target: Mutex<(@Sendable () -> Void)?>
    // Dispatch sources are thread-safe objects (their API may be called from any thread);
    // they are just not annotated Sendable.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]
    private let message: String

    init(
        message: String = "stopping (in-flight requests get a short grace; Ctrl-C again after a second to quit now)",
        onInterrupt handler: (@Sendable () -> Void)? = nil
    ) {
        self.target = Mutex(handler)
        self.message = message
        self.sources = StopSignal.allCases.map {
            DispatchSource.makeSignalSource(signal: $0.number, queue: .global())
        }
    }

    func start() {
        for (stop, source) in zip(StopSignal.allCases, sources) {
            signal(stop.number, SIG_IGN)
            source.setEventHandler { [self] in received(stop) }
            source.resume()
        }
    }

    func stop() {
        for (stop, source) in zip(StopSignal.allCases, sources) {
            source.cancel()
            signal(stop.number, SIG_DFL)
        }
    }

    /// Makes `handler` the thing the next signal stops; when a signal came already, stops it now.
    func setTarget(_ handler: (@Sendable () -> Void)?) {
        target.withLock { $0 = handler }
        if stoppedBy != nil { handler?() }
    }

    /// The first signal received, if any.
    var stoppedBy: StopSignal? { state.withLock { $0.first?.signal } }

    var interrupted: Bool { stoppedBy != nil }

    private func received(_ stop: StopSignal) {
        let action = state.withLock { $0.received(stop, at: .now) }
        switch action {
        case .stop(let first):
            let what = first == .interrupt ? "" : " (\(first.name))"
            Terminal.writeError("\nvolley: \(message)\(what)\n")
            target.withLock { $0 }?()
        case .ignore:
            break
        case .exitNow(let first):
            exit(first.exit.rawValue)
        }
    }
}

extension InterruptWatcher {
    /// The watcher a run answers to, with `handler` as what a signal stops: the command's own
    /// when it shares one across runs (an experiment's levels), or a new one started here.
    /// Call the returned `finish` when the run is over; it undoes exactly what this did.
    static func watching(
        _ shared: InterruptWatcher?,
        stop handler: @escaping @Sendable () -> Void
    ) -> (watcher: InterruptWatcher, finish: () -> Void) {
        let watcher = shared ?? InterruptWatcher()
        watcher.setTarget(handler)
        if shared == nil { watcher.start() }
        return (
            watcher,
            {
                watcher.setTarget(nil)
                if shared == nil { watcher.stop() }
            }
        )
    }
}
