import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import Testing
import VolleyCore

@testable import VolleyEngine

/// What a driven connection saw.
struct H2DriveResult: Sendable {
    var statuses: [Int: Int] = [:]
    var bodyBytes: [UInt32: Int] = [:]
    var completed = 0
    var maxInFlight = 0
    var other: [String] = []
}

/// A test-only driver: a raw TCP channel whose bytes go to ``H2Connection`` and whose
/// writes are the state machine's. Sends `total` requests, `streams` at a time.
final class H2Driver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var connection = H2Connection()
    let template: H2RequestTemplate
    let total: Int
    let streams: Int
    /// Opens no stream before the server's SETTINGS (its concurrency limit) has arrived.
    let waitForSettings: Bool
    let done: EventLoopPromise<H2DriveResult>
    var sent = 0
    var result = H2DriveResult()
    var events: [H2Event] = []

    init(
        template: H2RequestTemplate,
        total: Int,
        streams: Int,
        waitForSettings: Bool,
        done: EventLoopPromise<H2DriveResult>
    ) {
        self.template = template
        self.total = total
        self.streams = streams
        self.waitForSettings = waitForSettings
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: 1024)
        connection.start(into: &out)
        sendMore(into: &out)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    private func sendMore(into out: inout ByteBuffer) {
        if waitForSettings && !connection.receivedPeerSettings { return }
        while sent < total && connection.openStreams < streams && connection.canOpenStream {
            _ = connection.sendRequest(template, requestID: UInt64(sent), into: &out)
            sent += 1
        }
        result.maxInFlight = max(result.maxInFlight, connection.openStreams)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var out = context.channel.allocator.buffer(capacity: 256)
        events.removeAll(keepingCapacity: true)
        connection.receive(unwrapInboundIn(data), into: &out, events: &events)
        for event in events {
            switch event {
            case .responseHead(_, let head): result.statuses[head.status, default: 0] += 1
            case .data(let s, let bytes): result.bodyBytes[s, default: 0] += bytes.readableBytes
            case .responseComplete: result.completed += 1
            default: result.other.append("\(event)")
            }
        }
        sendMore(into: &out)
        if out.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
        if result.completed == total || connection.failure != nil || !result.other.isEmpty {
            done.succeed(result)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed(result)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.close(promise: nil)
    }

    /// Connects to `port`, runs the requests, and gives up after `timeout`.
    static func run(
        port: Int,
        template: H2RequestTemplate,
        total: Int,
        streams: Int,
        waitForSettings: Bool = false,
        group: MultiThreadedEventLoopGroup,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> H2DriveResult {
        let loop = group.next()
        let done = loop.makePromise(of: H2DriveResult.self)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        H2Driver(
                            template: template,
                            total: total,
                            streams: streams,
                            waitForSettings: waitForSettings,
                            done: done
                        )
                    )
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let timer = loop.scheduleTask(in: timeout) { done.fail(ChannelError.connectTimeout(timeout)) }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await done.futureResult.get()
    }
}

/// swift-nio-http2's server, answering every request with 200 and `size` bytes (`/?size=N`),
/// after reading the request's body whole.
final class H2EchoResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    var size = 0
    var received = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            size = Int(head.uri.split(separator: "=").last ?? "") ?? 5
        case .body(let body):
            received += body.readableBytes
        case .end:
            var headers = HTTPHeaders([("content-length", String(size)), ("x-received", String(received))])
            headers.add(name: "server", value: "nio-h2")
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http2, status: .ok, headers: headers))),
                promise: nil
            )
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: 0x62, count: size)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

/// swift-nio-http2's server with `H2EchoResponder` on every stream, allowing
/// `maxConcurrentStreams` streams at a time.
func startNIOH2Server(group: MultiThreadedEventLoopGroup, maxConcurrentStreams: Int = 100) async throws -> Channel {
    let settings = [
        HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
        HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
    ]
    return try await ServerBootstrap(group: group)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.configureHTTP2Pipeline(
                mode: .server,
                initialLocalSettings: settings,
                inboundStreamInitializer: { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandlers([
                            HTTP2FramePayloadToHTTP1ServerCodec(), H2EchoResponder(),
                        ])
                    }
                }
            ).map { _ in }
        }
        .bind(host: "127.0.0.1", port: 0).get()
}

@Suite("HTTP/2 interop", .timeLimit(.minutes(1)))
struct H2InteropTests {
    @Test("against swift-nio-http2's server: 200 requests, 10 streams in flight, every 200 and body")
    func nioServer() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await startNIOH2Server(group: group)
        let port = try #require(server.localAddress?.port)
        let get = H2RequestTemplate(
            method: "GET",
            scheme: "http",
            authority: "127.0.0.1:\(port)",
            path: "/?size=100000",
            headers: [(name: "accept", value: "*/*")],
            requestID: (name: "x-request-id", prefix: Array("0000abcd".utf8))
        )
        let r = try await H2Driver.run(port: port, template: get, total: 200, streams: 10, group: group)
        #expect(r.other.isEmpty)
        #expect(r.completed == 200 && r.statuses == [200: 200] && r.maxInFlight == 10)
        #expect(r.bodyBytes.count == 200 && r.bodyBytes.values.allSatisfy { $0 == 100_000 })
        // Request bodies larger than the server's 65,535-byte window wait for its updates.
        let post = H2RequestTemplate(
            method: "POST",
            scheme: "http",
            authority: "127.0.0.1:\(port)",
            path: "/?size=3",
            headers: [],
            body: [UInt8](repeating: 0x71, count: 200_000)
        )
        let p = try await H2Driver.run(port: port, template: post, total: 20, streams: 4, group: group)
        #expect(p.other.isEmpty && p.completed == 20 && p.statuses == [200: 20])
        try await server.close()
        try await group.shutdownGracefully()
    }

    /// Without waiting, the first burst of 10 is legal: a limit binds only once its SETTINGS
    /// is acknowledged (RFC 9113 §6.5.3), and swift-nio-http2 then serves all 10.
    @Test("a server allowing 3 streams: waiting for its SETTINGS, never more than 3 in flight")
    func threeStreams() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await startNIOH2Server(group: group, maxConcurrentStreams: 3)
        let port = try #require(server.localAddress?.port)
        let get = H2RequestTemplate(
            method: "GET",
            scheme: "http",
            authority: "127.0.0.1",
            path: "/?size=10",
            headers: []
        )
        let r = try await H2Driver.run(
            port: port,
            template: get,
            total: 50,
            streams: 10,
            waitForSettings: true,
            group: group
        )
        #expect(r.other == [])
        #expect(r.completed == 50 && r.statuses == [200: 50] && r.maxInFlight == 3)
        try await server.close()
        try await group.shutdownGracefully()
    }

    @Test("against nginx h2c (scripts/start-nginx): 500 small and 8 large responses, 10 streams in flight")
    func nginx() async throws {
        guard let base = fieldTarget("VOLLEY_TEST_NGINX_H2C") else {
            try Test.cancel("VOLLEY_TEST_NGINX_H2C not set (eval \"$(scripts/start-nginx)\")")
        }
        let url = try TargetURL(parsing: base)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let small = H2RequestTemplate(spec: RequestSpec(url: url), runPrefix: 0x1234_5678)
        let r = try await H2Driver.run(port: url.port, template: small, total: 500, streams: 10, group: group)
        #expect(r.other.isEmpty)
        #expect(r.completed == 500 && r.statuses == [200: 500] && r.bodyBytes.values.allSatisfy { $0 == 5 })
        var big = url
        big.pathAndQuery = "/big"
        let large = H2RequestTemplate(spec: RequestSpec(url: big), runPrefix: 0x1234_5678)
        let b = try await H2Driver.run(port: url.port, template: large, total: 8, streams: 4, group: group)
        #expect(b.other.isEmpty && b.completed == 8 && b.bodyBytes.values.allSatisfy { $0 == 1 << 20 })
        try await group.shutdownGracefully()
    }
}
