import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// An in-process HTTP/1.1 server on 127.0.0.1 that misbehaves on request.
///
/// Tests of the load generator point it at this server to check its numbers against a peer whose
/// behaviour they control exactly: status mixes, delays, periodic stalls, resets, garbage, early
/// closes, HTTP/1.0 replies and bodies of any size. It is written at byte level on SwiftNIO (no
/// NIOHTTP1) precisely so that it can send what a well-behaved HTTP library never would.
///
/// Every connection is keep-alive and serves its requests one after another: a request that
/// arrives while the previous reply is still pending (delayed, stalled, streaming) waits its turn.
/// The route is picked by the path before `?`:
///
/// - `/`: 200 `hello`.
/// - `/status/{code}`: that status with body `status` (no body for 1xx, 204 and 304).
/// - `/error/{code}?body=…&chunked=1`: that status with the percent-decoded `body` (by default
///   `QueuePool limit of size 5 overflow 10 reached, connection timed out`), chunked in two
///   pieces when `chunked=1`: an application server's error page.
/// - `/delay/{ms}` and `/slow/{ms}`: 200 `hello` after `ms` milliseconds.
/// - `/stall?period=5000&stall=1000&offset=4000`: with `t` the time since the first `/stall`
///   request this server received, a request with `t >= offset` and
///   `(t - offset) mod period < stall` is held until that stall window ends; others get 200 `ok`
///   at once.
/// - `/mix`: the n-th (0-based, across all connections) gets 500 when `n % 10 == 0`, 404 when
///   `n % 10 == 1`, 200 otherwise.
/// - `/reset/{N}`: every N-th request to `/reset/N` (1-based count kept per N) is answered with a
///   TCP RST (SO_LINGER 0, then close) and no bytes; the others get 200 `ok`.
/// - `/garbage`: `this is not http at all\r\n\r\n`, then close.
/// - `/close-no-reply`: close without writing anything.
/// - `/close`: 200 `bye` with `Connection: close`, then close.
/// - `/close-after/{n}`: 200 `ok`; every n-th reply on a connection is followed by a close
///   that the reply did not announce (no `Connection: close`), as servers do on an idle
///   timeout or after N requests.
/// - `/endless`: 200 with a chunked body that never ends (a 5-byte chunk every 50 ms).
/// - `/http10`: `HTTP/1.0 200 OK` with `Content-Length: 5` and `hello`, then close.
/// - `/http10-noclen`: `HTTP/1.0 200 OK`, no length, 1000 bytes of `x` delimited by the close.
/// - `/huge/{bytes}`: 200 with that Content-Length, streamed in 64 KiB pieces under backpressure.
/// - `/chunked/{bytes}`: 200 chunked, 16 KiB chunks, streamed under backpressure.
/// - `/headers`: 200 whose body is the request head exactly as received (through the blank line).
/// - `/redirect/{n}`: 302 to `/redirect/{n-1}`, and 200 `arrived` at 0.
/// - `/cookie/set` sets `session=s3cr3t`; `/cookie/echo` answers with the request's Cookie value.
/// - `/businesses/id/{id}`: 200 with a small JSON object for that id.
/// - `/inject`: 200 with the JSON `{"path":"/x\r\nX-Injected: 1","value":"v\r\nX-Injected: 1"}`
///   (escaped in the JSON, real line breaks once captured): a service that tries to add a
///   header to its client's next request. ``injectedHeadersSeen`` counts requests that carried
///   an `X-Injected` header.
/// - `/encoded/{kind}`: 200 with ``EncodedBodies/json`` under a `Content-Encoding` (`gzip`,
///   `deflate`, `deflate-raw`, `br`, `gzip-br`, `bad-gzip`, `zstd`, `bomb`: see
///   ``EncodedBodies/Kind``); `/encoded/negotiate` gzips only when `Accept-Encoding` asks.
/// - `/api/v1/todos`: POST creates a todo (201, JSON with `id`), GET lists them, DELETE
///   `/api/v1/todos/{id}` answers 200 for an existing todo and 404 otherwise.
/// - anything else: 404 `not found`.
///
/// Beyond that: a `HEAD` request gets the same head but no body, a request with
/// `Connection: close` (or an HTTP/1.0 request without `Connection: keep-alive`) gets
/// `Connection: close` and the connection is closed after its reply, a malformed head gets 400 and
/// a close, and a request body sent with `Transfer-Encoding` gets 501 and a close (only
/// `Content-Length` bodies are read and skipped).
///
/// Call ``shutdown()`` when done: the server owns an event loop group whose threads are not
/// released otherwise.
public final class TestServer: Sendable {
    /// The port the kernel picked when the server bound 127.0.0.1:0.
    public var port: Int { host.port }
    private let isTLS: Bool
    private let host: ServerHost
    private let state: ServerState

    private init(isTLS: Bool, host: ServerHost, state: ServerState) {
        self.isTLS = isTLS
        self.host = host
        self.state = state
    }

    /// Starts on 127.0.0.1:0, so that tests running in parallel never fight over a port.
    ///
    /// - Parameters:
    ///   - tls: when non-nil the server speaks TLS with this context (see ``makeTLSContext(certificatePath:keyPath:)``),
    ///     so the client's TLS path can be tested against the same routes.
    ///   - threads: event loop threads; more than one lets tests load the server from many connections
    ///     without the server becoming the bottleneck.
    public static func start(tls: NIOSSLContext? = nil, threads: Int = 1) async throws -> TestServer {
        let state = ServerState()
        let host = try await ServerHost.start(threads: threads, backlog: 1024) { channel in
            let pipeline = channel.pipeline.syncOperations
            if let tls {
                try pipeline.addHandler(NIOSSLServerHandler(context: tls))
            }
            try pipeline.addHandler(ConnectionHandler(state: state))
        }
        return TestServer(isTLS: tls != nil, host: host, state: state)
    }

    /// Builds a server TLS context from PEM files, so tests need no NIOSSL boilerplate to get an
    /// HTTPS server (the fixtures hold a self-signed certificate for `localhost` and `127.0.0.1`).
    ///
    /// ALPN offers only `http/1.1`: this server speaks nothing else, and saying so keeps clients
    /// that also offer `h2` (curl) on HTTP/1.1.
    public static func makeTLSContext(certificatePath: String, keyPath: String) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    /// "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT", ready to be a load target.
    public var baseURL: String {
        "\(isTLS ? "https" : "http")://127.0.0.1:\(port)"
    }

    /// Total requests whose head was fully received (all routes, all connections), so tests can
    /// compare what the client claims it sent with what actually arrived.
    public var requestsReceived: Int {
        state.counters.withLock { $0.requestsReceived }
    }

    /// Requests that arrived with an `X-Injected` header (see `/inject`): how a test shows that
    /// a value the service sent never became a header of the client's traffic.
    public var injectedHeadersSeen: Int {
        state.counters.withLock { $0.injectedHeadersSeen }
    }

    /// The `X-Request-ID` of every request that carried one (the last value when a request
    /// repeated the header), in arrival order, so tests can check identifiers are unique and
    /// complete. Only the most recent 100,000 are kept, to bound memory in long runs.
    public var requestIDs: [String] {
        state.counters.withLock { $0.requestIDs.elements }
    }

    /// Closes the listening channel and every open connection, then shuts the event loop group
    /// down gracefully. Calling it again does nothing.
    ///
    /// Connections are closed abruptly (no TLS close_notify handshake), so that shutdown never
    /// waits on a client that does not answer close_notify.
    public func shutdown() async throws {
        try await host.shutdown()
    }
}

// MARK: - Shared state

/// What every connection of one server shares: the counters routes depend on and what tests read
/// back. Per server instance, so that tests running side by side never see each other's counts.
private final class ServerState: Sendable {
    struct Counters {
        var requestsReceived = 0
        var injectedHeadersSeen = 0
        var requestIDs = RecentRing(capacity: 100_000)
        var mixCount = 0
        var resetCounts: [Int: Int] = [:]
        var stallOrigin: NIODeadline?
        var nextTodoID = 1
        var todos: Set<Int> = []
    }

    let counters = Mutex(Counters())

    /// Counts a request whose head was fully received.
    func recordRequest(requestID: String?, injected: Bool = false) {
        counters.withLock { counters in
            counters.requestsReceived += 1
            if injected { counters.injectedHeadersSeen += 1 }
            if let requestID {
                counters.requestIDs.append(requestID)
            }
        }
    }

    /// Creates a todo and returns its id (`POST /api/v1/todos`).
    func createTodo() -> Int {
        counters.withLock { c in
            let id = c.nextTodoID
            c.nextTodoID += 1
            c.todos.insert(id)
            return id
        }
    }

    /// Deletes a todo; false when no such todo exists (`DELETE /api/v1/todos/{id}`).
    func deleteTodo(_ id: Int) -> Bool {
        counters.withLock { $0.todos.remove(id) != nil }
    }

    /// The ids of the todos that exist, in order.
    func todoIDs() -> [Int] {
        counters.withLock { $0.todos.sorted() }
    }

    /// The 0-based arrival index of this `/mix` request.
    func nextMixIndex() -> Int {
        counters.withLock { counters in
            let index = counters.mixCount
            counters.mixCount += 1
            return index
        }
    }

    /// The 1-based arrival count of this `/reset/{every}` request, counted per `every`.
    func nextResetCount(every: Int) -> Int {
        counters.withLock { counters in
            let count = counters.resetCounts[every, default: 0] + 1
            counters.resetCounts[every] = count
            return count
        }
    }

    /// Nanoseconds since the first `/stall` request this server received (0 for that first one).
    func stallElapsed(now: NIODeadline) -> Int64 {
        counters.withLock { counters in
            if let origin = counters.stallOrigin {
                return max(0, (now - origin).nanoseconds)
            }
            counters.stallOrigin = now
            return 0
        }
    }
}

/// The most recent `capacity` strings, oldest first; a ring so that dropping the oldest is O(1).
private struct RecentRing {
    let capacity: Int
    private var storage: [String] = []
    private var start = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    mutating func append(_ element: String) {
        if storage.count < capacity {
            storage.append(element)
        } else {
            storage[start] = element
            start = (start + 1) % capacity
        }
    }

    var elements: [String] {
        Array(storage[start...] + storage[..<start])
    }
}

// MARK: - Connection

/// 64 KiB of `x`: the body of `/huge`, `/chunked` and `/http10-noclen` is sliced from it, so
/// streaming a gigabyte allocates nothing per piece (slices share this storage).
private let filler = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)

/// A request whose head has been parsed.
private struct Request {
    var method: String
    var path: String
    var query: [String: String]
    /// The head exactly as received, through the blank line (the body of `/headers`).
    var head: ByteBuffer
    var keepAlive: Bool
    var bodyRemaining: Int
    /// Close the connection after the reply without having said so (`/close-after`).
    var closeSilently = false

    var isHead: Bool { method == "HEAD" }
}

/// A response body being streamed under backpressure.
private struct BodyStream {
    var remaining: Int
    let chunked: Bool
    let close: Bool
}

/// Serves one connection: parses request heads byte by byte, skips request bodies and answers
/// requests strictly one at a time.
///
/// Lives on its channel's event loop and is touched only there (NIO's handler contract), which is
/// why it needs no locks and is not Sendable; all cross-connection state is in `ServerState`.
private final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let maxHeadBytes = 64 * 1024
    private static let hugePiece = 64 * 1024
    private static let chunkSize = 16 * 1024

    private let state: ServerState
    /// Received bytes not yet consumed.
    private var inbound = ByteBuffer()
    /// Offset into `inbound`'s readable bytes where the search for the end of the head resumes,
    /// so a head arriving in many reads is not rescanned from its start each time.
    private var scanOffset = 0
    /// A parsed request whose body is still being skipped.
    private var pending: Request?
    /// A reply is in progress; further requests wait in `inbound`.
    private var busy = false
    /// `processInbound` is on the stack (replies can complete synchronously inside it).
    private var processing = false
    /// False once the connection is closing or closed: nothing more is read or written.
    private var open = true
    private var timer: Scheduled<Void>?
    private var stream: BodyStream?
    private var pumping = false
    private var pumpAgain = false
    /// Replies sent on this connection (`/close-after/{n}` counts per connection).
    private var replies = 0
    private var endless: RepeatedTask?

    init(state: ServerState) {
        self.state = state
    }

    /// Issues the close from the TLS handler's position when there is one, so that it goes
    /// straight to the socket (a reset must not be preceded by a close_notify); otherwise
    /// closes through `fallback`.
    private static func closeBelowTLS(pipeline: ChannelPipeline, fallback: any ChannelOutboundInvoker) {
        if let tls = try? pipeline.syncOperations.context(handlerType: NIOSSLServerHandler.self) {
            tls.close(promise: nil)
        } else {
            fallback.close(mode: .all, promise: nil)
        }
    }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard open else { return }
        inbound.writeBuffer(&buffer)
        processInbound(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            pump(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Resets, broken pipes and TLS failures are what this server is for: no logging, no
        // propagation, just drop the connection.
        stop()
        context.close(promise: nil)
    }

    private func stop() {
        open = false
        endless?.cancel()
        endless = nil
        timer?.cancel()
        timer = nil
        stream = nil
        pending = nil
    }

    // MARK: Parsing

    /// Consumes as many requests from `inbound` as the current state allows.
    private func processInbound(context: ChannelHandlerContext) {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while open && !busy {
            if var request = pending {
                let skipped = min(request.bodyRemaining, inbound.readableBytes)
                inbound.moveReaderIndex(forwardBy: skipped)
                request.bodyRemaining -= skipped
                guard request.bodyRemaining == 0 else {
                    pending = request
                    break
                }
                pending = nil
                busy = true
                dispatch(request, context: context)
                continue
            }
            guard let request = parseHead(context: context) else { break }
            pending = request
        }
        if inbound.readableBytes == 0 || inbound.readerIndex > 64 * 1024 {
            inbound.discardReadBytes()
        }
    }

    /// Takes one complete request head off `inbound`; nil when more bytes are needed or the head
    /// was malformed (then a 400 has been sent and the connection is closing).
    private func parseHead(context: ChannelHandlerContext) -> Request? {
        // Tolerate empty lines before a request line (RFC 9112 §2.2).
        while inbound.readableBytesView.starts(with: [13, 10]) {
            inbound.moveReaderIndex(forwardBy: 2)
            scanOffset = 0
        }
        guard let headLength = findHeadEnd() else {
            if inbound.readableBytes > Self.maxHeadBytes {
                reject(context: context, status: 431)
            }
            return nil
        }
        scanOffset = 0
        let head = inbound.readSlice(length: headLength)!
        let lines = head.readableBytesView.split(separator: 10, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
        }
        let requestLine = lines[0].split(separator: " ", omittingEmptySubsequences: true)
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/") else {
            reject(context: context, status: 400)
            return nil
        }

        var contentLength = 0
        var connectionTokens: [String] = []
        var requestID: String?
        var hasTransferEncoding = false
        var injected = false
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else {
                reject(context: context, status: 400)
                return nil
            }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces()
            switch name {
            case "content-length":
                guard let length = Int(value), length >= 0 else {
                    reject(context: context, status: 400)
                    return nil
                }
                contentLength = length
            case "connection":
                connectionTokens += value.lowercased().split(separator: ",").map { String($0).trimmingSpaces() }
            case "x-request-id":
                requestID = value
            case "transfer-encoding":
                hasTransferEncoding = true
            case "x-injected":
                injected = true
            default:
                break
            }
        }
        state.recordRequest(requestID: requestID, injected: injected)
        guard !hasTransferEncoding else {
            reject(context: context, status: 501)
            return nil
        }

        let keepAlive =
            requestLine[2] == "HTTP/1.0"
            ? connectionTokens.contains("keep-alive") : !connectionTokens.contains("close")
        var target = requestLine[1]
        if let schemeEnd = target.firstRange(of: "://") {
            // Absolute form: keep only the path and query.
            target = target[schemeEnd.upperBound...].drop { $0 != "/" }
        }
        let pathEnd = target.firstIndex(of: "?") ?? target.endIndex
        var query: [String: String] = [:]
        if pathEnd < target.endIndex {
            for pair in target[target.index(after: pathEnd)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
        }
        return Request(
            method: String(requestLine[0]),
            path: String(target[..<pathEnd]),
            query: query,
            head: head,
            keepAlive: keepAlive,
            bodyRemaining: contentLength
        )
    }

    /// The length of the head (through `\r\n\r\n`) at the start of `inbound`, if it is complete.
    private func findHeadEnd() -> Int? {
        let found = inbound.withUnsafeReadableBytes { bytes -> Int? in
            var index = scanOffset
            while index + 3 < bytes.count {
                if bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
                    return index + 4
                }
                index += 1
            }
            return nil
        }
        if found == nil {
            scanOffset = max(0, inbound.readableBytes - 3)
        }
        return found
    }

    /// Answers a request the server cannot or will not parse, then closes.
    private func reject(context: ChannelHandlerContext, status: Int) {
        busy = true
        let request = Request(
            method: "GET",
            path: "",
            query: [:],
            head: ByteBuffer(),
            keepAlive: false,
            bodyRemaining: 0
        )
        respond(context: context, request: request, status: status, body: reasonPhrase(status).lowercased())
    }

    // MARK: Routes

    private func dispatch(_ request: Request, context: ChannelHandlerContext) {
        let parts = request.path.split(separator: "/").map(String.init)
        let argument = parts.count == 2 ? Int(parts[1]) : nil
        switch (parts.first ?? "", parts.count) {
        case ("", 0):
            respond(context: context, request: request, status: 200, body: "hello")
        case ("status", 2):
            guard let code = argument, (100...999).contains(code) else { return notFound(context, request) }
            respond(context: context, request: request, status: code, body: "status")
        case ("error", 2):
            guard let code = argument, (400...599).contains(code) else { return notFound(context, request) }
            let text =
                request.query["body"].flatMap { $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
                ?? "QueuePool limit of size 5 overflow 10 reached, connection timed out"
            guard request.query["chunked"] == "1" else {
                return respond(context: context, request: request, status: code, body: text)
            }
            let half = text.utf8.count / 2
            let bytes = Array(text.utf8)
            var buffer = context.channel.allocator.buffer(capacity: 128 + bytes.count)
            buffer.writeString("HTTP/1.1 \(code) \(reasonPhrase(code))\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in [bytes[..<half], bytes[half...]] where !piece.isEmpty {
                buffer.writeString(String(piece.count, radix: 16) + "\r\n")
                buffer.writeBytes(piece)
                buffer.writeString("\r\n")
            }
            buffer.writeString("0\r\n\r\n")
            finish(context: context, after: context.writeAndFlush(wrapOutboundOut(buffer)), close: false)
        case ("delay", 2), ("slow", 2):
            guard let milliseconds = argument, milliseconds >= 0 else { return notFound(context, request) }
            respondLater(
                context: context,
                request: request,
                after: .milliseconds(Int64(milliseconds)),
                body: "hello"
            )
        case ("stall", 1):
            stall(context: context, request: request)
        case ("mix", 1):
            switch state.nextMixIndex() % 10 {
            case 0:
                respond(context: context, request: request, status: 500, body: "mix error")
            case 1:
                respond(context: context, request: request, status: 404, body: "mix not found")
            default:
                respond(context: context, request: request, status: 200, body: "mix ok")
            }
        case ("reset", 2):
            guard let every = argument, every >= 1 else { return notFound(context, request) }
            if state.nextResetCount(every: every) % every == 0 {
                reset(context: context)
            } else {
                respond(context: context, request: request, status: 200, body: "ok")
            }
        case ("garbage", 1):
            writeRawAndClose(context: context, "this is not http at all\r\n\r\n")
        case ("close-no-reply", 1):
            open = false
            context.close(promise: nil)
        case ("close-after", 2):
            // What proxies and app servers do on an idle timeout or after N requests: close a
            // keep-alive connection after a reply that did not announce it.
            guard let n = argument, n >= 1 else { return notFound(context, request) }
            replies += 1
            var reply = request
            reply.closeSilently = replies % n == 0
            respond(context: context, request: reply, status: 200, body: "ok")
        case ("endless", 1):
            // A 200 whose chunked body never ends: a chunk every 50 ms until the client leaves.
            var head = context.channel.allocator.buffer(capacity: 128)
            head.writeString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(head), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            endless = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50))
            {
                _ in
                let context = bound.value
                var chunk = context.channel.allocator.buffer(capacity: 16)
                chunk.writeString("5\r\nxxxxx\r\n")
                context.writeAndFlush(NIOAny(chunk), promise: nil)
            }
        case ("close", 1):
            var closing = request
            closing.keepAlive = false
            respond(context: context, request: closing, status: 200, body: "bye")
        case ("http10", 1):
            writeRawAndClose(context: context, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        case ("http10-noclen", 1):
            var buffer = context.channel.allocator.buffer(capacity: 1100)
            buffer.writeString("HTTP/1.0 200 OK\r\n\r\n")
            buffer.writeImmutableBuffer(filler.getSlice(at: filler.readerIndex, length: 1000)!)
            finish(context: context, after: context.writeAndFlush(wrapOutboundOut(buffer)), close: true)
        case ("huge", 2), ("chunked", 2):
            guard let bytes = argument, bytes >= 0 else { return notFound(context, request) }
            startStream(context: context, request: request, bytes: bytes, chunked: parts[0] == "chunked")
        case ("headers", 1):
            respond(context: context, request: request, status: 200, body: request.head)
        case ("redirect", 2):
            guard let n = argument, n >= 0 else { return notFound(context, request) }
            if n == 0 {
                respond(context: context, request: request, status: 200, body: "arrived")
            } else {
                respond(
                    context: context,
                    request: request,
                    status: 302,
                    body: "",
                    headers: [("Location", "/redirect/\(n - 1)")]
                )
            }
        case ("cookie", 2) where parts[1] == "set":
            respond(
                context: context,
                request: request,
                status: 200,
                body: "set",
                headers: [("Set-Cookie", "session=s3cr3t; Path=/; HttpOnly")]
            )
        case ("cookie", 2) where parts[1] == "echo":
            let head = String(buffer: request.head)
            let line = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("cookie:") }
            respond(
                context: context,
                request: request,
                status: 200,
                body: line.map { String($0.dropFirst(7)).trimmingCharacters(in: .whitespaces) } ?? ""
            )
        case ("inject", 1):
            respond(
                context: context,
                request: request,
                status: 200,
                body: #"{"path":"/x\r\nX-Injected: 1","value":"v\r\nX-Injected: 1"}"#
            )
        case ("businesses", 3) where parts[1] == "id":
            respond(
                context: context,
                request: request,
                status: 200,
                body: "{\"id\":\"\(parts[2])\",\"name\":\"business \(parts[2])\"}"
            )
        case ("encoded", 2):
            encoded(request, kind: parts[1], context: context)
        case ("api", _) where parts.count >= 3 && parts[1] == "v1" && parts[2] == "todos":
            todos(request, parts: parts, context: context)
        default:
            notFound(context, request)
        }
    }

    /// A tiny todos API (the shape of the lab's) for plan tests: POST creates (201 with the
    /// JSON including `id`), GET lists, DELETE /{id} answers 200 once and 404 after.
    private func todos(_ request: Request, parts: [String], context: ChannelHandlerContext) {
        switch (request.method, parts.count) {
        case ("POST", 3):
            let id = state.createTodo()
            respond(
                context: context,
                request: request,
                status: 201,
                body: "{\"id\":\(id),\"title\":\"todo \(id)\",\"completed\":false}"
            )
        case ("GET", 3):
            let items = state.todoIDs().map { "{\"id\":\($0),\"title\":\"todo \($0)\"}" }
            respond(context: context, request: request, status: 200, body: "[" + items.joined(separator: ",") + "]")
        case ("DELETE", 4):
            guard let id = Int(parts[3]) else { return notFound(context, request) }
            if state.deleteTodo(id) {
                respond(context: context, request: request, status: 200, body: "{\"deleted\":\(id)}")
            } else {
                notFound(context, request)
            }
        default:
            notFound(context, request)
        }
    }

    /// `/encoded/{kind}`: ``EncodedBodies/json`` encoded as `kind` says; `negotiate` sends gzip
    /// only when the request's `Accept-Encoding` names it, as real servers do. `?status=500`
    /// answers with that status (a compressed error page).
    private func encoded(_ request: Request, kind: String, context: ChannelHandlerContext) {
        let status = request.query["status"].flatMap { Int($0) } ?? 200
        var chosen = EncodedBodies.Kind(rawValue: kind)
        if kind == "negotiate" {
            let head = String(buffer: request.head).lowercased()
            let line = head.split(separator: "\r\n").first { $0.hasPrefix("accept-encoding:") }
            chosen = line?.contains("gzip") == true ? .gzip : nil
            if chosen == nil {
                return respond(context: context, request: request, status: 200, body: EncodedBodies.json)
            }
        }
        guard let chosen else { return notFound(context, request) }
        let (encoding, bytes) = EncodedBodies.body(chosen)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        respond(
            context: context,
            request: request,
            status: status,
            body: buffer,
            headers: [("Content-Encoding", encoding)]
        )
    }

    private func notFound(_ context: ChannelHandlerContext, _ request: Request) {
        respond(context: context, request: request, status: 404, body: "not found")
    }

    private func stall(context: ChannelHandlerContext, request: Request) {
        let millisecond: Int64 = 1_000_000
        let period = Int64(request.query["period"].flatMap { Int($0) } ?? 5000) * millisecond
        let stall = Int64(request.query["stall"].flatMap { Int($0) } ?? 1000) * millisecond
        let offset = Int64(request.query["offset"].flatMap { Int($0) } ?? 4000) * millisecond
        let elapsed = state.stallElapsed(now: .now())
        if period > 0 && stall > 0 && elapsed >= offset {
            let phase = (elapsed - offset) % period
            if phase < stall {
                respondLater(context: context, request: request, after: .nanoseconds(stall - phase), body: "ok")
                return
            }
        }
        respond(context: context, request: request, status: 200, body: "ok")
    }

    /// Makes the client see a TCP RST and no response: SO_LINGER {1, 0} turns the close into an
    /// abortive one.
    private func reset(context: ChannelHandlerContext) {
        open = false
        let pipeline = context.pipeline
        guard let provider = context.channel as? any SocketOptionProvider else {
            Self.closeBelowTLS(pipeline: pipeline, fallback: context)
            return
        }
        provider.setSoLinger(NIOLinger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
            Self.closeBelowTLS(pipeline: pipeline, fallback: context)
        }
    }

    // MARK: Writing

    private func respond(
        context: ChannelHandlerContext,
        request: Request,
        status: Int,
        body: String,
        headers: [(String, String)] = []
    ) {
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        respond(context: context, request: request, status: status, body: buffer, headers: headers)
    }

    private func respond(
        context: ChannelHandlerContext,
        request: Request,
        status: Int,
        body: ByteBuffer,
        headers: [(String, String)] = []
    ) {
        // 1xx, 204 and 304 never have a body; a client would take one for the next response.
        let bodyless = status < 200 || status == 204 || status == 304
        var buffer = context.channel.allocator.buffer(capacity: 128 + body.readableBytes)
        buffer.writeString("HTTP/1.1 \(status) \(reasonPhrase(status))\r\nContent-Type: text/plain\r\n")
        if !bodyless {
            buffer.writeString("Content-Length: \(body.readableBytes)\r\n")
        }
        if !request.keepAlive {
            buffer.writeString("Connection: close\r\n")
        }
        for (name, value) in headers { buffer.writeString("\(name): \(value)\r\n") }
        buffer.writeString("\r\n")
        if !bodyless && !request.isHead {
            buffer.writeImmutableBuffer(body)
        }
        finish(
            context: context,
            after: context.writeAndFlush(wrapOutboundOut(buffer)),
            close: !request.keepAlive || request.closeSilently
        )
    }

    private func respondLater(context: ChannelHandlerContext, request: Request, after delay: TimeAmount, body: String) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            self.timer = nil
            guard self.open else { return }
            self.respond(context: context, request: request, status: 200, body: body)
        }
    }

    private func writeRawAndClose(context: ChannelHandlerContext, _ text: String) {
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        finish(context: context, after: context.writeAndFlush(wrapOutboundOut(buffer)), close: true)
    }

    /// Ends the current reply: either closes once `write` has reached the socket (closing at once
    /// would discard it), or frees the connection for the next request.
    private func finish(context: ChannelHandlerContext, after write: EventLoopFuture<Void>, close: Bool) {
        if close {
            open = false
            write.assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            busy = false
            processInbound(context: context)
        }
    }

    private func startStream(context: ChannelHandlerContext, request: Request, bytes: Int, chunked: Bool) {
        var head = context.channel.allocator.buffer(capacity: 128)
        head.writeString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
        head.writeString(chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: \(bytes)\r\n")
        if !request.keepAlive {
            head.writeString("Connection: close\r\n")
        }
        head.writeString("\r\n")
        let close = !request.keepAlive
        if request.isHead || bytes == 0 {
            if chunked && !request.isHead {
                head.writeString("0\r\n\r\n")
            }
            finish(context: context, after: context.writeAndFlush(wrapOutboundOut(head)), close: close)
            return
        }
        context.writeAndFlush(wrapOutboundOut(head), promise: nil)
        stream = BodyStream(remaining: bytes, chunked: chunked, close: close)
        pump(context: context)
    }

    /// Writes body pieces while the channel is writable; resumes on writability changes and when
    /// a piece's write completes. Never buffers more than NIO's high watermark plus one piece, so
    /// a gigabyte body costs no memory. Re-entrant calls (write promises complete inside flush)
    /// only ask the running loop for another pass.
    private func pump(context: ChannelHandlerContext) {
        if pumping {
            pumpAgain = true
            return
        }
        pumping = true
        defer { pumping = false }
        repeat {
            pumpAgain = false
            while open, var current = stream, context.channel.isWritable {
                let size = min(current.remaining, current.chunked ? Self.chunkSize : Self.hugePiece)
                current.remaining -= size
                let slice = filler.getSlice(at: filler.readerIndex, length: size)!
                var piece: ByteBuffer
                if current.chunked {
                    piece = context.channel.allocator.buffer(capacity: size + 32)
                    piece.writeString(String(size, radix: 16) + "\r\n")
                    piece.writeImmutableBuffer(slice)
                    piece.writeString(current.remaining == 0 ? "\r\n0\r\n\r\n" : "\r\n")
                } else {
                    piece = slice
                }
                let written = context.writeAndFlush(wrapOutboundOut(piece))
                if current.remaining == 0 {
                    stream = nil
                    finish(context: context, after: written, close: current.close)
                } else {
                    stream = current
                    written.assumeIsolated().whenComplete { _ in
                        self.pump(context: context)
                    }
                }
            }
        } while pumpAgain && open
    }
}

private func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 100: "Continue"
    case 101: "Switching Protocols"
    case 200: "OK"
    case 201: "Created"
    case 202: "Accepted"
    case 204: "No Content"
    case 301: "Moved Permanently"
    case 302: "Found"
    case 304: "Not Modified"
    case 307: "Temporary Redirect"
    case 308: "Permanent Redirect"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 408: "Request Timeout"
    case 409: "Conflict"
    case 413: "Content Too Large"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 500: "Internal Server Error"
    case 501: "Not Implemented"
    case 502: "Bad Gateway"
    case 503: "Service Unavailable"
    case 504: "Gateway Timeout"
    default: "Status \(status)"
    }
}

extension StringProtocol {
    /// Drops leading and trailing spaces and tabs (HTTP's optional whitespace).
    fileprivate func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}
