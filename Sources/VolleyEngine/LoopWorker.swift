import NIOCore
import NIOPosix
import NIOSSL
import VolleyCore

#if canImport(Glibc)
import Glibc
#endif

/// TLS settings shared by every connection of a run.
struct TLSSetup: Sendable {
    let context: NIOSSLContext
    /// The SNI name; nil when the target is an IP address.
    let serverHostname: String?
}

/// The load one event loop generates: its connections, its share of the schedule and its
/// recorder (wrk's per-thread state).
///
/// Every method runs on `loop`; nothing is shared with other loops except the closed
/// model's atomic `RequestBudget`. That is what keeps locks off the hot path.
final class LoopWorker: @unchecked Sendable {
    // Safety of @unchecked Sendable: the worker is handed between threads only to be called
    // through `loop.execute`/`submit`/`scheduleTask`; all mutable state is touched on `loop`
    // alone (entry points from other threads hop there first).

    let index: Int
    let loop: any EventLoop
    let encoder: RequestEncoder
    let keepAlive: Bool
    let isOpenModel: Bool
    /// The run's time zero on the monotonic clock, set by `begin` (after the warm-up).
    private(set) var startNanos: UInt64 = 0
    private let requestTimeoutNanos: UInt64
    private let connectTimeout: TimeAmount
    /// After the duration, how long requests in flight may still finish.
    private let endGrace: Duration
    /// Requests failed on a reused connection and waiting to be sent again (carried by a
    /// connection being opened, or by one about to close): work the loop must finish.
    private var retriesPending = 0
    /// Ctrl-C (or the end grace) has begun: nothing is retried any more.
    private var interrupting = false
    private let address: SocketAddress
    private let tls: TLSSetup?
    private let donePromise: EventLoopPromise<Void>

    var recorder: Recorder
    /// Per-request samples (`--out`), when asked for.
    private let samples: SampleWriter?
    private var connections = SlotList<ConnectionHandler>()
    private var idle: [ConnectionHandler] = []
    private var connecting = 0
    private var inFlight = 0
    private var sequence: UInt64 = 0
    private var stopped = false
    private var finished = false
    private var sweepTask: RepeatedTask?
    private var tickTask: Scheduled<Void>?
    private var endTask: Scheduled<Void>?

    // Closed model.
    private var slots = 0
    /// Tickets taken for connections still connecting (each becomes a request or a failure).
    private var ticketsHeld = 0
    private let budget: RequestBudget?
    private var closedDuration: Duration?

    // Open model.
    private let schedule: ArrivalSchedule?
    private var nextIndex: Int
    private let loopCount: Int
    private var nextDue: UInt64?
    private var pending = DueQueue()
    private var maxConnections = 0
    private var preconnect = 0
    private var warmup: EventLoopPromise<Void>?

    /// Connects sockets itself when their requests are to be written with `send(2)`
    /// (plain HTTP on Linux); nil when NIO connects and writes.
    private let connector: DirectConnector?
    private let directSendLimit: Int

    init(
        index: Int,
        loopCount: Int,
        loop: any EventLoop,
        configuration: RunConfiguration,
        encoder: RequestEncoder,
        address: SocketAddress,
        tls: TLSSetup?,
        budget: RequestBudget?
    ) {
        self.index = index
        self.loopCount = loopCount
        self.loop = loop
        self.encoder = encoder
        self.keepAlive = configuration.request.keepAlive
        self.requestTimeoutNanos = configuration.requestTimeout.nanosecondsClamped
        self.connectTimeout = .nanoseconds(Int64(configuration.connectTimeout.nanosecondsClamped))
        self.endGrace = configuration.endGrace
        self.address = address
        self.tls = tls
        self.budget = budget
        self.recorder = Recorder(slowestCapacity: configuration.slowestCount)
        self.donePromise = loop.makePromise(of: Void.self)
        self.samples = configuration.samples.map { SampleWriter(file: $0) }
        self.nextIndex = index
        self.directSendLimit = configuration.directSendLimit
        let direct = DirectConnector.isSupported && tls == nil && configuration.directSockets
        self.connector = direct ? DirectConnector(loop: loop) : nil
        switch configuration.model {
        case .closed(let connections, let limit):
            isOpenModel = false
            schedule = nil
            slots = connections / loopCount + (index < connections % loopCount ? 1 : 0)
            closedDuration = limit.duration
        case .open(let schedule, let maxConnections, let preconnect):
            isOpenModel = true
            self.schedule = schedule
            self.maxConnections = max(1, Self.share(maxConnections, index: index, of: loopCount))
            self.preconnect = Self.share(preconnect, index: index, of: loopCount)
        }
    }

    static func share(_ total: Int, index: Int, of count: Int) -> Int {
        total / count + (index < total % count ? 1 : 0)
    }

    var isTLS: Bool { tls != nil }
    var connectTimeoutSeconds: Double { Double(connectTimeout.nanoseconds) / 1e9 }

    /// Completes when this loop has nothing left to send and nothing in flight.
    var done: EventLoopFuture<Void> { donePromise.futureResult }

    @inline(__always)
    private func now() -> UInt64 {
        NIODeadline.now().uptimeNanoseconds
    }

    // MARK: - Lifecycle

    /// Open model: opens the pre-connected pool before time zero, so the schedule does not
    /// measure Volley's own connection set-up (at 50,000 req/s, opening connections on
    /// demand in the first milliseconds delayed the schedule by ~60 ms). Completes when
    /// every pre-connect has succeeded or failed.
    func prepare() -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        guard isOpenModel, preconnect > 0 else { return loop.makeSucceededVoidFuture() }
        let promise = loop.makePromise(of: Void.self)
        warmup = promise
        for _ in 0..<preconnect { openConnection() }
        settleWarmup()
        return promise.futureResult
    }

    private func settleWarmup() {
        if connecting == 0, let promise = warmup {
            warmup = nil
            promise.succeed()
        }
    }

    /// Starts the load with time zero at `startNanos` (shared by every loop).
    func begin(startNanos: UInt64) {
        loop.preconditionInEventLoop()
        self.startNanos = startNanos
        guard !finished else { return }
        guard !stopped else {
            // Interrupted during the warm-up: nothing is sent.
            checkFinished()
            return
        }
        let sweepEvery = TimeAmount.nanoseconds(Int64(min(max(requestTimeoutNanos / 10, 1_000_000), 100_000_000)))
        sweepTask = loop.scheduleRepeatedTask(initialDelay: sweepEvery, delay: sweepEvery) { [self] _ in
            sweepTimeouts()
        }
        if let schedule {
            endTask = loop.scheduleTask(
                deadline: .uptimeNanoseconds(startNanos + schedule.totalDuration.nanosecondsClamped)
            ) {
                [self] in end()
            }
            nextDue = due(ofRequest: nextIndex)
            tick()
        } else {
            if let d = closedDuration {
                endTask = loop.scheduleTask(deadline: .uptimeNanoseconds(startNanos + d.nanosecondsClamped)) {
                    [self] in end()
                }
            }
            for _ in 0..<slots {
                guard takeTicket() else { break }
                openConnection(withTicket: true)
            }
        }
        checkFinished()
    }

    /// No new requests: the duration ended (or the run was interrupted).
    func stop() {
        guard !stopped else { return }
        stopped = true
        tickTask?.cancel()
        recorder.unsent += pending.removeAll()
        let idleNow = idle
        idle.removeAll()
        for h in idleNow { h.close() }
        checkFinished()
    }

    /// The duration is over: no new requests, and those in flight get `endGrace` to finish,
    /// so the run ends on time whatever the target does (a stalled server, a body that
    /// never ends). Those still unanswered then are counted as interrupted.
    private func end() {
        stop()
        expireInFlight(
            after: endGrace,
            message:
                "still in flight \(Self.secondsText(endGrace)) after the run's duration ended (the end grace, --grace)"
        )
    }

    static func secondsText(_ d: Duration) -> String {
        let s = d.seconds
        return s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }

    /// Ctrl-C: stop now, give in-flight requests `grace`, then count them as interrupted.
    func interrupt(grace: Duration) {
        guard !finished else { return }
        stop()
        expireInFlight(after: grace, message: "the run was stopped before the response arrived")
    }

    private func expireInFlight(after grace: Duration, message text: String) {
        loop.scheduleTask(in: .nanoseconds(Int64(grace.nanosecondsClamped))) { [self] in
            guard !finished else { return }
            interrupting = true
            for h in connections { h.fail(.interrupted, message: text) }
            for h in connections { h.close() }
        }
    }

    /// The interval so far; called once a second by the engine.
    func takeInterval() -> IntervalStats {
        recorder.takeInterval(
            inFlight: inFlight,
            openConnections: connections.count - connecting,
            waiting: pending.count
        )
    }

    private func checkFinished() {
        guard !finished else { return }
        var moreWork: Bool
        if isOpenModel {
            moreWork = !stopped
        } else {
            moreWork = ticketsHeld > 0 || (!stopped && (budget?.hasRemaining ?? true) && slots > 0)
        }
        moreWork = moreWork || retriesPending > 0
        guard !moreWork, inFlight == 0 else { return }
        if connections.isEmpty {
            finished = true
            sweepTask?.cancel()
            tickTask?.cancel()
            endTask?.cancel()
            samples?.flush()
            donePromise.succeed()
        } else {
            for h in connections { h.close() }
        }
    }

    // MARK: - Connections

    /// Opens a connection. In the closed model it carries a ticket taken beforehand, so a
    /// connection is opened only when a request is certain to use it (or, if the connect
    /// fails, to be counted as that request's failure).
    private func openConnection(withTicket: Bool = false, carrying: CarriedRequest? = nil, failures: Int = 0) {
        connecting += 1
        let handler = ConnectionHandler(worker: self)
        handler.holdsTicket = withTicket
        handler.carried = carrying
        handler.connectFailures = failures
        handler.connectDeadline = now() &+ UInt64(max(0, connectTimeout.nanoseconds))
        if withTicket { ticketsHeld += 1 }
        connections.insert(handler)
        if let connector {
            openDirect(handler, connector)
            return
        }
        let bound = NIOLoopBound(handler, eventLoop: loop)
        let tls = self.tls
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                do {
                    if let tls {
                        let ssl = try NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverHostname)
                        try channel.pipeline.syncOperations.addHandler(ssl)
                    }
                    try channel.pipeline.syncOperations.addHandler(bound.value)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        bootstrap.connect(to: address).whenFailure { [self] error in
            connectFailed(bound.value, error: error)
        }
    }

    /// Plain HTTP on Linux: Volley connects the socket itself and keeps its descriptor, so
    /// the connection writes its requests with `send(2)` (see ``DirectConnector``).
    private func openDirect(_ handler: ConnectionHandler, _ connector: DirectConnector) {
        let abandoned = { handler.state != .connecting }
        connector.connect(to: address, timeout: connectTimeout, isAbandoned: abandoned) { [self] result in
            switch result {
            case .success(let fd):
                handler.direct = DirectWriter(fd: fd, limit: directSendLimit)
                DirectConnector.adopt(fd, on: loop, handler: handler).assumeIsolated().whenFailure { [self] error in
                    // Reached only if NIO cannot register the socket; it then owns the fd.
                    connectFailed(handler, error: error)
                }
            case .failure(let error):
                connectFailed(handler, error: error)
            }
        }
    }

    private func remove(_ h: ConnectionHandler) {
        guard h.slot >= 0 else { return }
        connections.remove(h)
        if let i = idle.firstIndex(where: { $0 === h }) { idle.remove(at: i) }
    }

    func connectionReady(_ h: ConnectionHandler) {
        connecting -= 1
        recorder.connectionsOpened += 1
        if h.state == .idle { dispatch(h) }
        if isOpenModel && !stopped { openForPending() }
        settleWarmup()
    }

    func connectFailed(_ h: ConnectionHandler, error: any Error) {
        guard h.connectFailed() else { return }
        connecting -= 1
        remove(h)
        settleWarmup()
        let cls = interrupting ? .interrupted : ErrorClassifier.classify(error, connecting: true)
        let message =
            interrupting ? "the run was stopped before the retried request was sent" : ErrorClassifier.message(error)
        if h.carried != nil {
            // The retry of a request that was already written once: it fails with this connect.
            h.carried = nil
            retriesPending -= 1
            recorder.recordFailure(cls, message: message)
            sampleUnsentFailure(cls)
            checkFinished()
            return
        }
        if isOpenModel {
            if pending.popFirst() != nil {
                recorder.recordFailure(cls, message: message)
                sampleUnsentFailure(cls)
            }
            if !pending.isEmpty && !stopped {
                // Retry on the next loop turn, never recursively: a refused connect may
                // complete synchronously.
                loop.execute { [self] in openForPending() }
            }
        } else if h.spendTicket() {
            ticketsHeld -= 1
            guard !stopped else {
                // Interrupted while connecting: the request was never sent.
                recorder.unsent += 1
                checkFinished()
                return
            }
            recorder.recordFailure(cls, message: message)
            sampleUnsentFailure(cls)
            // The next connect waits a little longer after each consecutive failure, as a
            // client would: a refusing target must not be hammered in a busy loop (220,000
            // connects in 2 s on 4 connections), and a run that only ever failed to connect
            // must not look like a load test. Never recursive: a refused connect may complete
            // synchronously.
            let failures = h.connectFailures + 1
            loop.scheduleTask(in: ReconnectBackoff.delay(afterFailures: failures)) { [self] in
                replaceConnection(failures: failures)
                checkFinished()
            }
        }
        checkFinished()
    }

    /// The server closed an idle keep-alive connection without announcing it.
    func connectionDroppedWhileIdle(_ h: ConnectionHandler) {
        recorder.reconnects += 1
    }

    func connectionClosed(_ h: ConnectionHandler) {
        remove(h)
        if h.carried != nil {
            // Closed by the peer before the retried request could be written again.
            h.carried = nil
            retriesPending -= 1
            recorder.recordFailure(.noResponse, message: "connection closed before the retried request was sent")
            sampleUnsentFailure(.noResponse)
        }
        if let retry = h.retryAfterClose {
            h.retryAfterClose = nil
            if interrupting {
                retriesPending -= 1
                recorder.recordFailure(.interrupted, message: "the run was stopped before the request could be retried")
            } else {
                // A new connection for the retry alone, whatever the model's limits: it
                // replaces the one that just closed.
                openConnection(carrying: retry)
            }
        }
        if h.spendTicket() {
            // Closed by the peer before its first request could be written.
            ticketsHeld -= 1
            if stopped {
                recorder.unsent += 1
            } else {
                recorder.recordFailure(.noResponse, message: "connection closed before the request was sent")
                sampleUnsentFailure(.noResponse)
            }
        }
        if !stopped {
            if isOpenModel {
                openForPending()
            } else {
                replaceConnection()
            }
        }
        checkFinished()
    }

    /// Closed model: keeps `slots` connections while requests remain.
    private func replaceConnection(failures: Int = 0) {
        if !stopped && connections.count < slots && takeTicket() {
            openConnection(withTicket: true, failures: failures)
        }
    }

    // MARK: - Requests

    @inline(__always)
    private func takeTicket() -> Bool {
        budget?.take() ?? true
    }

    /// Gives an idle connection its next request. `now`, when the caller just read the
    /// clock (a response completed), is reused as the send time.
    private func dispatch(_ h: ConnectionHandler, now known: UInt64? = nil) {
        if let retry = h.carried {
            // A request already under way: sent even after the duration ended (the end
            // grace bounds it), like any request in flight.
            h.carried = nil
            retriesPending -= 1
            inFlight += 1
            h.resend(retry, now: known ?? now())
            return
        }
        if isOpenModel {
            if let due = pending.popFirst() {
                send(h, dueAt: due)
            } else if stopped {
                h.close()
            } else {
                idle.append(h)
            }
        } else if stopped {
            if h.spendTicket() {
                ticketsHeld -= 1
                recorder.unsent += 1
            }
            h.close()
        } else if h.spendTicket() {
            ticketsHeld -= 1
            send(h, dueAt: nil, now: known)
        } else if takeTicket() {
            send(h, dueAt: nil, now: known)
        } else {
            h.close()
        }
    }

    @inline(__always)
    private func send(_ h: ConnectionHandler, dueAt: UInt64?, now known: UInt64? = nil) {
        let t = known ?? now()
        sequence &+= 1
        inFlight += 1
        h.send(sequence: sequence, dueAt: dueAt ?? t, now: t)
    }

    func responseCompleted(
        _ h: ConnectionHandler,
        status: Int,
        bytesIn: Int,
        sentAt: UInt64,
        dueAt: UInt64,
        sequence: UInt64,
        keepAlive: Bool
    ) {
        let t = now()
        inFlight -= 1
        recorder.recordResponse(
            status: status,
            latencyNanos: t &- dueAt,
            serviceNanos: isOpenModel ? t &- sentAt : nil,
            bytesIn: bytesIn,
            requestID: encoder.requestID(loop: index, sequence: sequence),
            completedAtNanos: t &- startNanos
        )
        samples?.record(
            atNanos: t &- startNanos,
            name: nil,
            status: status,
            error: nil,
            latencyNanos: t &- dueAt,
            serviceNanos: isOpenModel ? t &- sentAt : nil,
            requestID: encoder.requestID(loop: index, sequence: sequence),
            bytesIn: bytesIn
        )
        if keepAlive {
            dispatch(h, now: isOpenModel ? nil : t)
        } else {
            checkFinished()
        }
    }

    /// A failed request that never reached the wire (connect failed, or closed first).
    private func sampleUnsentFailure(_ error: TransportErrorClass) {
        samples?.record(
            atNanos: now() &- startNanos,
            name: nil,
            status: nil,
            error: error,
            latencyNanos: nil,
            serviceNanos: nil,
            requestID: nil,
            bytesIn: 0
        )
    }

    func requestFailed(
        _ h: ConnectionHandler,
        _ error: TransportErrorClass,
        message: String,
        bytesIn: Int,
        retryable: Bool = false
    ) {
        inFlight -= 1
        if retryable && !interrupting {
            // A reused connection closed before answering: a reconnect, and the request goes
            // out again once the close has been handled (`connectionClosed`).
            recorder.reconnects += 1
            retriesPending += 1
            return
        }
        if retryable { h.retryAfterClose = nil }
        recorder.recordFailure(error, bytesIn: bytesIn, message: message)
        if let samples {
            let t = now()
            samples.record(
                atNanos: t &- startNanos,
                name: nil,
                status: nil,
                error: error,
                latencyNanos: t &- h.dueAt,
                serviceNanos: isOpenModel ? t &- h.sentAt : nil,
                requestID: nil,
                bytesIn: bytesIn
            )
        }
        checkFinished()
    }

    private func sweepTimeouts() {
        let t = now()
        for h in connections where h.state == .busy && t &- h.sentAt > requestTimeoutNanos {
            h.fail(.timeout, message: "no complete response within \(Double(requestTimeoutNanos) / 1e9)s")
        }
    }

    // MARK: - Open model

    private func due(ofRequest i: Int) -> UInt64? {
        guard let t = schedule?.dueTime(ofRequest: i) else { return nil }
        return startNanos + UInt64((t * 1e9).rounded())
    }

    private func tick() {
        guard !stopped else { return }
        let t = now()
        while let d = nextDue, d <= t {
            pending.append(d)
            nextIndex += loopCount
            nextDue = due(ofRequest: nextIndex)
        }
        while !pending.isEmpty, let h = idle.popLast() {
            send(h, dueAt: pending.popFirst()!)
        }
        openForPending()
        if let d = nextDue {
            // Arrivals closer together than `tickCoalescingNanos` are released by one timer
            // firing: one wake-up per request made the loop timer-bound near 50,000 req/s.
            // The few microseconds a request may wait for its batch count in its latency.
            let deadline = max(d, t &+ Self.tickCoalescingNanos)
            tickTask = loop.scheduleTask(deadline: .uptimeNanoseconds(deadline)) { [self] in tick() }
        }
    }

    /// Opens connections for requests that wait, up to the loop's share of the limit.
    ///
    /// At most `maxConnectsInFlight` connects run at once per loop. Without the cap a short
    /// hiccup at 50,000 req/s made the loop open hundreds of connections at once; their
    /// set-up (~60 µs each on the loop) delayed the schedule further and the pool ran to
    /// its limit of 1,024 with a 60-80 ms latency spike caused by Volley itself. Requests
    /// waiting meanwhile keep their intended start, so any wait is measured, not hidden.
    private func openForPending() {
        let wanted = pending.count - connecting
        guard wanted > 0 else { return }
        let room = maxConnections - connections.count
        let connectBudget = Self.maxConnectsInFlight - connecting
        for _ in 0..<max(0, min(wanted, room, connectBudget)) { openConnection() }
    }

    static let maxConnectsInFlight = 8
    static let tickCoalescingNanos: UInt64 = 20_000
}
