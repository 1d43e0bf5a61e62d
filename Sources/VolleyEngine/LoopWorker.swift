import NIOCore
import NIOPosix
import VolleyCore

/// The load one event loop generates: its connections, its share of the schedule and its
/// recorder (wrk's per-thread state).
///
/// Every method runs on `loop`; nothing is shared with other loops except the closed
/// model's atomic `RequestBudget`. That is what keeps locks off the hot path. The counts
/// that make the totals exact live in ``LoopAccounting``; this type carries out what it
/// decides.
final class LoopWorker: HostedLoad, @unchecked Sendable {
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
    let requestTimeoutNanos: UInt64
    /// After the duration, how long requests in flight may still finish.
    private let endGrace: Duration
    private let address: SocketAddress
    private let tls: TLSSetup?
    let factory: ConnectionFactory
    private let donePromise: EventLoopPromise<Void>
    /// Copied from the encoder so a send touches no shared struct.
    private let stampOffset: Int?
    private let isHEAD: Bool
    private let isReplayable: Bool
    private let largeBody: ByteBuffer?
    /// `--follow N` (nil: off): the rules and the hop encoding; `addresses` and `tlsSource`
    /// reach a redirect's other authorities.
    let redirects: RedirectFollower?
    /// The run's request asks for compression (`-H 'Accept-Encoding: …'`): responses keep
    /// their `Content-Encoding`, so an error body's sample is decoded, not shown as binary.
    private let asksCompression: Bool
    let addresses: AddressBook
    let tlsSource: TLSContextSource?
    /// HTTP/2 (`--h2c`, `--http2`): the loop's sessions, whose streams its connections (lanes) are.
    let h2: H2Pool<LoopWorker>?

    var recorder: Recorder
    /// Per-request samples (`--out`), when asked for.
    private let samples: SampleWriter?
    private var accounting: LoopAccounting
    private var connections = SlotList<Connection>()
    private var idle: [Connection] = []
    private var sequence: UInt64 = 0
    private var finished = false
    private var sweepTask: RepeatedTask?
    private var tickTask: Scheduled<Void>?
    private var endTask: Scheduled<Void>?

    // Closed model.
    private var slots = 0
    private var closedDuration: Duration?

    // Open model.
    private let schedule: ArrivalSchedule?
    private let loopCount: Int
    /// The items of the whole run this loop owns (its share of connections and arrivals),
    /// across the loops of this process and the segments of a distributed run.
    private let stripe: Stripe
    private var ticker: ArrivalTicker?
    private var preconnect = 0
    private var warmup: EventLoopPromise<Void>?

    init(
        index: Int,
        loopCount: Int,
        loop: any EventLoop,
        configuration: RunConfiguration,
        encoder: RequestEncoder,
        address: SocketAddress,
        tls: TLSSetup?,
        budget: RequestBudget?,
        tlsSource: TLSContextSource? = nil
    ) {
        self.index = index
        self.loopCount = loopCount
        self.stripe = configuration.segment.stripe(loop: index, of: loopCount)
        self.loop = loop
        self.encoder = encoder
        self.keepAlive = configuration.request.keepAlive
        self.requestTimeoutNanos = configuration.requestTimeout.nanosecondsClamped
        self.endGrace = configuration.endGrace
        self.address = address
        self.tls = tls
        self.recorder = Recorder(slowestCapacity: configuration.slowestCount)
        self.donePromise = loop.makePromise(of: Void.self)
        self.samples = configuration.samples.map { SampleWriter(file: $0) }
        self.factory = ConnectionFactory(
            loop: loop,
            connectTimeout: .nanoseconds(Int64(configuration.connectTimeout.nanosecondsClamped)),
            directSockets: configuration.directSockets,
            directSendLimit: configuration.directSendLimit
        )
        self.stampOffset = encoder.hasRequestID ? encoder.sequenceOffset : nil
        self.isHEAD = encoder.isHEAD
        self.isReplayable = encoder.isReplayable
        self.largeBody = encoder.largeBody
        let follow = configuration.followRedirects
        self.redirects =
            follow > 0
            ? RedirectFollower(
                limit: follow,
                spec: configuration.request,
                runPrefix: encoder.runPrefixValue,
                http: configuration.http
            ) : nil
        self.addresses = AddressBook(loop: loop, known: [configuration.request.url.authorityKey: address])
        self.tlsSource = tlsSource
        self.asksCompression = configuration.request.headers.contains { $0.name.lowercased() == "accept-encoding" }
        // HTTP/2: every connection of the load model carries `streams` lanes.
        let lanesPerConnection = configuration.http.isHTTP2 ? configuration.streams : 1
        self.h2 =
            configuration.http.isHTTP2
            ? H2Pool(
                template: H2RequestTemplate(spec: configuration.request, runPrefix: encoder.runPrefixValue),
                capacity: lanesPerConnection,
                factory: factory,
                allowsHTTP1: configuration.http1Fallback,
                // Open model: each request leaves at its time, never held for others.
                coalescesWrites: { if case .closed = configuration.model { true } else { false } }()
            ) : nil
        switch configuration.model {
        case .closed(let connections, let limit):
            isOpenModel = false
            schedule = nil
            slots = stripe.share(of: connections) * lanesPerConnection
            closedDuration = limit.duration
            accounting = LoopAccounting(model: .closed(slots: slots), budget: budget)
        case .open(let schedule, let maxConnections, let preconnect):
            isOpenModel = true
            self.schedule = schedule
            self.preconnect = stripe.share(of: preconnect) * lanesPerConnection
            let limit = max(1, stripe.share(of: maxConnections)) * lanesPerConnection
            accounting = LoopAccounting(model: .open(maxConnections: limit), budget: nil)
        }
    }

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
        if accounting.connecting == 0, let promise = warmup {
            warmup = nil
            promise.succeed()
        }
    }

    /// Starts the load with time zero at `startNanos` (shared by every loop).
    func begin(startNanos: UInt64) {
        loop.preconditionInEventLoop()
        self.startNanos = startNanos
        guard !finished else { return }
        guard !accounting.stopped else {
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
            ticker = ArrivalTicker(
                schedule: schedule,
                first: stripe.index,
                stride: stripe.count,
                startNanos: startNanos
            )
            tick()
        } else {
            if let d = closedDuration {
                endTask = loop.scheduleTask(deadline: .uptimeNanoseconds(startNanos + d.nanosecondsClamped)) {
                    [self] in end()
                }
            }
            while accounting.ticketForNewConnection() {
                openConnection(withTicket: true)
            }
        }
        checkFinished()
    }

    /// No new requests: the duration ended (or the run was interrupted).
    func stop() {
        guard !accounting.stopped else { return }
        tickTask?.cancel()
        recorder.unsent += accounting.stop()
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
            accounting.interrupt()
            for h in connections { h.fail(.interrupted, message: text) }
            for h in connections { h.close() }
        }
    }

    /// The interval so far; called once a second by the engine.
    func takeInterval() -> IntervalStats {
        recorder.takeInterval(
            inFlight: accounting.inFlight,
            openConnections: h2.map { $0.connectionCount + http1LanesOpen() }
                ?? (connections.count - accounting.connecting),
            waiting: accounting.pending.count
        )
    }

    /// HTTP/2 runs: lanes that are connections of their own (fell back to HTTP/1.1, or a
    /// redirect's other host). Once a second, so the scan costs nothing that matters.
    private func http1LanesOpen() -> Int {
        guard h2 != nil else { return 0 }
        var n = 0
        for h in connections where h.session == nil && h.isOpen { n += 1 }
        return n
    }

    private func checkFinished() {
        guard !finished else { return }
        switch accounting.finish() {
        case .notYet:
            return
        case .closeConnections:
            for h in connections { h.close() }
        case .done:
            finished = true
            sweepTask?.cancel()
            tickTask?.cancel()
            endTask?.cancel()
            samples?.flush()
            donePromise.succeed()
        }
    }

    // MARK: - Connections

    /// Opens a connection. In the closed model it carries a ticket taken beforehand, so a
    /// connection is opened only when a request is certain to use it (or, if the connect
    /// fails, to be counted as that request's failure).
    private func openConnection(withTicket: Bool = false, carrying: CarriedRequest? = nil, failures: Int = 0) {
        accounting.opening(withTicket: withTicket)
        var data = RunConnectionData(template: encoder.makeTemplate(loop: index))
        data.holdsTicket = withTicket
        data.carried = carrying
        data.connectFailures = failures
        let c = Connection(owner: self, data: data, tls: tls != nil)
        c.keepAlive = keepAlive
        // Twice the excerpt, so that the redaction sees a secret cut at the excerpt's end.
        c.parser.errorBodyLimit = 2 * ResponseSamples.excerptBytes
        if redirects != nil || asksCompression { c.parser.keepsHeaders = .cookiesAndLocation }
        connections.insert(c)
        if let hop = carrying?.hop, hop.url.authorityKey != redirects?.spec.url.authorityKey {
            c.data.authority = hop.url.authorityKey
            openElsewhere(c, to: hop)
        } else if let h2 {
            h2.open(c, to: address, tls: tls)
        } else {
            factory.open(c, to: address, tls: tls)
        }
    }

    private func remove(_ h: Connection) {
        guard h.slot >= 0 else { return }
        connections.remove(h)
        if let i = idle.firstIndex(where: { $0 === h }) { idle.remove(at: i) }
    }

    func connectionReady(_ h: Connection) {
        accounting.connected()
        if h.opensTransport {
            recorder.connectionsOpened += 1
            // HTTP/2 runs count connections by protocol; a redirect's other host is neither.
            if h2 != nil && h.data.authority == nil {
                if h.session != nil { recorder.h2Connections += 1 } else { recorder.http1FallbackConnections += 1 }
            }
        }
        if h.isReady { dispatch(h) }
        if isOpenModel { openForPending() }
        settleWarmup()
    }

    func connectFailed(_ h: Connection, error: any Error) {
        remove(h)
        let carried = h.data.carried
        h.data.carried = nil
        let outcome = accounting.connectFailed(
            holdsTicket: &h.data.holdsTicket,
            carries: carried != nil,
            failures: h.data.connectFailures
        )
        settleWarmup()
        let interrupting = accounting.interrupting
        let cls = interrupting ? .interrupted : ErrorClassifier.classify(error, connecting: true)
        let message =
            interrupting ? "the run was stopped before the retried request was sent" : ErrorClassifier.message(error)
        switch outcome {
        case .retryFailed(let replace):
            // The retry (or redirect hop) of a request already written once: it fails with
            // this connect.
            recordUnsentFailure(cls, message: message)
            if replace {
                // It replaced a connection of the loop's: open that one's successor (on the
                // next loop turn: a refused connect may complete synchronously), or a closed
                // run with requests left would lose a slot, and with all of them never end
                // (a redirect to a refusing host did exactly that).
                loop.execute { [self] in
                    if isOpenModel { openForPending() } else { replaceConnection() }
                    checkFinished()
                }
            }
        case .pendingFailed(let failedRequest, let reopen):
            if failedRequest { recordUnsentFailure(cls, message: message) }
            if reopen { loop.execute { [self] in openForPending() } }
        case .ticketFailed(let failures):
            recordUnsentFailure(cls, message: message)
            // The next connect waits a little longer after each consecutive failure, as a
            // client would: a refusing target must not be hammered in a busy loop (220,000
            // connects in 2 s on 4 connections), and a run that only ever failed to connect
            // must not look like a load test. Never recursive: a refused connect may complete
            // synchronously.
            loop.scheduleTask(in: ReconnectBackoff.delay(afterFailures: failures)) { [self] in
                replaceConnection(failures: failures)
                checkFinished()
            }
        case .unsent:
            recorder.unsent += 1
        case .none:
            break
        }
        checkFinished()
    }

    /// The server closed an idle keep-alive connection without announcing it.
    func connectionDroppedWhileIdle(_ h: Connection) {
        recorder.reconnects += 1
    }

    func connectionClosed(_ h: Connection) {
        remove(h)
        let carried = h.data.carried
        let retry = h.data.retryAfterClose
        h.data.carried = nil
        h.data.retryAfterClose = nil
        let outcome = accounting.closed(
            holdsTicket: &h.data.holdsTicket,
            carries: carried != nil,
            retryOwed: retry != nil
        )
        if outcome.retryLost {
            // Closed by the peer before the retried request could be written again.
            recordUnsentFailure(.noResponse, message: "connection closed before the retried request was sent")
        }
        if let reopen = outcome.retry, let retry {
            if reopen {
                // A new connection for the retry alone, whatever the model's limits: it
                // replaces the one that just closed.
                openConnection(carrying: retry)
            } else {
                recorder.recordFailure(.interrupted, message: "the run was stopped before the request could be retried")
            }
        }
        switch outcome.ticketUnsent {
        case true?: recorder.unsent += 1
        case false?:
            // Closed by the peer before its first request could be written.
            recordUnsentFailure(.noResponse, message: "connection closed before the request was sent")
        case nil: break
        }
        if outcome.replace {
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
        if accounting.ticketForNewConnection() {
            openConnection(withTicket: true, failures: failures)
        }
    }

    // MARK: - Requests

    /// Gives an idle connection its next request. `now`, when the caller just read the
    /// clock (a response completed), is reused as the send time.
    private func dispatch(_ h: Connection, now known: UInt64? = nil) {
        let carried = h.data.carried
        switch accounting.dispatch(holdsTicket: &h.data.holdsTicket, carries: carried != nil) {
        case .resend:
            h.data.carried = nil
            let retry = carried!
            if let hop = retry.hop {
                writeHop(
                    h,
                    hop,
                    isRetry: retry.isRetry,
                    sequence: retry.sequence,
                    dueAt: retry.dueAt,
                    firstSentAt: retry.sentAt,
                    now: known ?? now()
                )
            } else {
                write(h, sequence: retry.sequence, dueAt: retry.dueAt, now: known ?? now(), firstSentAt: retry.sentAt)
            }
        case .send(let dueAt):
            let t = known ?? now()
            sequence &+= 1
            write(h, sequence: sequence, dueAt: dueAt ?? t, now: t)
        case .keepIdle:
            idle.append(h)
        case .close:
            h.close()
        case .closeUnsent:
            recorder.unsent += 1
            h.close()
        }
    }

    /// Writes request `sequence` on `h`. `dueAt` is its intended start (open model) or now
    /// (closed); `firstSentAt`, for a second attempt (``RetryPolicy``), when it was first
    /// written: its latency and timeout still count from its first attempt.
    @inline(__always)
    private func write(_ h: Connection, sequence: UInt64, dueAt: UInt64, now: UInt64, firstSentAt: UInt64? = nil) {
        let firstWrite = firstSentAt ?? now
        h.data.hop = nil
        h.data.sequence = sequence
        h.data.dueAt = dueAt
        h.data.firstSentAt = firstWrite
        h.deadline = firstWrite &+ requestTimeoutNanos
        // HTTP/2 lanes send the session's HPACK block with the id patched there: the HTTP/1.1
        // template is not stamped for nothing on every request.
        if let stampOffset, h.session == nil {
            RequestEncoder.stamp(&h.data.template, at: stampOffset, loop: index, sequence: sequence)
        }
        let bytes: Int
        if let h2, h.session != nil {
            bytes = h2.requestWireBytes
        } else {
            bytes = h.data.template.readableBytes + (largeBody?.readableBytes ?? 0)
        }
        h.send(
            h.data.template,
            body: largeBody,
            isHEAD: isHEAD,
            replayable: isReplayable,
            isRetry: firstSentAt != nil,
            requestID: RequestID.value(loop: index, sequence: sequence),
            now: now
        )
        if firstSentAt != nil {
            // The bytes went out again, but it is not another request, nor a late one.
            recorder.recordResend(bytes: bytes)
        } else {
            recorder.recordSend(bytes: bytes, lagNanos: isOpenModel ? now &- dueAt : nil)
        }
    }

    func responseCompleted(_ h: Connection, at t: UInt64, keepAlive: Bool) {
        if redirects != nil {
            switch followRedirect(h, at: t, keepAlive: keepAlive) {
            case .final:
                break
            case .continued:
                return
            case .moved(let hop):
                // Carried like a retry: sent on a new connection once this one has closed.
                accounting.carryOver()
                h.data.retryAfterClose = hop
                if keepAlive { h.close() }
                return
            }
        }
        accounting.completed()
        let status = h.parser.status
        let bytesIn = h.parser.bytesReceived
        let dueAt = h.data.dueAt
        let latency = t &- dueAt
        let service = isOpenModel ? t &- h.data.firstSentAt : nil
        recorder.recordResponse(
            status: status,
            latencyNanos: latency,
            serviceNanos: service,
            bytesIn: bytesIn,
            requestID: encoder.requestID(loop: index, sequence: h.data.sequence),
            completedAtNanos: t &- startNanos
        )
        recorder.recordPhases(h.phases(completedAt: t))
        if status >= 400 && recorder.responseSamples.wants(status: status) {
            recorder.responseSamples.recordError(status: status, body: errorBody(h), totalBytes: h.parser.bodyBytes)
        }
        samples?.record(
            atNanos: t &- startNanos,
            name: nil,
            status: status,
            error: nil,
            latencyNanos: latency,
            serviceNanos: service,
            requestID: encoder.requestID(loop: index, sequence: h.data.sequence),
            bytesIn: bytesIn
        )
        if keepAlive && h.data.authority == nil {
            dispatch(h, now: isOpenModel ? nil : t)
        } else {
            // A connection to a redirect's other authority carried its request's chain only.
            if keepAlive { h.close() }
            checkFinished()
        }
    }

    /// The start of an error response's body as its sample shows it: decoded when the run
    /// asked for compression and the body came compressed (and decodes), as it came otherwise.
    private func errorBody(_ h: Connection) -> [UInt8] {
        guard asksCompression else { return h.parser.body }
        return ContentDecoder.sample(
            h.parser.body,
            contentEncoding: h.parser.headers.first { $0.name.equalsIgnoringASCIICase("content-encoding") }?.value,
            rawTruncated: h.parser.body.count < h.parser.bodyBytes
        )
    }

    /// A failed request that never reached the wire (connect failed, or closed first).
    private func recordUnsentFailure(_ error: TransportErrorClass, message: String) {
        recorder.recordFailure(error, message: message)
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
        _ h: Connection,
        _ error: TransportErrorClass,
        message: String,
        bytesIn: Int,
        retry: Bool
    ) {
        if accounting.failed(retry: retry) {
            // A reused connection closed before answering: a reconnect, and the request goes
            // out again once the close has been handled (`connectionClosed`).
            recorder.reconnects += 1
            h.data.retryAfterClose = CarriedRequest(
                sequence: h.data.sequence,
                dueAt: h.data.dueAt,
                sentAt: h.data.firstSentAt,
                hop: h.data.hop
            )
            return
        }
        recorder.recordFailure(error, bytesIn: bytesIn, message: message)
        if let samples {
            let t = now()
            samples.record(
                atNanos: t &- startNanos,
                name: nil,
                status: nil,
                error: error,
                latencyNanos: t &- h.data.dueAt,
                serviceNanos: isOpenModel ? t &- h.data.firstSentAt : nil,
                requestID: nil,
                bytesIn: bytesIn
            )
        }
        checkFinished()
    }

    private func sweepTimeouts() {
        let t = now()
        for h in connections where h.deadline < t {
            h.fail(.timeout, message: "no complete response within \(Double(requestTimeoutNanos) / 1e9)s")
        }
    }

    // MARK: - Open model

    private func tick() {
        guard !accounting.stopped, var ticker else { return }
        let t = now()
        ticker.release(upTo: t) { accounting.arrived(dueAt: $0) }
        self.ticker = ticker
        while !idle.isEmpty, let due = accounting.nextPending() {
            sequence &+= 1
            write(idle.removeLast(), sequence: sequence, dueAt: due, now: now())
        }
        openForPending()
        if let wake = ticker.wakeUp(after: t) {
            tickTask = loop.scheduleTask(deadline: .uptimeNanoseconds(wake)) { [self] in tick() }
        }
    }

    /// Opens connections for requests that wait, up to the loop's share of the limit and
    /// ``LoopAccounting/maxConnectsInFlight`` connects at once. Requests waiting meanwhile
    /// keep their intended start, so any wait is measured, not hidden.
    private func openForPending() {
        for _ in 0..<accounting.connectionsWanted() { openConnection() }
    }
}

extension LoopWorker: ConnectionOwner {
    typealias ConnectionData = RunConnectionData
    typealias Connection = HTTPConnection<LoopWorker>
}

/// What a URL run keeps on each connection.
struct RunConnectionData {
    /// The request, encoded once per connection and re-stamped with each request's id.
    var template: ByteBuffer
    /// Closed model: a request ticket taken when the connection was opened.
    var holdsTicket = false
    /// Consecutive failed connects of the connection this one replaces (reconnect backoff).
    var connectFailures = 0
    /// The outstanding request: its id, its intended start and its first write.
    var sequence: UInt64 = 0
    var dueAt: UInt64 = 0
    var firstSentAt: UInt64 = 0
    /// A request that failed on another connection and is to be sent again on this new one.
    var carried: CarriedRequest?
    /// Set when this connection's request is to be retried after the close is reported.
    var retryAfterClose: CarriedRequest?
    /// `--follow`: the redirect hop the outstanding request is on (nil: its first request).
    var hop: RedirectHop?
    /// `--follow`: the other authority this connection was opened to for a redirect (nil:
    /// the run's target); it carries that request's chain, then closes.
    var authority: Authority?

    init(template: ByteBuffer) {
        self.template = template
    }
}

/// A request to be sent again on a new connection: the same id, due time and first write.
/// Also a redirect hop that moves to a new connection (`isRetry` false).
struct CarriedRequest {
    let sequence: UInt64
    let dueAt: UInt64
    let sentAt: UInt64
    /// The redirect hop to send (nil: the run's request).
    var hop: RedirectHop? = nil
    /// A second attempt (``RetryPolicy``), or a hop moving to another connection.
    var isRetry = true
}
