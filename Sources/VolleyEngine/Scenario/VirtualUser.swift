import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import VolleyCore

/// One virtual user: runs the scenario's steps in order on its event loop, keeping its own
/// variables (captures) and connections, like a k6 VU.
final class VirtualUser: Slotted {
    let number: Int
    let scenario: Scenario
    /// Unowned and unchecked: read a dozen times per request, and a checked unowned
    /// reference costs an atomic retain and release each time. Safe because a loop keeps
    /// each VU in `vus` until it retires, and `PlanEngine` keeps the loops alive until its
    /// event loops have shut down, so no VU code runs after its loop is gone.
    unowned(unsafe) let runner: ScenarioLoop
    var context: VUContext
    private var connections: [Authority: Connection] = [:]
    /// HTTP/2 connections, kept when their lane fails (a reset stream, a timeout) so the
    /// next request is another stream on the same connection.
    private var sessions: [Authority: H2Session<VirtualUser>] = [:]
    /// The steps being walked; a group pushes a frame that remembers its name and start.
    private var stack: [(steps: [CompiledStep], index: Int, group: Int?, started: UInt64)] = []
    private var thinkTask: Scheduled<Void>?
    private var onIterationEnd: ((Bool) -> Void)?
    /// Arrival-rate executors: when this iteration was due. Its first request's latency is
    /// measured from here (the open model's intended start), not from its send.
    var iterationDue: UInt64?
    /// Set when the executor wants this VU to stop after the current request.
    var stopRequested = false
    /// Whether this iteration wrote a request or opened a connection. One that did neither
    /// (every step skipped or invalid) took no time, and the loop pauses the VU before the
    /// next, rather than spin at 500,000 iterations a second.
    private(set) var reachedNetwork = false
    /// An `abort_on_fail` check of a failed request failed: the next step ends the iteration.
    private var abortPending = false
    private(set) var isRunning = false {
        didSet { if isRunning != oldValue { runner.runningVUs += isRunning ? 1 : -1 } }
    }
    /// Position in the loop's list of VUs (-1 once retired).
    var slot = -1

    /// Think times at least this long close the VU's connections first.
    static let idleCloseNanos: UInt64 = 30_000_000_000

    init(number: Int, scenario: Scenario, runner: ScenarioLoop, variables: [String: String]) {
        self.number = number
        self.scenario = scenario
        self.runner = runner
        self.context = VUContext(number: number, iteration: -1, variables: variables)
    }

    /// Runs one iteration; `done(true)` when every step ran, `done(false)` when it ended early.
    func runIteration(done: @escaping (Bool) -> Void) {
        precondition(!isRunning, "Invalid state: iteration already running")
        isRunning = true
        reachedNetwork = false
        abortPending = false
        context.iteration += 1
        guard runner.selectRows(for: &context) else {
            isRunning = false
            done(false)
            return
        }
        onIterationEnd = done
        stack = [(runner.steps, 0, nil, 0)]
        next()
    }

    /// Ends the iteration at its next step: a think time is cut short, a request in flight
    /// may still finish (k6's graceful stop) and is counted as usual.
    func requestStop() {
        stopRequested = true
        if let t = thinkTask {
            t.cancel()
            thinkTask = nil
            endIteration(complete: false)
        }
    }

    /// Ends the iteration at once (Ctrl-C, or a ramp-down's grace ran out): a request in
    /// flight is aborted and counted as interrupted.
    func interrupt() {
        requestStop()
        for c in connections.values where c.state == .busy {
            c.fail(.interrupted, message: "the run was stopped before the response arrived")
        }
    }

    /// This VU's connections that are open now (for the timeline, once a second).
    var openConnectionCount: Int {
        var n = 0
        for c in connections.values where c.isOpen && c.session == nil { n += 1 }
        for s in sessions.values where !s.isClosed { n += 1 }
        return n
    }

    /// Closes every connection and lets go of it: what they report afterwards (their close,
    /// a connect that completes later) no longer concerns this VU.
    func closeConnections() {
        for c in connections.values {
            c.owner = nil
            c.close()
        }
        connections.removeAll()
        for s in sessions.values { s.closeIfUnused() }
        sessions.removeAll()
    }

    private func endIteration(complete: Bool) {
        guard isRunning else { return }
        isRunning = false
        stack.removeAll()
        let done = onIterationEnd
        onIterationEnd = nil
        done?(complete)
    }

    private func next() {
        if stopRequested || abortPending {
            abortPending = false
            endIteration(complete: false)
            return
        }
        while let top = stack.last, top.index >= top.steps.count {
            stack.removeLast()
            if let group = top.group {
                // A group's time is its whole block, think times included (k6's group_duration).
                let elapsed = runner.now() &- top.started
                runner.recorder.recordGroup(group, nanos: elapsed)
            }
        }
        guard !stack.isEmpty else {
            endIteration(complete: true)
            return
        }
        let step = stack[stack.count - 1].steps[stack[stack.count - 1].index]
        stack[stack.count - 1].index += 1
        switch step {
        case .request(let r):
            perform(r)
        case .think(let t):
            let lo = t.minimum.nanosecondsClamped
            let hi = t.maximum.nanosecondsClamped
            let wait = hi > lo ? UInt64.random(in: lo...hi) : lo
            // A long pause gives the connection back, as servers' keep-alive timeouts
            // (nginx 75 s, Node 5 s, gunicorn 2 s) would: 50,000 VUs mostly thinking must
            // not hold 50,000 sockets.
            if wait >= Self.idleCloseNanos { closeConnections() }
            thinkTask = runner.loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(wait))) { [self] in
                thinkTask = nil
                next()
            }
        case .group(let id, let steps):
            stack.append((steps, 0, id, runner.now()))
            next()
        }
    }

    // MARK: - Requests

    private func perform(_ compiled: CompiledRequest, hops: Int = 0) {
        guard let built = build(compiled, sequence: runner.nextSequence()) else { return next() }
        reachedNetwork = true
        if let c = connections[built.authority], c.isReady {
            send(compiled, built, on: c, hops: hops)
            return
        }
        sendOnNewConnection(compiled, built, hops: hops)
    }

    /// Renders `compiled` with request number `sequence`; nil when it cannot be sent (a
    /// variable without a value skips the step; a value that cannot go on the wire fails it),
    /// recorded here; the caller goes on to the next step. HTTP/2 requests are built for
    /// HTTP/1.1 when their authority's ready connection fell back (`http1_fallback`), or when
    /// `forceHTTP1` (the connection just fell back, the request was built before it knew).
    private func build(_ compiled: CompiledRequest, sequence: UInt64, forceHTTP1: Bool = false) -> BuiltRequest? {
        switch runner.builder.build(
            compiled,
            context: context,
            loop: runner.index,
            sequence: sequence,
            cookies: cookieHeader,
            scratch: &scratch,
            speaksHTTP1: { authority in
                if forceHTTP1 { return true }
                guard let c = self.connections[authority] else { return false }
                return c.isReady && c.session == nil
            }
        ) {
        case .success(let b):
            return b
        case .failure(.missing(let missing)):
            runner.recorder.skippedSteps[compiled.nameID] += 1
            if runner.recorder.skipReasons[compiled.nameID] == nil {
                runner.recorder.skipReasons[compiled.nameID] = "${\(missing.name)} has no value"
            }
            return nil
        case .failure(.invalid(let message)):
            // Never written: a rendered line break or control byte would have added to the request.
            record(compiled, failure: .invalidRequest, message: message, bytesIn: 0)
            return nil
        }
    }

    /// Opens the VU's connection to the request's authority; the request goes out when it is
    /// ready (`connectionReady`), or fails with the connect (`connectFailed`).
    private func sendOnNewConnection(
        _ compiled: CompiledRequest,
        _ built: BuiltRequest,
        hops: Int,
        retryOf latencyStart: UInt64? = nil
    ) {
        opening = (compiled, built, latencyStart, hops)
        let authority = built.authority
        if let old = connections[authority] {
            old.owner = nil
            old.close()
        }
        let c = Connection(owner: self, data: authority, tls: authority.isTLS)
        c.parser.keepsHeaders = .all
        c.parser.bodyLimit = runner.bodyLimit
        connections[authority] = c
        // HTTP/2: the VU's connection is a session with one lane (a VU sends one request at
        // a time, as a k6 VU does); the lane is what the VU keeps and sends on. A lane whose
        // stream failed is replaced by a new lane on the same connection.
        if authority.http.isHTTP2, let kept = sessions[authority], kept.isReady, kept.hasRoom {
            kept.attach(c)
            return
        }
        let session = authority.http.isHTTP2 ? newSession(for: authority) : nil
        session?.attach(c)
        let runner = self.runner
        runner.addresses.lookup(authority) { result, dnsNanos in
            switch result {
            case .success(let address):
                do {
                    let tls =
                        authority.isTLS
                        ? try runner.tlsSetup(for: authority.host, http2: authority.http == .http2) : nil
                    if let session {
                        session.dnsNanos = dnsNanos
                        runner.factory.open(session, to: address, tls: tls)
                    } else {
                        c.dnsNanos = dnsNanos
                        runner.factory.open(c, to: address, tls: tls)
                    }
                } catch {
                    if let session { session.connectAttemptFailed(error) } else { c.connectAttemptFailed(error) }
                }
            case .failure(let error):
                if let session { session.connectAttemptFailed(error) } else { c.connectAttemptFailed(error) }
            }
        }
    }

    private func newSession(for authority: Authority) -> H2Session<VirtualUser> {
        sessions[authority]?.closeIfUnused()
        let session = H2Session<VirtualUser>(
            template: nil,
            capacity: 1,
            tls: authority.isTLS,
            allowsHTTP1: authority.isTLS && runner.defaults.http1Fallback
        )
        session.closesWhenEmpty = false
        session.onGone = { [weak self] gone in
            guard let self, self.sessions[authority] === gone else { return }
            self.sessions[authority] = nil
        }
        sessions[authority] = session
        return session
    }

    /// The request waiting for its connection to open.
    private var opening: (request: CompiledRequest, built: BuiltRequest, latencyStart: UInt64?, hops: Int)?

    /// Where the builder writes a request's bytes, kept so its capacity is reused.
    private var scratch: [UInt8] = []

    /// The request on the wire, kept here rather than in a callback per request (with its
    /// bytes, to send it again if its reused connection closes before answering).
    private var current: (request: CompiledRequest, built: BuiltRequest, latencyStart: UInt64, hops: Int)?

    private func send(
        _ compiled: CompiledRequest,
        _ built: BuiltRequest,
        on conn: Connection,
        hops: Int,
        retryOf latencyStart: UInt64? = nil
    ) {
        let sentAt = runner.now()
        let start: UInt64
        if let latencyStart {
            // The second attempt: its latency still counts from the first one's start, and
            // its bytes are not another request.
            start = latencyStart
            runner.recorder.overall.recordResend(bytes: built.wireBytes)
        } else {
            start = iterationDue.map { min($0, sentAt) } ?? sentAt
            iterationDue = nil
            runner.recorder.overall.recordSend(bytes: built.wireBytes, lagNanos: nil)
        }
        let timeout = (compiled.step.timeout ?? runner.defaults.timeout).nanosecondsClamped
        // Timeouts are found by the loop's sweep (every 50 ms), not a timer per request:
        // scheduling and cancelling one per request cost ~5 % of a plan run's throughput.
        conn.deadline = sentAt &+ timeout
        runner.track(conn)
        runner.inFlight += 1
        current = (compiled, built, start, hops)
        conn.parser.keepsHeaders = compiled.prepared.readsHeaders ? .all : .cookiesAndLocation
        conn.send(
            built.bytes,
            isHEAD: built.isHEAD,
            replayable: latencyStart == nil && compiled.prepared.isReplayable,
            isRetry: latencyStart != nil,
            requestID: RequestID.value(loop: runner.index, sequence: built.sequence),
            h2Request: built.h2,
            now: sentAt
        )
    }

    private func handle(
        _ compiled: CompiledRequest,
        _ response: VUResponse,
        latency: UInt64,
        completedAt: UInt64,
        built: BuiltRequest,
        hops: Int,
        phases: PhaseSample
    ) {
        let sequence = built.sequence
        let step = compiled.step
        let at = completedAt &- runner.startNanos
        let runner = self.runner
        func record(_ r: inout Recorder) {
            r.recordResponse(
                status: response.status,
                latencyNanos: latency,
                serviceNanos: nil,
                bytesIn: response.bytesIn,
                requestID: runner.requestID(sequence),
                completedAtNanos: at
            )
        }
        record(&runner.recorder.overall)
        runner.recorder.withName(compiled.nameID, record)
        runner.recorder.overall.recordPhases(phases)
        runner.recorder.withName(compiled.nameID) { $0.recordPhases(phases) }
        // Error samples show the decoded body (VirtualUser+Decoding.swift).
        if response.status >= 400 { recordErrorBody(response, compiled) }
        if let samples = runner.samples {
            samples.record(
                atNanos: at,
                name: runner.requestNames[compiled.nameID],
                status: response.status,
                error: nil,
                latencyNanos: latency,
                serviceNanos: nil,
                requestID: runner.requestID(sequence),
                bytesIn: response.bytesIn
            )
        }
        if runner.defaults.cookies && !response.headers.isEmpty { storeCookies(response.headers) }
        if let redirect = redirect(for: step, built, response, hops: hops) {
            perform(
                CompiledRequest(
                    step: redirect,
                    nameID: compiled.nameID,
                    checkIDs: compiled.checkIDs,
                    defaults: runner.defaults
                ),
                hops: hops + 1
            )
            return
        }
        var abort = false
        if !step.checks.isEmpty || !step.captures.isEmpty {
            var inspector = ResponseInspector(response: response, latencyNanos: latency, patterns: runner.patterns)
            for (i, check) in step.checks.enumerated() {
                let ok = inspector.passes(check, context: context)
                runner.recorder.check(compiled.checkIDs[i], passed: ok)
                if !ok && check.abortOnFail { abort = true }
            }
            for capture in step.captures {
                if let value = inspector.capture(capture) {
                    context.variables[capture.name] = value
                } else {
                    context.variables[capture.name] = nil
                    runner.recorder.captureFailures[compiled.nameID] += 1
                    sampleCaptureFailure(compiled, capture, response)
                    // An error against its step: it counts in the step's and the run's errors.
                    runner.recorder.withName(compiled.nameID) { $0.errors += 1 }
                    runner.recorder.overall.errors += 1
                }
            }
            // Decoded bytes and decode failures (VirtualUser+Decoding.swift).
            recordDecoding(inspector, compiled, status: response.status)
        }
        if abort {
            endIteration(complete: false)
        } else {
            next()
        }
    }

    /// A request that got no response: counted under its class, and every check and capture
    /// of its step fails, since a check that was never evaluated must not read as passed
    /// (5,175 `no_response` failures once left `checks > 99%` passing). A failed
    /// `abort_on_fail` check ends the iteration at the caller's `next()`, as it does after a
    /// response. Ctrl-C (`interrupted`) is the user stopping the run, not the service
    /// failing, so its requests are counted but not held against the checks.
    private func record(_ compiled: CompiledRequest, failure: TransportErrorClass, message: String, bytesIn: Int) {
        failChecks(compiled, failure)
        runner.recorder.overall.recordFailure(failure, bytesIn: bytesIn, message: message)
        runner.recorder.withName(compiled.nameID) { $0.recordFailure(failure, bytesIn: bytesIn) }
        runner.samples?.record(
            atNanos: runner.now() &- runner.startNanos,
            name: runner.requestNames[compiled.nameID],
            status: nil,
            error: failure,
            latencyNanos: nil,
            serviceNanos: nil,
            requestID: nil,
            bytesIn: bytesIn
        )
    }

    /// Keeps which capture found nothing, where it looked and the body it looked in, for the
    /// first few of each request name (``ResponseSamples``).
    private func sampleCaptureFailure(_ compiled: CompiledRequest, _ capture: Capture, _ response: VUResponse) {
        let name = runner.requestNames[compiled.nameID]
        guard runner.recorder.overall.responseSamples.wantsCaptureFailure(request: name) else { return }
        runner.recorder.overall.responseSamples.recordCaptureFailure(
            request: name,
            capture: capture.name,
            source: capture.source.description,
            status: response.status,
            body: response.sampleBody  // decoded, as checks read it
        )
    }

    private func failChecks(_ compiled: CompiledRequest, _ failure: TransportErrorClass) {
        let step = compiled.step
        guard failure != .interrupted else { return }
        for (i, check) in step.checks.enumerated() {
            runner.recorder.check(compiled.checkIDs[i], passed: false)
            if check.abortOnFail { abortPending = true }
        }
        for capture in step.captures {
            // Counted as failed captures, not as more errors: the request's failure is its error.
            context.variables[capture.name] = nil
            runner.recorder.captureFailures[compiled.nameID] += 1
        }
    }

    // MARK: - Cookies and redirects

    /// One cookie jar per VU, as a browser (and k6) keeps: name → value, deleted when the
    /// server expires a cookie. Domain and path scoping are not modelled: a VU talks to
    /// the service under test.
    private var cookies: [String: String] = [:]
    private var cookieOrder: [String] = []

    private var cookieHeader: String? {
        guard runner.defaults.cookies, !cookieOrder.isEmpty else { return nil }
        return cookieOrder.compactMap { name in cookies[name].map { "\(name)=\($0)" } }.joined(separator: "; ")
    }

    private func storeCookies(_ headers: [(name: String, value: String)]) {
        for (name, value) in headers where name.equalsIgnoringASCIICase("set-cookie") {
            let attributes = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let pair = attributes.first, let eq = pair.firstIndex(of: "=") else { continue }
            let cookieName = String(pair[pair.startIndex..<eq])
            let cookieValue = String(pair[pair.index(after: eq)...])
            let expired = attributes.dropFirst().contains {
                $0.lowercased() == "max-age=0" || $0.lowercased().hasPrefix("max-age=-")
            }
            if expired {
                cookies[cookieName] = nil
                cookieOrder.removeAll { $0 == cookieName }
            } else {
                if cookies[cookieName] == nil { cookieOrder.append(cookieName) }
                cookies[cookieName] = cookieValue
            }
        }
    }

    /// The request that follows a redirect, if this response is one and the limit allows:
    /// the same rules as `volley run --follow` (``RedirectDecision``), the Location resolved
    /// against the URL the request went to. A chain cut at the limit, or a Location that
    /// cannot be followed, ends with the 3xx and is counted as in a URL run.
    private func redirect(
        for step: RequestStep,
        _ built: BuiltRequest,
        _ response: VUResponse,
        hops: Int
    ) -> RequestStep? {
        guard RedirectDecision.statuses.contains(response.status) else { return nil }
        let location = response.headers.first(where: { $0.name.equalsIgnoringASCIICase("location") })?.value
        let authority = built.authority
        let current = TargetURL(
            scheme: authority.isTLS ? "https" : "http",
            host: authority.host,
            port: authority.port,
            pathAndQuery: built.path
        )
        let decision = RedirectDecision.decide(
            status: response.status,
            location: location,
            from: current,
            method: step.method,
            hops: hops,
            limit: runner.defaults.maxRedirects
        )
        switch decision {
        case .final:
            return nil
        case .limitReached:
            // Plans stop at max_redirects quietly when it is 0 (redirects not followed).
            if runner.defaults.maxRedirects > 0 { runner.recorder.overall.redirectLimit += 1 }
            return nil
        case .unusable:
            runner.recorder.overall.redirectUnusable += 1
            return nil
        case .follow(let url, let method, let keepsBody):
            var next = step
            let text = url.scheme + "://" + url.hostHeader + url.pathAndQuery
            next.url = Template(parts: [.literal(text)], source: text)
            next.query = []
            next.method = method
            if !keepsBody { next.body = nil }
            // The hop keeps HTTP/2 where its scheme allows (the rule of `volley run --follow`).
            if authority.http.isHTTP2 { next.http = RedirectFollower.hopProtocol(run: authority.http, to: url) }
            if url.authorityKey != authority.endpoint {
                next.headers = step.headers.filter {
                    !RedirectFollower.authorityHeaders.contains($0.name.lowercased())
                }
            }
            return next
        }
    }

    // MARK: - Connections (ConnectionOwner)

    func connectionReady(_ c: Connection) {
        guard c.isReady, connections[c.data] === c, let o = opening else { return }
        opening = nil
        connectFailures = 0
        // Counted once established (TCP, and TLS's handshake): an attempt is not a connection,
        // nor is a new stream's lane on a kept HTTP/2 connection.
        if c.opensTransport {
            runner.recorder.overall.connectionsOpened += 1
            // Connections to HTTP/2 authorities, by the protocol their server agreed to.
            if o.built.h2 != nil {
                if c.session != nil {
                    runner.recorder.overall.h2Connections += 1
                } else {
                    runner.recorder.overall.http1FallbackConnections += 1
                }
            }
        }
        // `http1_fallback`: the server answered ALPN with HTTP/1.1; the request built for
        // HTTP/2 goes as HTTP/1.1 (the same request number: it is the same request).
        guard o.built.h2 == nil || c.session != nil else {
            guard let again = build(o.request, sequence: o.built.sequence, forceHTTP1: true) else { return next() }
            return send(o.request, again, on: c, hops: o.hops, retryOf: o.latencyStart)
        }
        send(o.request, o.built, on: c, hops: o.hops, retryOf: o.latencyStart)
    }

    func connectFailed(_ c: Connection, error: any Error) {
        if connections[c.data] === c { connections[c.data] = nil }
        guard let o = opening else { return }
        opening = nil
        // The VU waits before going on, as `volley run`'s connections do: a refusing
        // target must not be hammered by VUs looping through failed iterations.
        connectFailures += 1
        let cls = ErrorClassifier.classify(error, connecting: true)
        let message = ErrorClassifier.message(error)
        runner.loop.assumeIsolated().scheduleTask(in: ReconnectBackoff.delay(afterFailures: connectFailures)) {
            [self] in
            record(o.request, failure: cls, message: message, bytesIn: 0)
            next()
        }
    }

    func responseCompleted(_ c: Connection, at t: UInt64, keepAlive: Bool) {
        runner.untrack(c)
        runner.inFlight -= 1
        guard let (compiled, built, latencyStart, hops) = current else { return }
        current = nil
        let response = VUResponse(
            status: c.parser.status,
            headers: c.parser.headers,
            body: c.parser.body,
            bytesIn: c.parser.bytesReceived,
            keepAlive: keepAlive
        )
        handle(
            compiled,
            response,
            latency: t &- latencyStart,
            completedAt: t,
            built: built,
            hops: hops,
            phases: c.phases(completedAt: t)
        )
    }

    func requestFailed(_ c: Connection, _ error: TransportErrorClass, message: String, bytesIn: Int, retry: Bool) {
        runner.untrack(c)
        runner.inFlight -= 1
        guard let (compiled, built, latencyStart, hops) = current else { return }
        current = nil
        if retry {
            // The server closed a reused connection before answering: a reconnect, and the
            // same request (same id) goes out once more on a new connection.
            runner.recorder.overall.reconnects += 1
            sendOnNewConnection(compiled, built, hops: hops, retryOf: latencyStart)
        } else {
            record(compiled, failure: error, message: message, bytesIn: bytesIn)
            next()
        }
    }

    func connectionDroppedWhileIdle(_ c: Connection) {
        // The server closed a keep-alive connection it had not said it would close.
        if c.served > 0 { runner.recorder.overall.reconnects += 1 }
    }

    func connectionClosed(_ c: Connection) {
        if connections[c.data] === c { connections[c.data] = nil }
    }

    /// Consecutive failed connects of this VU, for the reconnect backoff.
    private var connectFailures = 0

}

extension VirtualUser: ConnectionOwner {
    /// A VU's connection knows the authority it was opened to.
    typealias ConnectionData = Authority
    typealias Connection = HTTPConnection<VirtualUser>
}
