import Foundation
import NIOCore

/// One request as a proof server saw it: what a test asks about when it checks what a client
/// sent (a redirect turned into a GET, a body that was or was not repeated).
public struct ReceivedRequest: Sendable, Equatable {
    /// `GET`, `POST`, …, as sent.
    public var method: String
    /// The request target as sent: path and query.
    public var target: String
    /// The target's path, before `?`.
    public var path: String
    /// The query's parameters, percent-decoded (the last value when a name repeats).
    public var query: [String: String]
    /// The `Host` header, empty when absent.
    public var host: String
    /// Bytes of request body received (`Content-Length` bodies only).
    public var bodyBytes: Int

    /// False when the client asked for the connection to close after this request.
    var keepAlive: Bool
}

/// What a proof server does with each request; called on the connection's event loop, one
/// request at a time. It must end every reply with ``Reply/end()`` (or a `send`), which frees the
/// connection for the next request.
protocol RequestResponder: Sendable {
    func respond(to request: ReceivedRequest, with reply: Reply)
}

/// Serves one connection of a proof server: parses request heads, reads `Content-Length`
/// bodies, and hands requests to the responder strictly one at a time (a pipelined request waits
/// until the previous reply has ended).
///
/// Lives on its channel's event loop and is touched only there (NIO's handler contract).
final class SerialHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Heads or bodies beyond this are answered 431 / 413 and the connection is closed: the
    /// servers are for tests, and a bound keeps a runaway client from growing memory.
    private static let maxHeadBytes = 64 * 1024
    private static let maxBodyBytes = 1024 * 1024

    private let responder: any RequestResponder
    private var inbound = ByteBuffer()
    /// A parsed request whose body has not fully arrived.
    private var pending: (request: ReceivedRequest, remaining: Int)?
    private var busy = false
    private var processing = false
    fileprivate var open = true
    fileprivate var timers: [Scheduled<Void>] = []
    fileprivate var context: ChannelHandlerContext?

    init(responder: any RequestResponder) {
        self.responder = responder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard open else { return }
        inbound.writeBuffer(&buffer)
        process()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A client that resets or fails its handshake only ends its own connection.
        stop()
        context.close(promise: nil)
    }

    private func stop() {
        open = false
        for timer in timers { timer.cancel() }
        timers.removeAll()
        pending = nil
    }

    /// Dispatches every complete request the current state allows.
    fileprivate func process() {
        guard !processing, let context else { return }
        processing = true
        defer { processing = false }
        while open && !busy {
            if var waiting = pending {
                let taken = min(waiting.remaining, inbound.readableBytes)
                inbound.moveReaderIndex(forwardBy: taken)
                waiting.remaining -= taken
                waiting.request.bodyBytes += taken
                guard waiting.remaining == 0 else {
                    pending = waiting
                    break
                }
                pending = nil
                busy = true
                responder.respond(to: waiting.request, with: Reply(handler: self, keepAlive: waiting.request.keepAlive))
                continue
            }
            guard let head = takeHead(context: context) else { break }
            pending = head
        }
        if inbound.readableBytes == 0 { inbound.discardReadBytes() }
    }

    /// The next request head off `inbound`; nil when more bytes are needed or the head was refused
    /// (then the refusal has been written and the connection is closing).
    private func takeHead(context: ChannelHandlerContext) -> (request: ReceivedRequest, remaining: Int)? {
        let view = inbound.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
            if view.count > Self.maxHeadBytes { refuse(431, "head too large") }
            return nil
        }
        let length = end.upperBound - view.startIndex
        let text = inbound.readString(length: length) ?? ""
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
        let requestLine = lines.first?.split(separator: " ") ?? []
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else {
            refuse(400, "malformed request line")
            return nil
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else {
                refuse(400, "malformed header line")
                return nil
            }
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: [" ", "\t"])
        }
        if headers["transfer-encoding"] != nil {
            refuse(501, "request bodies with Transfer-Encoding are not read here")
            return nil
        }
        let bodyLength = Int(headers["content-length"] ?? "0") ?? -1
        guard bodyLength >= 0, bodyLength <= Self.maxBodyBytes else {
            refuse(413, "bad or too large Content-Length")
            return nil
        }
        let target = String(requestLine[1])
        let connection = headers["connection"]?.lowercased() ?? ""
        let keepAlive =
            requestLine[2] == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")
        let request = ReceivedRequest(
            method: String(requestLine[0]),
            target: target,
            path: String(target.prefix { $0 != "?" }),
            query: Self.parseQuery(target),
            host: headers["host"] ?? "",
            bodyBytes: 0,
            keepAlive: keepAlive
        )
        return (request, bodyLength)
    }

    private func refuse(_ status: Int, _ message: String) {
        busy = true
        Reply(handler: self, keepAlive: false).send(status: status, body: message)
    }

    static func parseQuery(_ target: String) -> [String: String] {
        guard let mark = target.firstIndex(of: "?") else { return [:] }
        var query: [String: String] = [:]
        for pair in target[target.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in
                s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            query[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return query
    }

    fileprivate func replyEnded(keepAlive: Bool, after write: EventLoopFuture<Void>?) {
        guard open, let context else { return }
        // Every timer of this reply has fired by now (a responder ends its reply last).
        timers.removeAll()
        if keepAlive {
            busy = false
            process()
        } else {
            open = false
            let close = { context.close(promise: nil) }
            if let write {
                write.assumeIsolated().whenComplete { _ in close() }
            } else {
                close()
            }
        }
    }
}

/// The write side of one request's reply, handed to a ``RequestResponder``. Valid only on the
/// connection's event loop; every call does nothing once the connection has closed.
struct Reply {
    fileprivate let handler: SerialHTTPHandler
    /// False when the connection closes after this reply (the client asked for it).
    let keepAlive: Bool

    /// Writes bytes and flushes them at once, so each write reaches the client as its own packet
    /// (the trickle depends on it); the future completes when they reached the socket.
    @discardableResult
    func write(_ text: String) -> EventLoopFuture<Void>? {
        guard handler.open, let context = handler.context else { return nil }
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        return context.writeAndFlush(NIOAny(buffer))
    }

    /// Writes raw bytes (a compressed body) and flushes them, as ``write(_:)`` does for text.
    @discardableResult
    func write(bytes: [UInt8]) -> EventLoopFuture<Void>? {
        guard handler.open, let context = handler.context else { return nil }
        return context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: bytes)))
    }

    /// Runs `body` after `delay` unless the connection closed meanwhile.
    func after(_ delay: TimeAmount, _ body: @escaping () -> Void) {
        guard handler.open, let context = handler.context else { return }
        let handler = self.handler
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            guard handler.open else { return }
            body()
        }
        handler.timers.append(timer)
    }

    /// The head of a reply: status line, `Content-Length` when known, `Connection: close` when
    /// the connection is closing, then `headers`.
    func head(status: Int, contentLength: Int?, headers: [(String, String)] = []) -> String {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: text/plain\r\n"
        if let contentLength { head += "Content-Length: \(contentLength)\r\n" }
        if !keepAlive { head += "Connection: close\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        return head + "\r\n"
    }

    /// A whole reply in one write, then ``end(after:)``.
    func send(status: Int, body: String, headers: [(String, String)] = []) {
        let written = write(head(status: status, contentLength: body.utf8.count, headers: headers) + body)
        end(after: written)
    }

    /// Ends the reply: frees the connection for the next request, or closes it once `write` has
    /// reached the socket when the client asked for a close.
    func end(after write: EventLoopFuture<Void>? = nil) {
        handler.replyEnded(keepAlive: keepAlive, after: write)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Content Too Large"
        case 431: "Request Header Fields Too Large"
        case 501: "Not Implemented"
        default: "Status \(status)"
        }
    }
}
