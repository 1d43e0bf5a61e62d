import Foundation
import NIOCore
import Synchronization

/// An HTTP/1.1 server on 127.0.0.1:0 that redirects, and counts every request per path, so a
/// test of redirect following can check both what the client reported and what the server saw
/// (how many hops, which method, whether a body was sent again).
///
/// Routes, by the path before `?`; every route answers any method the same way unless said:
///
/// - `/chain/{n}`: n > 0 answers `status` (302 by default) with Location `…/chain/{n-1}`, the
///   query kept; `/chain/0` answers 200 `chain end`.
/// - `/loop`: answers `status` with Location `…/loop`, the query kept: a redirect loop.
/// - `/to?url=…`: answers `status` with the percent-decoded `url` verbatim as Location (another
///   server's absolute URL for a cross-host redirect, or any relative reference).
/// - `/submit`: a POST answers 303 with Location `/landing` (a web form); other methods 405.
/// - `/landing`: 200 `landed`.
/// - anything else: 404 `not found`.
///
/// Query parameters of the redirecting routes:
///
/// - `status=301|302|303|307|308` (302 by default; any other value answers 400);
/// - `location=path|relative|absolute` (`/chain/{n}` and `/loop`; `path` by default): the
///   Location as an absolute path (`/chain/2?…`), as a reference relative to the request's path
///   (`2?…` from `/chain/3`, `loop?…` from `/loop`), or as an absolute URL
///   (`http://127.0.0.1:PORT/chain/2?…`).
///
/// Redirect replies have an empty body with `Content-Length: 0`.
///
/// Call ``shutdown()`` when done: the server owns an event loop group.
public final class RedirectServer: Sendable {
    /// The port the kernel picked when the server bound 127.0.0.1:0.
    public var port: Int { host.port }
    private let host: ServerHost
    private let log: RequestLog

    private init(host: ServerHost, log: RequestLog) {
        self.host = host
        self.log = log
    }

    /// Starts on 127.0.0.1:0.
    public static func start() async throws -> RedirectServer {
        let log = RequestLog()
        let responder = RedirectResponder(log: log)
        let host = try await ServerHost.start { channel in
            try channel.pipeline.syncOperations.addHandler(SerialHTTPHandler(responder: responder))
        }
        responder.port.store(host.port, ordering: .releasing)
        return RedirectServer(host: host, log: log)
    }

    /// "http://127.0.0.1:PORT".
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `baseURL` followed by `pathAndQuery` (which starts with `/`).
    public func url(_ pathAndQuery: String) -> String { baseURL + pathAndQuery }

    /// Requests received in full, all paths.
    public var requestsReceived: Int { log.snapshot().total }

    /// Requests received per path (before `?`), so a test can check how many hops reached each.
    public var requestCounts: [String: Int] { log.snapshot().counts }

    /// Requests received for `path` (before `?`).
    public func requests(to path: String) -> Int { log.snapshot().counts[path, default: 0] }

    /// The most recent 10,000 requests in arrival order: method, target and body size of each
    /// hop.
    public var received: [ReceivedRequest] { log.snapshot().recent }

    /// Closes the listener and every connection, then the event loop group. Idempotent.
    public func shutdown() async throws {
        try await host.shutdown()
    }
}

/// What a server saw; shared by every connection of one server.
private final class RequestLog: Sendable {
    struct Contents {
        var total = 0
        var counts: [String: Int] = [:]
        var recent: [ReceivedRequest] = []
    }

    private static let capacity = 10_000
    private let contents = Mutex(Contents())

    func record(_ request: ReceivedRequest) {
        contents.withLock { contents in
            contents.total += 1
            contents.counts[request.path, default: 0] += 1
            if contents.recent.count == Self.capacity { contents.recent.removeFirst() }
            contents.recent.append(request)
        }
    }

    func snapshot() -> Contents { contents.withLock { $0 } }
}

private final class RedirectResponder: RequestResponder {
    private static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]
    let log: RequestLog
    /// Set once the listener is bound, before any request can arrive (absolute Locations).
    let port = Atomic<Int>(0)

    init(log: RequestLog) {
        self.log = log
    }

    func respond(to request: ReceivedRequest, with reply: Reply) {
        log.record(request)
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true)
        switch (parts.first, parts.count) {
        case ("chain", 2):
            guard let n = Int(parts[1]), n >= 0 else { return reply.send(status: 404, body: "not found") }
            if n == 0 { return reply.send(status: 200, body: "chain end") }
            redirect(request, reply, to: "chain/\(n - 1)", relative: "\(n - 1)")
        case ("loop", 1):
            redirect(request, reply, to: "loop", relative: "loop")
        case ("to", 1):
            guard let url = request.query["url"], !url.isEmpty else {
                return reply.send(status: 400, body: "/to needs ?url=<percent-encoded Location>")
            }
            guard let status = status(request, reply) else { return }
            reply.send(status: status, body: "", headers: [("Location", url)])
        case ("submit", 1):
            guard request.method == "POST" else {
                return reply.send(status: 405, body: "POST only", headers: [("Allow", "POST")])
            }
            reply.send(status: 303, body: "", headers: [("Location", "/landing")])
        case ("landing", 1):
            reply.send(status: 200, body: "landed")
        default:
            reply.send(status: 404, body: "not found")
        }
    }

    /// Answers a redirect to `path` (no leading slash) written as the request's `location=` asks.
    private func redirect(_ request: ReceivedRequest, _ reply: Reply, to path: String, relative: String) {
        guard let status = status(request, reply) else { return }
        let query = request.target.firstIndex(of: "?").map { String(request.target[$0...]) } ?? ""
        let location: String
        switch request.query["location"] ?? "path" {
        case "path": location = "/" + path + query
        case "relative": location = relative + query
        case "absolute": location = "http://127.0.0.1:\(port.load(ordering: .acquiring))/" + path + query
        case let other:
            return reply.send(status: 400, body: "location=\(other): expected path, relative or absolute")
        }
        reply.send(status: status, body: "", headers: [("Location", location)])
    }

    /// The request's `status=` (302 by default); nil after answering 400 for a bad one.
    private func status(_ request: ReceivedRequest, _ reply: Reply) -> Int? {
        let text = request.query["status"] ?? "302"
        guard let status = Int(text), Self.redirectStatuses.contains(status) else {
            reply.send(status: 400, body: "status=\(text): expected 301, 302, 303, 307 or 308")
            return nil
        }
        return status
    }
}
