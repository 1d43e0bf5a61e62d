import NIOCore
import NIOHPACK
import NIOHTTP2

/// One route's answer, the same over HTTP/2 and HTTP/1.1 (see ``H2TestServer``'s routes).
struct H2Route {
    var status: Int
    var body: [UInt8]
    var contentType = "text/plain"
    /// Headers besides `content-type` and `content-length`, names lowercased.
    var headers: [(String, String)] = []
    /// Milliseconds before the answer goes out.
    var delay: Int64 = 0

    static let json = "{\"id\":42,\"name\":\"volley\"}"
    static let gzippedJSON = EncodedBodies.zlib(Array(json.utf8), .gzip())

    /// `pathAndQuery` without its query, the key of ``H2TestServer/Counts/requestsPerPath``.
    static func path(_ pathAndQuery: String) -> String {
        String(pathAndQuery.prefix { $0 != "?" })
    }

    /// The answer for a path (query already removed).
    static func answer(path: String) -> H2Route {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let argument = parts.count == 2 ? Int(parts.last!) : nil
        switch (parts.first ?? "", argument) {
        case ("", nil) where parts.count <= 1:
            return H2Route(status: 200, body: Array("hello".utf8))
        case ("delay", let ms?) where (0...60_000).contains(ms):
            return H2Route(status: 200, body: Array("hello".utf8), delay: Int64(ms))
        case ("status", let code?) where (200...599).contains(code):
            let bodyless = code == 204 || code == 304
            return H2Route(status: code, body: bodyless ? [] : Array("status".utf8))
        case ("json", nil) where parts.count == 1:
            return H2Route(status: 200, body: Array(json.utf8), contentType: "application/json")
        case ("gzip", nil) where parts.count == 1:
            return H2Route(
                status: 200,
                body: gzippedJSON,
                contentType: "application/json",
                headers: [("content-encoding", "gzip")]
            )
        case ("redirect", let n?) where n > 0:
            return H2Route(status: 302, body: [], headers: [("location", "/redirect/\(n - 1)")])
        case ("redirect", 0):
            return H2Route(status: 200, body: Array("arrived".utf8))
        case ("elsewhere", let port?) where (1...65535).contains(port):
            return H2Route(status: 302, body: [], headers: [("location", "http://127.0.0.1:\(port)/json")])
        default:
            return H2Route(status: 404, body: Array("not found".utf8))
        }
    }
}

/// Serves one HTTP/2 connection at frame level, below any stream multiplexer, so that it sees
/// and counts every stream, decides the GOAWAY's last stream and resets streams itself.
///
/// Lives on its channel's event loop and is touched only there (NIO's handler contract); what
/// tests read is in ``H2ServerState``.
final class H2ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// Adds swift-nio-http2's connection handler (announcing `settings`) and this one.
    static func install(on channel: any Channel, settings: HTTP2Settings, state: H2ServerState) throws {
        let pipeline = channel.pipeline.syncOperations
        // swift-nio-http2's DoS heuristics (200 client RST_STREAMs, stream errors or control
        // frames per 30 s, 200 glitches) would end a load test's connection with
        // ENHANCE_YOUR_CALM the moment a client cancels many streams: a proof server counts
        // such clients instead of defending against them.
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = settings
        connection.maximumConnectionGlitches = Int(Int32.max)
        connection.controlFrameRateLimit.maximumCount = Int(Int32.max)
        var streams = NIOHTTP2Handler.StreamConfiguration()
        streams.streamResetFrameRateLimit.maximumCount = Int(Int32.max)
        streams.streamErrorRateLimit.maximumCount = Int(Int32.max)
        let handler = NIOHTTP2Handler(mode: .server, connectionConfiguration: connection, streamConfiguration: streams)
        try pipeline.addHandler(handler)
        try pipeline.addHandler(H2ConnectionHandler(state: state))
        state.update { $0.http2Connections += 1 }
    }

    /// A stream opened and not yet answered, reset or cancelled.
    private struct Stream {
        var path: String
        var isHead: Bool
        var dispatched = false
        var timer: Scheduled<Void>?
    }

    private let state: H2ServerState
    private var streams: [HTTP2StreamID: Stream] = [:]
    private var streamsOnConnection = 0
    /// The client has acknowledged the server's SETTINGS: from here on it knows the limit.
    private var settingsAcknowledged = false
    /// Set once GOAWAY went out: the last stream this connection answers.
    private var lastAnswered: HTTP2StreamID?
    private var closing = false

    init(state: H2ServerState) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            if streams[frame.streamID] == nil {
                open(frame.streamID, headers: headers, context: context)
            } else if headers.endStream {
                dispatch(frame.streamID, context: context)  // trailers end the request
            }
        case .data(let data):
            if data.endStream { dispatch(frame.streamID, context: context) }
        case .settings(.ack):
            settingsAcknowledged = true
        case .rstStream:
            guard let stream = streams.removeValue(forKey: frame.streamID) else { return }
            stream.timer?.cancel()
            state.update { $0.resetsReceived += 1 }
            closeIfDone(context: context, after: nil)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        for stream in streams.values { stream.timer?.cancel() }
        streams.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // swift-nio-http2 treats a stream beyond the acknowledged limit as a connection error
        // (RFC 9113 §5.1.2 allows it). For that and any other connection error it has written
        // GOAWAY; make sure that reaches the client before the connection ends.
        if error is NIOHTTP2Errors.MaxStreamsViolation {
            state.update { $0.streamLimitViolations += 1 }
        }
        for stream in streams.values { stream.timer?.cancel() }
        streams.removeAll()
        context.flush()
        closeGracefully(context: context, after: nil)
    }

    private func open(_ id: HTTP2StreamID, headers: HTTP2Frame.FramePayload.Headers, context: ChannelHandlerContext) {
        // Beyond the GOAWAY's last stream: refused, never answered (swift-nio-http2 normally
        // drops these before they get here).
        if let lastAnswered, id > lastAnswered { return }
        guard !closing else { return }
        streamsOnConnection += 1
        let path = H2Route.path(headers.headers.first(name: ":path") ?? "/")
        streams[id] = Stream(path: path, isHead: headers.headers.first(name: ":method") == "HEAD")
        let reset = state.streamOpened(path: path, openOnConnection: streams.count, knowingLimit: settingsAcknowledged)
        if let limit = state.options.goAwayAfter, streamsOnConnection == limit {
            lastAnswered = id
            let goAway = HTTP2Frame(
                streamID: .rootStream,
                payload: .goAway(lastStreamID: id, errorCode: .noError, opaqueData: nil)
            )
            // Counted before the write, so that a client that has seen the frame sees it counted.
            state.update { $0.goAwaysSent += 1 }
            context.writeAndFlush(wrapOutboundOut(goAway), promise: nil)
        }
        if reset {
            streams[id] = nil
            let frame = HTTP2Frame(streamID: id, payload: .rstStream(state.options.resetCode.http2))
            state.update { $0.resetsSent += 1 }
            let written = context.writeAndFlush(wrapOutboundOut(frame))
            closeIfDone(context: context, after: written)
            return
        }
        if headers.endStream { dispatch(id, context: context) }
    }

    /// The request has ended: answer now or after the route's delay.
    private func dispatch(_ id: HTTP2StreamID, context: ChannelHandlerContext) {
        guard var stream = streams[id], !stream.dispatched else { return }
        stream.dispatched = true
        let route = H2Route.answer(path: stream.path)
        guard route.delay > 0 else {
            streams[id] = stream
            return respond(id, route: route, context: context)
        }
        stream.timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(route.delay)) {
            self.respond(id, route: route, context: context)
        }
        streams[id] = stream
    }

    private func respond(_ id: HTTP2StreamID, route: H2Route, context: ChannelHandlerContext) {
        guard let stream = streams.removeValue(forKey: id), context.channel.isActive else { return }
        let bodyless = route.status == 204 || route.status == 304
        var fields = HPACKHeaders([(":status", String(route.status)), ("content-type", route.contentType)])
        if !bodyless { fields.add(name: "content-length", value: String(route.body.count)) }
        for (name, value) in route.headers { fields.add(name: name, value: value) }
        // An empty body ends with the HEADERS (END_STREAM there, no empty DATA frame), as nginx
        // does.
        let headersOnly = bodyless || stream.isHead || route.body.isEmpty
        let head = HTTP2Frame(streamID: id, payload: .headers(.init(headers: fields, endStream: headersOnly)))
        state.update { $0.responsesSent += 1 }
        let written: EventLoopFuture<Void>
        if headersOnly {
            written = context.writeAndFlush(wrapOutboundOut(head))
        } else {
            context.write(wrapOutboundOut(head), promise: nil)
            let body = context.channel.allocator.buffer(bytes: route.body)
            let data = HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(body), endStream: true)))
            written = context.writeAndFlush(wrapOutboundOut(data))
        }
        closeIfDone(context: context, after: written)
    }

    /// After GOAWAY, once every stream up to its last one is done: closes the output when the
    /// last write has reached the socket, then the whole connection when the client closes or
    /// a second later. Closing the output first keeps a client's late frames from turning the
    /// close into a TCP reset that could discard the final responses.
    private func closeIfDone(context: ChannelHandlerContext, after write: EventLoopFuture<Void>?) {
        guard lastAnswered != nil, streams.isEmpty else { return }
        closeGracefully(context: context, after: write)
    }

    private func closeGracefully(context: ChannelHandlerContext, after write: EventLoopFuture<Void>?) {
        guard !closing else { return }
        closing = true
        let close = {
            context.close(mode: .output, promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) {
                context.close(promise: nil)
            }
        }
        if let write {
            write.assumeIsolated().whenComplete { _ in close() }
        } else {
            close()
        }
    }
}

/// The same routes over HTTP/1.1, for clients that chose `http/1.1` in ALPN (or offered none)
/// and for the server that refuses h2. `content-type` is always `text/plain` there.
struct H2RoutesOverHTTP1: RequestResponder {
    let state: H2ServerState

    func respond(to request: ReceivedRequest, with reply: Reply) {
        state.update { counts in
            counts.http1Requests += 1
            counts.requestsPerPath[request.path, default: 0] += 1
        }
        let route = H2Route.answer(path: request.path)
        let state = self.state
        let send = {
            let bodyless = route.status == 204 || route.status == 304
            let headers = route.headers.map { (name, value) in (name.capitalized, value) }
            let head = reply.head(
                status: route.status,
                contentLength: bodyless ? nil : route.body.count,
                headers: headers
            )
            state.update { $0.responsesSent += 1 }
            var written = reply.write(head)
            if !bodyless && request.method != "HEAD" {
                written = reply.write(bytes: route.body)
            }
            reply.end(after: written)
        }
        if route.delay > 0 {
            reply.after(.milliseconds(route.delay), send)
        } else {
            send()
        }
    }
}
