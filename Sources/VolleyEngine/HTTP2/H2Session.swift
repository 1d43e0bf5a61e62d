import NIOCore
import NIOTLS
import VolleyCore

/// One HTTP/2 connection of an engine: the TCP (or TLS) channel, its ``H2Connection`` state
/// machine, and the *lanes* whose requests are its streams.
///
/// A lane is an ``HTTPConnection`` in HTTP/2 mode: to its owner it is a connection carrying
/// one request at a time, so both engines' accounting (tickets, retries, timeouts, the
/// finish rule) works unchanged; the session multiplexes up to `capacity` lanes on one TCP
/// connection (`-m`). Lanes beyond what the server allows at once
/// (SETTINGS_MAX_CONCURRENT_STREAMS) wait in order for a stream, and that wait is part of
/// their latency. Frames are written straight into one buffer and written once per read (a
/// read that completes ten streams sends their ten successors in one write) — in the closed
/// model, or briefly later with the successors of the rest of their write (``H2WriteHold``)
/// — and the buffer is reused.
final class H2Session<Owner: ConnectionOwner>: ChannelInboundHandler, RemovableChannelHandler, ConnectTarget {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The request of `volley run`'s lanes; a plan's VU passes its own with each request.
    let template: H2RequestTemplate?
    /// Lanes this session carries (`-m`).
    let capacity: Int
    private(set) var h2: H2Connection
    private(set) var lanes: [HTTPConnection<Owner>] = []
    /// The lanes with a stream open and their stream ids, at the same positions: at most
    /// `capacity` entries, searched linearly (at `-m 10`, hashing for the head, the body
    /// and the end of every stream cost 2.8 % of the run's CPU).
    private var openIDs: [UInt32] = []
    private var openLanes: [HTTPConnection<Owner>] = []
    /// The write each open stream's request left in (`hold.write` until it has left), at the
    /// same positions as `openIDs`.
    private var openWrites: [UInt32] = []
    /// Closed model: a read's new requests may wait for the successors of the rest of their
    /// write (``H2WriteHold``). The open model's requests leave at their time.
    let coalescesWrites: Bool
    private var hold = H2WriteHold()
    /// Lanes with a request waiting for the server to allow another stream.
    private var waiting: [(lane: HTTPConnection<Owner>, request: H2RequestTemplate, requestID: UInt64)] = []
    private var context: ChannelHandlerContext?
    private var out: ByteBuffer
    private var events: [H2Event] = []
    private var inRead = false
    /// When the bytes being handled were read.
    private var readAt: UInt64 = 0
    private(set) var isReady = false
    /// Takes no more lanes: GOAWAY received or sent, broken, or closed.
    private(set) var isDraining = false
    private(set) var isClosed = false
    private var pendingError: (any Error)?
    /// Set when Volley connected the socket itself (h2c on Linux): frames are written with
    /// `send(2)` rather than through NIO's channel (``DirectWriter``).
    var direct: DirectWriter?
    /// Called once the session has no lane left and is closed, for its pool to forget it.
    var onGone: ((H2Session<Owner>) -> Void)?
    /// Whether the connection closes when its last lane fails (a timeout, a reset stream).
    /// A pool's lanes are replaced by new ones elsewhere; a VU's next request joins the same
    /// connection again, as a browser's or k6's would: a reset stream does not end HTTP/2's
    /// connection. A lane's `release` closes it either way.
    var closesWhenEmpty = true
    /// Whether a lane has counted the connection's opening (``HTTPConnection/opensTransport``).
    private var transportClaimed = false
    /// `--http1-fallback`: a server that answers ALPN with HTTP/1.1 (or nothing) is spoken to
    /// in HTTP/1.1 instead of failing the connection.
    let allowsHTTP1: Bool
    /// After a fallback, the lanes other than the one that took the channel: each needs a
    /// connection of its own, since HTTP/1.1 carries one request at a time.
    var onFallBack: (([HTTPConnection<Owner>]) -> Void)?

    // Connection set-up, claimed by the lane that made the session connect.
    let awaitsHandshake: Bool
    var connectStartedAt: UInt64 = 0
    var connectDeadline: UInt64 = .max
    var connectTimeoutSeconds: Double = 10
    var dnsNanos: UInt64?
    private var tcpConnectedAt: UInt64 = 0
    private var handshake = HandshakeDeadline()

    init(
        template: H2RequestTemplate?,
        capacity: Int,
        tls: Bool,
        allowsHTTP1: Bool = false,
        coalescesWrites: Bool = false,
        settings: H2LocalSettings = H2LocalSettings()
    ) {
        self.template = template
        self.coalescesWrites = coalescesWrites
        self.allowsHTTP1 = allowsHTTP1
        self.capacity = max(1, capacity)
        self.awaitsHandshake = tls
        // One stream before the server's SETTINGS: its SETTINGS_MAX_CONCURRENT_STREAMS then
        // holds from the first burst (docs/http2.md); the other lanes wait one round trip.
        self.h2 = H2Connection(settings: settings, streamsBeforeSettings: 1)
        self.out = ByteBufferAllocator().buffer(capacity: 4096)
    }

    /// Whether another lane may join: room, and the connection not ending.
    var hasRoom: Bool { !isDraining && !isClosed && lanes.count < capacity && !h2.isUsedUp }

    // MARK: - Lanes

    /// Makes `lane` one of this session's; it becomes ready with the session (at once when
    /// the session already is).
    func attach(_ lane: HTTPConnection<Owner>) {
        if lanes.isEmpty { h2.keepsAllHeaders = lane.parser.keepsHeaders != .none }
        lane.session = self
        lane.opensTransport = !transportClaimed
        transportClaimed = true
        lanes.append(lane)
        if isReady { laneReady(lane, at: HTTPConnection<Owner>.now(), claimsSetup: false) }
    }

    private func laneReady(_ lane: HTTPConnection<Owner>, at t: UInt64, claimsSetup: Bool) {
        lane.activated = true
        lane.readyAt = t
        lane.connectStartedAt = connectStartedAt
        lane.tcpConnectedAt = tcpConnectedAt
        lane.dnsNanos = claimsSetup ? dnsNanos : nil
        lane.setupUnclaimed = claimsSetup
        if lane.state == .connecting { lane.state = .idle }
        lane.owner?.connectionReady(lane)
        // Released while connecting: ready is reported (the owner's connects settle), then it leaves.
        if lane.state == .closing { detach(lane, closingWhenEmpty: true) }
    }

    /// Sends `lane`'s request (`request`, else the session's template; request id
    /// `requestID`) on a new stream, or queues it until the server allows another.
    func send(lane: HTTPConnection<Owner>, request: H2RequestTemplate? = nil, requestID: UInt64) {
        guard !isDraining, !isClosed else {
            return laneFailed(lane, .goAway, "the connection is ending (GOAWAY)", retry: true)
        }
        // Passed on, not unwrapped into a new value: `request ?? template` copied the
        // template (a retain and a release of its block and body) per request.
        if let request {
            send(lane, request, requestID: requestID)
        } else if let template {
            send(lane, template, requestID: requestID)
        } else {
            preconditionFailure("Invalid state: an HTTP/2 request without a template")
        }
    }

    private func send(_ lane: HTTPConnection<Owner>, _ request: H2RequestTemplate, requestID: UInt64) {
        guard h2.canOpenStream else {
            waiting.append((lane, request, requestID))
            return
        }
        open(lane, request, requestID: requestID, waited: false)
    }

    /// `waited`: the request waited for a stream, so it leaves now, not when its lane sent it
    /// (``HTTPConnection/send`` set `writtenAt` to that time, as HTTP/1.1 does).
    private func open(_ lane: HTTPConnection<Owner>, _ request: H2RequestTemplate, requestID: UInt64, waited: Bool) {
        let id = h2.sendRequest(request, requestID: requestID, into: &out)
        openIDs.append(id)
        openLanes.append(lane)
        openWrites.append(hold.write)
        lane.streamID = id
        if waited { lane.writtenAt = HTTPConnection<Owner>.now() }
        writeOut()
    }

    /// A lane's request timed out (or was interrupted): its stream is reset, the connection
    /// stays, and the lane leaves (its owner replaces it).
    func fail(lane: HTTPConnection<Owner>, _ error: TransportErrorClass, message: String) {
        if lane.streamID != 0 {
            h2.cancelStream(lane.streamID, into: &out)
            _ = removeLane(of: lane.streamID)
            lane.streamID = 0
            writeOut()
        } else if let i = waiting.firstIndex(where: { $0.lane === lane }) {
            waiting.remove(at: i)
        }
        laneFailed(lane, error, message, retry: false)
    }

    /// The owner has no more work for an idle lane: it leaves; the connection closes with
    /// its last lane. A lane still connecting is marked closing and stays until the
    /// connection's set-up ends, then reports it (ready and closed, or failed) as an HTTP/1.1
    /// connection told to close while connecting does: leaving silently, it was never counted
    /// out of its owner's connects in progress, and an open-model run against a server
    /// refusing h2 never ended (299 of 300 requests counted, then nothing, for minutes).
    func release(lane: HTTPConnection<Owner>) {
        switch lane.state {
        case .idle: detach(lane, closingWhenEmpty: true)
        case .connecting: lane.state = .closing
        default: break
        }
    }

    /// Closes a connection that no lane uses (a VU's, kept after its lane failed).
    func closeIfUnused() {
        guard lanes.isEmpty, !isClosed, !isDraining else { return }
        isDraining = true
        h2.close(into: &out)
        writeOut()
        context?.close(promise: nil)
    }

    private func laneFailed(_ lane: HTTPConnection<Owner>, _ error: TransportErrorClass, _ message: String, retry: Bool)
    {
        guard lane.state == .busy else { return }
        lane.state = .closing
        lane.deadline = .max
        lane.owner?.requestFailed(lane, error, message: message, bytesIn: lane.parser.bytesReceived, retry: retry)
        detach(lane)
    }

    /// Removes `lane`, reports it closed, and closes the connection when it was the last
    /// (unless the owner keeps it for its next lane, ``closesWhenEmpty``).
    private func detach(_ lane: HTTPConnection<Owner>, closingWhenEmpty: Bool = false) {
        if let i = lanes.firstIndex(where: { $0 === lane }) { lanes.remove(at: i) }
        let wasReady = lane.activated
        lane.state = .closed
        lane.session = nil
        if wasReady { lane.owner?.connectionClosed(lane) }
        if lanes.isEmpty && !isClosed && (closingWhenEmpty || closesWhenEmpty || isDraining) {
            isDraining = true
            h2.close(into: &out)
            flush()
            context?.close(promise: nil)
        }
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        tcpConnectedAt = HTTPConnection<Owner>.now()
        guard awaitsHandshake else { return becameReady(at: tcpConnectedAt) }
        handshake.arm(for: self, on: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted(let proto) = tlsEvent, !isReady {
            handshake.disarm()
            guard proto == "h2" else {
                if allowsHTTP1, fallBack(context: context, event: event) { return }
                pendingError = ALPNRefused(offered: proto)
                context.close(promise: nil)
                return
            }
            becameReady(at: HTTPConnection<Owner>.now())
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// `--http1-fallback`, and the server chose HTTP/1.1 (or no protocol) in ALPN: the first
    /// lane takes the channel as an HTTP/1.1 connection — put in the pipeline in this
    /// session's place, it hears the handshake's end and becomes ready with this connection's
    /// set-up (TCP and TLS phases, `connections opened`) — and every other lane connects on
    /// its own (`onFallBack`). Per connection, not per run: behind a load balancer some
    /// servers may speak h2 and some not. False when no lane is left to take the channel.
    private func fallBack(context: ChannelHandlerContext, event: Any) -> Bool {
        guard let first = lanes.first(where: { $0.state == .connecting }),
            (try? context.pipeline.syncOperations.addHandler(first, position: .after(self))) != nil
        else { return false }
        let others = lanes.filter { $0 !== first && $0.state == .connecting }
        let released = lanes.filter { $0.state == .closing }
        lanes.removeAll()
        // Told to close while connecting (the run is ending): their connect ends here.
        for lane in released { lane.connectAttemptFailed(ChannelError.ioOnClosedChannel) }
        isDraining = true
        isClosed = true
        first.session = nil
        first.opensTransport = true
        first.connectStartedAt = connectStartedAt
        first.connectDeadline = connectDeadline
        first.tcpConnectedAt = tcpConnectedAt
        first.dnsNanos = dnsNanos
        onGone?(self)
        onFallBack?(others)
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        return true
    }

    private func becameReady(at t: UInt64) {
        isReady = true
        // The client may send requests right after its preface (RFC 9113 §3.4).
        h2.start(into: &out)
        writeOut()
        for (i, lane) in lanes.enumerated() { laneReady(lane, at: t, claimsSetup: i == 0) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        Owner.sessionRead(self, unwrapInboundIn(data))
    }

    /// What `channelRead` does, reached through ``ConnectionOwner/sessionRead(_:_:)`` so that
    /// it runs specialized for the owner.
    func read(_ buffer: ByteBuffer) {
        let t = HTTPConnection<Owner>.now()
        readAt = t
        inRead = true
        defer { inRead = false }
        events.removeAll(keepingCapacity: true)
        // Heads and body bytes reach their lanes during `receive` (``H2ResponseSink``); the
        // rest waits for its end, since it may open streams (`h2` is busy until then).
        var sink = self
        h2.receive(buffer, into: &out, sink: &sink)
        for event in events { handle(event, at: t) }
        serveWaiting()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if coalescesWrites, out.readableBytes > 0, holds(context) { return }
        flush()
    }

    /// Whether the requests this read opened wait (``H2WriteHold``); the first hold sets the
    /// timer that sends them at its bound.
    private func holds(_ context: ChannelHandlerContext) -> Bool {
        switch hold.readEnded(at: readAt, openWrites: openWrites) {
        case .send:
            return false
        case .keepHolding:
            return true
        case .startHold(let until):
            let write = hold.write
            context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(until)) { [self] in
                // Unless they have left already (the rest of their write completed).
                if hold.write == write { flush() }
            }
            return true
        }
    }

    // Inlined into `read`, which runs specialized for the owner (``ConnectionOwner/sessionRead``).
    @inline(__always)
    private func handle(_ event: H2Event, at t: UInt64) {
        switch event {
        case .responseHead, .data:
            // Never among a session's events: heads and bodies reached their lanes during
            // `receive` (``H2ResponseSink``).
            assertionFailure("a response head or body delivered as an event")
        case .responseComplete(let stream):
            guard let i = openIDs.firstIndex(of: stream) else { return }
            if coalescesWrites { hold.completed(write: openWrites[i], latency: t &- openLanes[i].writtenAt) }
            let lane = removeLane(at: i)
            lane.streamID = 0
            lane.served += 1
            lane.state = .idle
            lane.deadline = .max
            lane.owner?.responseCompleted(lane, at: t, keepAlive: true)
        case .streamReset(let stream, let code):
            guard let lane = removeLane(of: stream) else { return }
            lane.streamID = 0
            // REFUSED_STREAM: the server did not process it (RFC 9113 §8.7), safe to send again.
            laneFailed(
                lane,
                .streamReset,
                "the server reset the stream (\(code))",
                retry: code == .refusedStream && !lane.isRetry
            )
        case .streamError(let stream, _, let message):
            guard let lane = removeLane(of: stream) else { return }
            lane.streamID = 0
            laneFailed(lane, .malformed, message, retry: false)
        case .goAway(_, let code, let refused, let debug):
            isDraining = true
            for stream in refused {
                guard let lane = removeLane(of: stream) else { continue }
                lane.streamID = 0
                // Above the last stream: not processed, so sent again on another connection.
                laneFailed(
                    lane,
                    .goAway,
                    "the server ended the connection (GOAWAY \(code)) before this stream\(debug.isEmpty ? "" : ": \(debug)")",
                    retry: !lane.isRetry
                )
            }
            for (lane, _, _) in waiting {
                laneFailed(lane, .goAway, "the server ended the connection (GOAWAY \(code))", retry: !lane.isRetry)
            }
            waiting.removeAll()
            // Idle lanes leave now (their owner opens them elsewhere); busy ones finish first.
            for lane in lanes where lane.state == .idle { detach(lane) }
        case .connectionError(let error, let open):
            isDraining = true
            for stream in open {
                guard let lane = removeLane(of: stream) else { continue }
                lane.streamID = 0
                laneFailed(lane, .malformed, "HTTP/2 connection error: \(error)", retry: false)
            }
            flush()
            context?.close(promise: nil)
        }
    }

    @inline(__always)
    fileprivate func lane(of stream: UInt32) -> HTTPConnection<Owner>? {
        guard let i = openIDs.firstIndex(of: stream) else { return nil }
        return openLanes[i]
    }

    /// Forgets the stream's lane (the last entry takes its place: order does not matter).
    @inline(__always)
    private func removeLane(of stream: UInt32) -> HTTPConnection<Owner>? {
        guard let i = openIDs.firstIndex(of: stream) else { return nil }
        return removeLane(at: i)
    }

    @inline(__always)
    private func removeLane(at i: Int) -> HTTPConnection<Owner> {
        let lane = openLanes[i]
        let last = openIDs.count - 1
        if i != last {
            openIDs[i] = openIDs[last]
            openLanes[i] = openLanes[last]
            openWrites[i] = openWrites[last]
        }
        openIDs.removeLast()
        openLanes.removeLast()
        openWrites.removeLast()
        return lane
    }

    /// Lanes waiting for a stream get one as streams complete.
    private func serveWaiting() {
        while !waiting.isEmpty, h2.canOpenStream, !isDraining {
            let (lane, request, id) = waiting.removeFirst()
            open(lane, request, requestID: id, waited: true)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if pendingError == nil { pendingError = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.disarm()
        isClosed = true
        isDraining = true
        guard isReady else {
            let error = pendingError ?? HandshakeClosed()
            for lane in lanes { lane.connectAttemptFailed(error) }
            lanes.removeAll()
            onGone?(self)
            return
        }
        for lane in lanes {
            switch lane.state {
            case .busy:
                let close = UnansweredClose(
                    pendingError: pendingError,
                    responseBytes: lane.parser.bytesReceived,
                    reused: true,
                    replayable: lane.replayable,
                    nothingWritten: false,
                    alreadyRetried: lane.isRetry
                )
                lane.state = .closing
                lane.deadline = .max
                lane.owner?.requestFailed(
                    lane,
                    close.failure,
                    message: close.message,
                    bytesIn: lane.parser.bytesReceived,
                    retry: close.retry
                )
            case .idle:
                lane.owner?.connectionDroppedWhileIdle(lane)
            default:
                break
            }
            lane.state = .closed
            lane.session = nil
            lane.owner?.connectionClosed(lane)
        }
        lanes.removeAll()
        openIDs.removeAll()
        openLanes.removeAll()
        openWrites.removeAll()
        waiting.removeAll()
        onGone?(self)
    }

    /// Closed (all its lanes gone) while connecting: a socket connected now is closed.
    var abandonsConnect: Bool { isClosed }
    var handshakeDone: Bool { isReady }

    /// The connect failed before the channel existed (refused, timed out).
    func connectAttemptFailed(_ error: any Error) {
        guard !isReady, !isClosed else { return }
        isClosed = true
        for lane in lanes { lane.connectAttemptFailed(error) }
        lanes.removeAll()
        onGone?(self)
    }

    // MARK: - Writing

    /// Frames appended during a read wait for its end (`channelReadComplete`), so the streams
    /// a read completes and their successors leave in one write; otherwise they leave now.
    private func writeOut() {
        if !inRead { flush() }
    }

    /// Writes and flushes what `out` holds. `out` then keeps its storage (the socket has
    /// taken the bytes, so it is unique again) instead of a new buffer per write.
    private func flush() {
        guard out.readableBytes > 0, let context else { return }
        let write = hold.write
        if hold.wrote() {
            // Held: they leave now, and their send phase says how long they waited.
            let t = HTTPConnection<Owner>.now()
            for (i, w) in openWrites.enumerated() where w == write { openLanes[i].writtenAt = t }
        }
        if let direct {
            // A failed send closes the channel on the next turn; its streams fail then.
            if let error = direct.write(out, context: context), pendingError == nil { pendingError = error }
        } else {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
        out.clear()
    }
}

extension H2Session: H2ResponseSink {
    @inline(__always)
    func responseHead(stream: UInt32, _ head: H2ResponseHead) {
        guard let lane = lane(of: stream) else { return }
        if lane.firstByteAt == 0 { lane.firstByteAt = readAt }
        lane.parser.h2Head(
            status: head.status,
            headers: head.headers.lazy.map { ($0.name, $0.value) },
            headBytes: H2.frameHeaderLength + head.blockBytes
        )
    }

    @inline(__always)
    func responseData(stream: UInt32, _ bytes: UnsafeRawBufferPointer, frameBytes: Int) {
        guard let lane = lane(of: stream) else { return }
        if lane.firstByteAt == 0 { lane.firstByteAt = readAt }
        lane.parser.h2Body(bytes, frameBytes: frameBytes)
    }

    func event(_ event: H2Event) {
        events.append(event)
    }
}

/// `--http2` against a server whose TLS handshake did not select h2 with ALPN.
struct ALPNRefused: Error, CustomStringConvertible {
    var offered: String?
    var description: String {
        "the server did not agree to HTTP/2 in the TLS handshake (ALPN: \(offered.map { "\"\($0)\"" } ?? "none"))"
    }
}
