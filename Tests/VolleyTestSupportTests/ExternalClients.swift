import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Testing

/// A client program installed on the machine (curl, h2load), run under `timeout` so that a
/// hung client cannot hang the suite.
struct ExternalTool {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    let path: String

    /// The tool at /usr/bin/`name`, with `feature` in its `-V` output when given. When it is
    /// missing the test reports skipped, or fails under `VOLLEY_REQUIRE_SERVICES=1` (scripts/test
    /// installs nghttp2-client), so a missing client never lets a proof pass.
    static func require(_ name: String, feature: String? = nil) throws -> ExternalTool {
        let tool = ExternalTool(path: "/usr/bin/\(name)")
        var problem: String?
        if !FileManager.default.isExecutableFile(atPath: tool.path) {
            problem = "\(tool.path) not found (scripts/install-deps installs it)"
        } else if let feature, try !tool.run(["-V"]).stdout.contains(feature) {
            problem = "\(tool.path) lacks \(feature) (its -V output does not list it)"
        }
        guard let problem else { return tool }
        try #require(
            ProcessInfo.processInfo.environment["VOLLEY_REQUIRE_SERVICES"] != "1",
            "\(problem), but VOLLEY_REQUIRE_SERVICES=1"
        )
        try Test.cancel(Comment(rawValue: problem))
    }

    /// Runs the tool with `arguments`, killed after `seconds`.
    func run(_ arguments: [String], seconds: Int = 60) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = [String(seconds), path] + arguments
        // stderr goes to a file: a tool filling one pipe while we block reading the other
        // would deadlock.
        let errorFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("volley-tool-\(UUID().uuidString).stderr")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = (try? Data(contentsOf: errorFile)) ?? Data()
        return Outcome(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self)
        )
    }
}

/// The request counts of one h2load run, parsed from its `requests:` and `status codes:` lines.
struct H2LoadReport {
    var total = 0
    var started = 0
    var succeeded = 0
    var failed = 0
    var errored = 0
    var timeout = 0
    var status2xx = 0
    var raw: String

    init(_ outcome: ExternalTool.Outcome) throws {
        raw = outcome.stdout + outcome.stderr
        let lines = outcome.stdout.split(separator: "\n")
        let requests = try #require(lines.first { $0.hasPrefix("requests: ") }, "no requests line: \(raw)")
        let codes = try #require(lines.first { $0.hasPrefix("status codes: ") }, "no status line: \(raw)")
        func count(_ line: Substring, _ label: String) -> Int {
            let fields = line.drop { $0 != ":" }.dropFirst().split(separator: ",")
            let field = fields.first { $0.hasSuffix(" " + label) }
            return field.flatMap { Int($0.split(separator: " ").first ?? "") } ?? -1
        }
        total = count(requests, "total")
        started = count(requests, "started")
        succeeded = count(requests, "succeeded")
        failed = count(requests, "failed")
        errored = count(requests, "errored")
        timeout = count(requests, "timeout")
        status2xx = count(codes, "2xx")
    }
}

/// A TLS handshake that only asks which application protocol the server picks from `offering`.
enum ALPNProbe {
    /// The protocol ALPN settled on, nil when the server selected none. Bounded: 5 s.
    static func negotiate(port: Int, offering: [String]) async throws -> String? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.applicationProtocols = offering
        let context = try NIOSSLContext(configuration: configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let negotiated = try await negotiate(group: group, port: port, context: context)
            try? await group.shutdownGracefully()
            return negotiated
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func negotiate(
        group: MultiThreadedEventLoopGroup,
        port: Int,
        context: NIOSSLContext
    ) async throws
        -> String?
    {
        let promise = group.next().makePromise(of: String?.self)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    try pipeline.addHandler(HandshakeWatcher(promise: promise))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(5)) {
            promise.fail(ChannelError.connectTimeout(.seconds(5)))
        }
        defer {
            timeout.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }

    private final class HandshakeWatcher: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<String?>

        init(promise: EventLoopPromise<String?>) {
            self.promise = promise
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted(let negotiated) = event {
                promise.succeed(negotiated)
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ChannelError.ioOnClosedChannel)
        }
    }
}

/// An h2c client at frame level that does what nghttp2 never would (open streams beyond an
/// acknowledged limit, cancel hundreds of streams), in Python so it needs no HTTP/2 library.
enum RawH2Client {
    /// `python3 -c RawH2Client.script PORT STREAMS PATH [cancel]`: h2c with prior knowledge;
    /// prints `headers ID` per response head, `rst ID CODE` per RST_STREAM, `goaway CODE` per
    /// GOAWAY and `closed` when the server closes; gives up after 3 s. With `cancel` it resets
    /// each stream right after opening it, then sends `GET /` and stops at that response.
    static let script = #"""
        import socket, struct, sys, time
        port, streams, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        def frame(kind, flags, stream, payload=b""):
            return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
        buf = b""
        closed = False
        def frames(deadline):
            global buf, closed
            while time.monotonic() < deadline:
                while len(buf) >= 9:
                    length = int.from_bytes(buf[:3], "big")
                    if len(buf) < 9 + length: break
                    kind, flags, stream = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                    payload, buf = buf[9:9 + length], buf[9 + length:]
                    yield kind, flags, stream, payload
                try:
                    s.settimeout(max(0.01, deadline - time.monotonic()))
                    data = s.recv(65536)
                except socket.timeout:
                    return
                if not data:
                    closed = True
                    return
                buf += data
        # Acknowledge the server's SETTINGS, then wait for its ACK of ours: the limit now binds us.
        for kind, flags, stream, payload in frames(time.monotonic() + 2):
            if kind == 4 and not flags & 1: s.sendall(frame(4, 1, 0))
            if kind == 4 and flags & 1: break
        time.sleep(0.1)
        block = bytes([0x82, 0x86, 0x04, len(path)]) + path  # GET, http, :path literal
        last = None
        if sys.argv[4:] == ["cancel"]:
            # Each stream cancelled at once (RST_STREAM CANCEL), then one more GET /.
            cancel = struct.pack(">I", 8)
            s.sendall(b"".join(frame(1, 0x5, 2 * i + 1, block) + frame(3, 0, 2 * i + 1, cancel) for i in range(streams)))
            last = 2 * streams + 1
            s.sendall(frame(1, 0x5, last, bytes([0x82, 0x86, 0x84])))
        else:
            s.sendall(b"".join(frame(1, 0x5, 2 * i + 1, block) for i in range(streams)))
        for kind, flags, stream, payload in frames(time.monotonic() + 3):
            if kind == 3:
                print("rst", stream, int.from_bytes(payload, "big"))
            elif kind == 1:
                print("headers", stream)
                if stream == last: break
            elif kind == 7:
                print("goaway", int.from_bytes(payload[4:8], "big"))
        if closed: print("closed")
        """#
}
