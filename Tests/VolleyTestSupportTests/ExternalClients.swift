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
