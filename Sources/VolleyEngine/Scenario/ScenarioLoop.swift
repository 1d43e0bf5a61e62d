import NIOCore
import NIOSSL
import Synchronization
import VolleyCore

/// State a scenario shares across event loops: the shared-iterations budget and the feed
/// cursors. One atomic operation per iteration at most.
final class ScenarioShared: Sendable {
    let iterations: RequestBudget?
    let feedCursors: [String: AtomicCounter]
    /// Which of the run's feed rows this segment's iterations take (every row in a run of
    /// one machine): segments take alternate rows, so unique rows never overlap.
    let rows: Stripe

    init(iterations: Int?, feeds: [String], rows: Stripe = Stripe(index: 0, count: 1)) {
        self.rows = rows
        self.iterations = iterations.map { RequestBudget($0) }
        var cursors: [String: AtomicCounter] = [:]
        for f in feeds { cursors[f] = AtomicCounter() }
        self.feedCursors = cursors
    }
}

/// A counter shared between loops (feed positions).
final class AtomicCounter: Sendable {
    private let value = Atomic<Int>(0)

    func next() -> Int { value.add(1, ordering: .relaxed).oldValue }
}

/// What every `ScenarioLoop` of a run needs to know, read-only.
struct ScenarioRunContext: Sendable {
    var builder: RequestBuilder
    var defaults: PlanDefaults
    var variables: [String: Template]
    var feeds: [String: FeedTable]
    var feedOrders: [String: DataFeed.Order]
    /// The run's TLS contexts, made when the first HTTPS connection needs one: ALPN
    /// http/1.1, and h2 for requests with `http: 2`.
    var tls: TLSContextSource
    var tlsH2: TLSContextSource
    var bodyLimit: Int
    var runPrefix: String
    var slowestCount: Int
    /// `--out samples.ndjson`, when asked for.
    var samples: SampleFile?
    /// Plain HTTP on Linux: VUs connect sockets themselves and write with `send(2)`.
    var directSockets = true
    /// Addresses resolved before the run (the base URL's host), so that no VU waits for a
    /// first connection to resolve them.
    var addresses: [Authority: SocketAddress] = [:]
    /// How long a connect (TCP and TLS together) may take.
    var connectTimeout: TimeAmount = .seconds(10)
    /// This machine's share of a run split over several (`--segment i/N`).
    var segment: ExecutionSegment = .whole
}

/// One scenario's VUs on one event loop, and the executor that starts and stops them.
///
/// All methods run on `loop`; VUs of a scenario are spread over the loops (VU `n` lives on
/// loop `n mod loops`), so each loop runs its share of the executor's schedule.
final class ScenarioLoop: HostedLoad, @unchecked Sendable {
    // Safety of @unchecked Sendable: handed between threads only to be called through
    // `loop.execute`/`submit`; all mutable state is touched on `loop` alone.

    let index: Int
    let loopCount: Int
    let loop: any EventLoop
    let scenario: Scenario
    let shared: ScenarioShared
    let run: ScenarioRunContext
    var recorder: ScenarioRecorder
    /// Per-request samples, with the request names to label them.
    let samples: SampleWriter?
    let requestNames: [String]
    /// The scenario's steps with their recording ids.
    let steps: [CompiledStep]
    let patterns = PatternCache()
    /// Requests written and not yet answered, for progress.
    var inFlight = 0
    /// Connections with a request outstanding, swept for timeouts. An array with each
    /// connection's position stored in it: a dictionary cost two hashes per request.
    private var busy = SlotList<VirtualUser.Connection>()
    private var sweep: RepeatedTask?

    func track(_ c: VirtualUser.Connection) {
        busy.insert(c)
    }

    func untrack(_ c: VirtualUser.Connection) {
        busy.remove(c)
    }

    private func sweepTimeouts() {
        let t = now()
        for c in busy where c.deadline <= t {
            untrack(c)
            c.fail(.timeout, message: "no complete response within the step's timeout")
        }
    }

    /// The interval so far, with this loop's gauges: requests in flight, open connections
    /// and the VUs that exist (running or idle), so a plan's timeline shows its concurrency.
    /// Connections are counted by asking each VU, once a second (about 5 ms for 100,000
    /// VUs), rather than by a callback on every connection's close.
    func takeInterval() -> IntervalStats {
        var open = 0
        for vu in vus { open += vu.openConnectionCount }
        var stats = recorder.overall.takeInterval(inFlight: inFlight, openConnections: open, waiting: 0)
        stats.vus = vus.count
        return stats
    }
    private(set) var startNanos: UInt64 = 0
    /// Every VU of this loop; each knows its position (`slot`) so retiring one is O(1).
    /// Linear searches here made 50,000 VUs take minutes to wind down.
    private var vus = SlotList<VirtualUser>()
    var vuCount: Int { vus.count }
    private var idle: [VirtualUser] = []
    private var retiring = Set<ObjectIdentifier>()
    /// VUs created so far (their numbers), and those in an iteration now.
    private var created = 0
    var runningVUs = 0
    private var stopped = false
    private var finished = false
    private var requestSequence: UInt64 = 0
    /// The timers cancelled when the scenario finishes: its start and its end, a few per
    /// scenario. Arrivals do not add to it (see `arrivalTimer`).
    private var tasks: [Scheduled<Void>] = []
    /// The one timer for the next arrival, replaced as each fires. Keeping every arrival's
    /// timer until the end grew a 3,000/s plan by ~150 bytes per arrival (48 → 74 MB in 60 s).
    private var arrivalTimer: Scheduled<Void>?
    private var controller: RepeatedTask?
    private let donePromise: EventLoopPromise<Void>
    /// The variables of the last VU that retired: how setup steps hand their captures on.
    private(set) var retiredVariables: [String: String] = [:]

    // Arrival-rate executors.
    private var schedule: ArrivalSchedule?
    private var ticker: ArrivalTicker?
    private var maxVUs = 0

    /// Stored, not computed from `run`: a computed copy of these structs retained their
    /// arrays on every request.
    let defaults: PlanDefaults
    let builder: RequestBuilder
    let bodyLimit: Int
    var done: EventLoopFuture<Void> { donePromise.futureResult }

    init(
        index: Int,
        loopCount: Int,
        loop: any EventLoop,
        scenario: Scenario,
        steps: [CompiledStep],
        names: NameTable,
        shared: ScenarioShared,
        run: ScenarioRunContext
    ) {
        self.steps = steps
        self.index = index
        self.loopCount = loopCount
        self.loop = loop
        self.scenario = scenario
        self.shared = shared
        self.run = run
        self.defaults = run.defaults
        self.builder = run.builder
        self.bodyLimit = run.bodyLimit
        self.recorder = ScenarioRecorder(slowestCapacity: run.slowestCount, names: names)
        self.samples = run.samples.map { SampleWriter(file: $0) }
        self.requestNames = names.requests
        self.donePromise = loop.makePromise(of: Void.self)
        self.factory = ConnectionFactory(
            loop: loop,
            connectTimeout: run.connectTimeout,
            directSockets: run.directSockets
        )
        self.addresses = AddressBook(loop: loop, known: run.addresses)
    }

    // MARK: - Connections

    /// Opens every VU connection of this loop (direct sockets for plain HTTP on Linux).
    let factory: ConnectionFactory
    /// The addresses VUs connect to, each host name resolved once per loop.
    let addresses: AddressBook
    private var tlsSetups: [String: TLSSetup] = [:]
    private var tlsSetupsH2: [String: TLSSetup] = [:]

    /// The TLS settings for connections to `host` (the context is made on first use), with
    /// ALPN h2 for HTTP/2.
    func tlsSetup(for host: String, http2: Bool = false) throws -> TLSSetup {
        if let known = http2 ? tlsSetupsH2[host] : tlsSetups[host] { return known }
        let setup = TLSSetup(context: try (http2 ? run.tlsH2 : run.tls).context(), host: host)
        if http2 { tlsSetupsH2[host] = setup } else { tlsSetups[host] = setup }
        return setup
    }

    func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    /// The items of the whole run this loop owns (VU numbers, arrivals), across the loops of
    /// this process and the segments of a distributed run.
    var stripe: Stripe { run.segment.stripe(loop: index, of: loopCount) }

    func share(_ total: Int) -> Int { stripe.share(of: total) }

    /// The next request's sequence number on this loop.
    func nextSequence() -> UInt64 {
        requestSequence &+= 1
        return requestSequence
    }

    /// The id a request of this loop carried, spelled out only when it is shown.
    func requestID(_ sequence: UInt64) -> String {
        RequestID.text(prefix: run.runPrefix.utf8, loop: index, sequence: sequence)
    }

    /// The run-wide number of this segment's `local`-th feed row: segments take alternate
    /// rows, so unique rows never overlap between machines.
    private func segmentItem(_ local: Int) -> Int {
        shared.rows.item(local)
    }

    /// Picks this iteration's row of every feed; false when a unique feed is exhausted.
    func selectRows(for context: inout VUContext) -> Bool {
        for (name, table) in run.feeds {
            guard !table.rows.isEmpty else { return false }
            let order = run.feedOrders[name] ?? .sequential
            let row: Int
            switch order {
            case .random:
                row = Int.random(in: 0..<table.rows.count)
            case .sequential:
                row = segmentItem(shared.feedCursors[name]?.next() ?? 0) % table.rows.count
            case .unique(let recycle):
                let n = segmentItem(shared.feedCursors[name]?.next() ?? 0)
                if n >= table.rows.count && !recycle {
                    stop()
                    return false
                }
                row = n % table.rows.count
            }
            context.rows[name] = table.row(row)
        }
        return true
    }

    private func makeVU() -> VirtualUser {
        let number = stripe.item(created) + 1
        created += 1
        var variables: [String: String] = [:]
        let base = VUContext(number: number, iteration: 0, variables: [:])
        for (name, template) in run.variables {
            if case .success(let v) = base.render(template) { variables[name] = v }
        }
        let vu = VirtualUser(number: number, scenario: scenario, runner: self, variables: variables)
        vus.insert(vu)
        return vu
    }

    // MARK: - Lifecycle

    func begin(startNanos: UInt64) {
        self.startNanos = startNanos
        sweep = loop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) {
            [self] _ in sweepTimeouts()
        }
        let t0 = startNanos + scenario.startAfter.nanosecondsClamped
        at(t0) { [self] in startExecutor(t0) }
    }

    /// Timers this loop holds on to, for tests: it must stay bounded however long an
    /// arrival-rate scenario runs.
    var retainedTimerCount: Int { tasks.count + (arrivalTimer == nil ? 0 : 1) }

    private func at(_ deadline: UInt64, _ body: @escaping () -> Void) {
        tasks.append(loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(deadline)) { body() })
    }

    private func startExecutor(_ t0: UInt64) {
        guard !stopped else { return checkFinished() }
        switch scenario.executor {
        case .constantVUs(let n, let duration):
            at(t0 + duration.nanosecondsClamped) { [self] in stop() }
            startVUs(share(n)) { [self] in loopVU($0) }
        case .perVUIterations(let n, let iterations, let maxDuration):
            at(t0 + maxDuration.nanosecondsClamped) { [self] in stop() }
            startVUs(share(n)) { [self] in loopVU($0, remaining: iterations) }
        case .sharedIterations(let n, _, let maxDuration):
            at(t0 + maxDuration.nanosecondsClamped) { [self] in stop() }
            startVUs(share(n)) { [self] in loopVU($0) }
        case .rampingVUs(let startVUs, let stages, let grace):
            startRamping(t0, startVUs: startVUs, stages: stages, grace: grace)
        case .constantArrivalRate(let rate, let duration, let pre, let max):
            startArrivals(t0, ArrivalSchedule(rate: rate, duration: duration), pre: pre, max: max)
        case .rampingArrivalRate(let stages, let pre, let max):
            startArrivals(t0, ArrivalSchedule(stages: stages), pre: pre, max: max)
        }
        checkFinished()
    }

    /// VUs created per turn of the loop. Creating 500,000 in one synchronous loop held the
    /// loop for seconds, and Ctrl-C (a task queued on the same loop) waited behind it; a
    /// batch of 1,000 (each VU also opens its first connection) takes a few milliseconds.
    static let vuBatch = 1000
    /// Batches of `startVUs` still queued: the scenario is not finished while VUs are due.
    private var startsPending = 0

    /// Creates `count` VUs, `vuBatch` per loop turn, handing each to `start`; stops creating
    /// once the scenario is stopped.
    private func startVUs(_ count: Int, _ start: @escaping (VirtualUser) -> Void) {
        guard !stopped, count > 0 else { return }
        let now = min(count, Self.vuBatch)
        for _ in 0..<now { start(makeVU()) }
        guard count > now else { return }
        startsPending += 1
        loop.assumeIsolated().execute { [self] in
            startsPending -= 1
            startVUs(count - now, start)
            checkFinished()
        }
    }

    /// Keeps a VU iterating until the executor stops it or its own count runs out.
    private func loopVU(_ vu: VirtualUser, remaining: Int? = nil) {
        if let remaining, remaining <= 0 { return retire(vu) }
        // A VU retired (by a ramp-down) while it paused between iterations stays retired.
        guard vu.slot >= 0 else { return }
        guard !stopped, !retiring.contains(ObjectIdentifier(vu)) else { return retire(vu) }
        if let budget = shared.iterations, !budget.take() { return retire(vu) }
        vu.runIteration { [self] complete in
            count(complete)
            let left = remaining.map { $0 - 1 }
            if !vu.reachedNetwork && (left ?? 1) > 0 && !stopped {
                loop.assumeIsolated().scheduleTask(in: Self.idleIterationPause) { [self] in loopVU(vu, remaining: left)
                }
                return
            }
            // Next iteration on a new loop turn: no recursion however fast the steps are.
            loop.assumeIsolated().execute { [self] in loopVU(vu, remaining: left) }
        }
    }

    /// How long a VU waits after an iteration that sent nothing (every step skipped or
    /// refused as invalid) before the next: it took no time, and looping at once spun the
    /// loop at 500,000 iterations a second. 100 ms keeps such a VU to 10 iterations a second.
    static let idleIterationPause: TimeAmount = .milliseconds(100)

    private func count(_ complete: Bool) {
        if complete { recorder.iterationsCompleted += 1 } else { recorder.iterationsInterrupted += 1 }
    }

    private func retire(_ vu: VirtualUser) {
        retiredVariables = vu.context.variables
        vu.closeConnections()
        retiring.remove(ObjectIdentifier(vu))
        vus.remove(vu)
        checkFinished()
    }

    /// Stops the scenario: no new iterations; running ones end at their next step.
    func stop() {
        guard !stopped else { return }
        stopped = true
        controller?.cancel()
        for vu in vus where vu.isRunning { vu.requestStop() }
        // Idle VUs (arrival-rate pools) are only ever retired here, so `retire` need not
        // look for them in `idle`.
        let idleNow = idle
        idle.removeAll()
        for vu in idleNow { retire(vu) }
        checkFinished()
    }

    /// Ctrl-C: like `stop`, and in-flight requests are aborted.
    func interrupt() {
        stop()
        for vu in vus { vu.interrupt() }
    }

    private func checkFinished() {
        guard !finished else { return }
        guard stopped || (vus.isEmpty && controller == nil && schedule == nil && startsPending == 0), runningVUs == 0
        else { return }
        for vu in vus { vu.closeConnections() }
        finished = true
        sweep?.cancel()
        for t in tasks { t.cancel() }
        tasks.removeAll()
        arrivalTimer?.cancel()
        arrivalTimer = nil
        controller?.cancel()
        samples?.flush()
        donePromise.succeed()
    }

    // MARK: - ramping-vus

    private func startRamping(_ t0: UInt64, startVUs: Int, stages: [VUStage], grace: Duration) {
        let total = stages.reduce(UInt64(0)) { $0 + $1.duration.nanosecondsClamped }
        let schedule = VUSchedule(startVUs: startVUs, stages: stages)
        at(t0 + total) { [self] in stop() }
        controller = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(50)) { [self] _ in
            let target = share(schedule.target(at: Double(now() &- t0) / 1e9))
            // Counted, not filtered: this runs every 50 ms, with up to tens of thousands of VUs.
            let activeCount = vus.count - retiring.count
            if activeCount < target {
                // At most a batch per tick (20,000 VUs a second per loop): the loop stays free
                // for responses and Ctrl-C while a large ramp builds up.
                for _ in activeCount..<min(target, activeCount + Self.vuBatch) { loopVU(makeVU()) }
            } else if activeCount > target {
                var chosen: [VirtualUser] = []
                var i = vus.count - 1
                while chosen.count < activeCount - target, i >= 0 {
                    if !retiring.contains(ObjectIdentifier(vus[i])) { chosen.append(vus[i]) }
                    i -= 1
                }
                for vu in chosen {
                    retiring.insert(ObjectIdentifier(vu))
                    if !vu.isRunning { retire(vu) }
                    // Ramp-down is graceful: the iteration may finish within `grace`.
                    loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(grace.nanosecondsClamped))) { [weak vu] in
                        vu?.interrupt()
                    }
                }
            }
        }
    }

    // MARK: - Arrival-rate executors

    private func startArrivals(_ t0: UInt64, _ schedule: ArrivalSchedule, pre: Int, max: Int) {
        self.schedule = schedule
        ticker = ArrivalTicker(schedule: schedule, first: stripe.index, stride: stripe.count, startNanos: t0)
        maxVUs = Swift.max(share(max), share(pre))
        for _ in 0..<share(pre) { idle.append(makeVU()) }
        at(t0 + schedule.totalDuration.nanosecondsClamped) { [self] in
            self.schedule = nil
            stop()
        }
        arrive(t0)
    }

    private func arrive(_ t0: UInt64) {
        guard var ticker, !stopped else { return }
        let t = now()
        ticker.release(upTo: t) { startArrival(due: $0) }
        self.ticker = ticker
        if let wake = ticker.wakeUp(after: t) {
            arrivalTimer = loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(wake)) { [self] in
                arrive(t0)
            }
        }
    }

    private func startArrival(due: UInt64) {
        let vu: VirtualUser
        if let v = idle.popLast() {
            vu = v
        } else if vus.count < maxVUs {
            vu = makeVU()
        } else {
            recorder.iterationsDropped += 1
            return
        }
        vu.iterationDue = due
        vu.runIteration { [self] complete in
            count(complete)
            if stopped { retire(vu) } else { idle.append(vu) }
        }
    }
}

/// The ramping-vus target over time: linear from each stage's start to its target.
public struct VUSchedule: Equatable, Sendable {
    public var startVUs: Int
    public var stages: [VUStage]

    public init(startVUs: Int, stages: [VUStage]) {
        self.startVUs = startVUs
        self.stages = stages
    }

    /// The number of VUs wanted `seconds` after the scenario started.
    public func target(at seconds: Double) -> Int {
        var from = Double(startVUs)
        var t = seconds
        for s in stages {
            let d = s.duration.seconds
            if t < d {
                return Int((from + (Double(s.target) - from) * (d > 0 ? t / d : 1)).rounded())
            }
            t -= d
            from = Double(s.target)
        }
        return stages.last?.target ?? startVUs
    }
}
