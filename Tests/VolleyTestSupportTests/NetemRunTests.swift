import Foundation
import Testing

/// `scripts/netem-run`: a network namespace of the test's own whose loopback delays every
/// packet. Where the kernel has no netem (this project's CI machine at the time of writing:
/// `CONFIG_NET_SCH_NETEM` not set, no loadable modules) the delay test reports skipped with the
/// script's reason; it never passes without the delay.
@Suite struct NetemRunTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/netem-run").path

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the script under `timeout`, so a hung command cannot hang the suite.
    static func run(_ arguments: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["30", script] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self)
        )
    }

    /// Three TCP connects to a listener in the same namespace, in milliseconds, one per line
    /// (the kernel completes the handshake; no accept needed).
    static let connectTimer = """
        import socket, time
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        port = server.getsockname()[1]
        for _ in range(3):
            client = socket.socket()
            client.settimeout(5)
            start = time.monotonic()
            client.connect(("127.0.0.1", port))
            print("%.3f" % ((time.monotonic() - start) * 1000))
            client.close()
        """

    @Test func badArgumentsAreRefusedWithUsage() throws {
        for arguments in [["soon", "--", "true"], ["10", "true"], ["10", "--"], ["99999", "--", "true"], []] {
            let outcome = try Self.run(arguments)
            #expect(outcome.status == 2, "\(arguments)")
            #expect(outcome.stderr.contains("usage: scripts/netem-run DELAY_MS -- COMMAND"), "\(arguments)")
        }
    }

    @Test func connectInsideTheNamespaceCostsOneRoundTrip() throws {
        let check = try Self.run(["--check"])
        if check.status == 77 {
            try Test.cancel("netem unavailable: \(check.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        try #require(check.status == 0, "netem-run --check: \(check.stderr)")

        let delay = 25.0
        let delayed = try Self.run(["25", "--", "python3", "-c", Self.connectTimer])
        let undelayed = try Self.run(["0", "--", "python3", "-c", Self.connectTimer])
        try #require(delayed.status == 0 && undelayed.status == 0, "\(delayed.stderr) \(undelayed.stderr)")
        let connects = delayed.stdout.split(separator: "\n").compactMap { Double($0) }
        let baseline = undelayed.stdout.split(separator: "\n").compactMap { Double($0) }
        #expect(connects.count == 3 && baseline.count == 3)
        // SYN and SYN-ACK each wait `delay` on lo.
        #expect(connects.allSatisfy { $0 >= 2 * delay }, "connects \(connects) ms")
        #expect(connects.min() ?? .infinity < 2 * delay + 50, "connects \(connects) ms")
        #expect(baseline.allSatisfy { $0 < delay }, "connects without delay \(baseline) ms")
    }
}
