import Foundation
import Testing
import VolleyCore
import VolleyReport

/// Issue 18's proof across "hosts": three segment processes, each in a network namespace of
/// its own (scripts/netns-hosts), load an nginx in a fourth through veth links, with the
/// rendezvous on segment 0's address; the merged run must be the single run's. Where the
/// machine cannot have network namespaces (not root, no iproute2) the test reports skipped
/// with the reason; it never passes without them.
@Suite(.serialized) struct NetnsDistributedTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/netns-hosts").path
    /// The addresses scripts/netns-hosts gives: segment i is 10.243.i.2, the service 10.243.100.1.
    static let net = "10.243"
    static let servicePort = 8080
    static let rendezvousPort = 7070

    /// `ip`, for `ip netns exec`; nil when iproute2 is missing (then the script says so).
    private static func tool(_ name: String, in dirs: [String] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) -> String?
    {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return (path + dirs).map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private static func hosts(_ args: [String]) throws -> Outcome {
        try ChildProcess(executable: script, args).finish(limit: 30)
    }

    /// Runs `args` inside namespace `ns`.
    private static func inNamespace(_ ns: String, _ args: [String]) throws -> ChildProcess {
        try ChildProcess(executable: tool("ip") ?? "/usr/sbin/ip", ["netns", "exec", ns] + args)
    }

    /// The access log's client addresses, once their count has stopped growing (nginx logs a
    /// request just after its response, so the last few may trail the client's exit).
    private static func peers(_ log: URL, atLeast expected: Int) -> [Substring] {
        let deadline = Date().addingTimeInterval(5)
        while true {
            let lines = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n")
            if lines.count >= expected || Date() >= deadline { return lines }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    private static func nginxConfig(dir: URL) -> String {
        """
        worker_processes 1;
        pid \(dir.path)/nginx.pid;
        error_log \(dir.path)/error.log warn;
        events { worker_connections 1024; }
        http {
          log_format peer '$remote_addr';
          access_log \(dir.path)/access.log peer;
          server {
            listen \(net).100.1:\(servicePort);
            location = / { default_type text/plain; return 200 "ok"; }
          }
        }
        """
    }

    @Test func threeSegmentHostsAndATargetHostAreTheSingleRun() async throws {
        let check = try Self.hosts(["check"])
        if check.status == 77 {
            try Test.cancel(
                "network namespaces unavailable: \(check.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
        try #require(check.status == 0, "netns-hosts check: \(check.stderr)")
        guard let nginx = Self.tool("nginx") else {
            // CI starts nginx (scripts/start-nginx installs it) and must not skip this.
            try #require(
                ProcessInfo.processInfo.environment["VOLLEY_REQUIRE_SERVICES"] != "1",
                "nginx not found but VOLLEY_REQUIRE_SERVICES=1 (scripts/start-nginx installs it)"
            )
            try Test.cancel("nginx not found (scripts/start-nginx installs it)")
        }

        let prefix = "vn\(ProcessInfo.processInfo.processIdentifier)-\(UInt16.random(in: 0...UInt16.max))"
        let up = try Self.hosts(["up", prefix])
        defer {
            let down = try? Self.hosts(["down", prefix])
            if down?.status != 0 { Issue.record("netns-hosts down \(prefix): \(down?.stderr ?? "did not run")") }
        }
        try #require(up.status == 0, "netns-hosts up: \(up.stderr)")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volley-netns-nginx-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("nginx.conf")
        try Self.nginxConfig(dir: dir).write(to: config, atomically: true, encoding: .utf8)
        let server = try Self.inNamespace(
            "\(prefix)-target",
            [nginx, "-p", dir.path, "-c", config.path, "-g", "daemon off;"]
        )
        defer { _ = server.stop() }
        let url = "http://\(Self.net).100.1:\(Self.servicePort)/"
        // Listening, and reachable from a segment host through its link.
        var reachable = false
        for _ in 0..<100 where !reachable {
            let probe = try Self.inNamespace(
                "\(prefix)-seg0",
                ["timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/\(Self.net).100.1/\(Self.servicePort)"]
            ).finish(limit: 5)
            reachable = probe.status == 0
            if !reachable { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(reachable, "nginx on \(url) not reachable from \(prefix)-seg0 within 10 s")

        let volley = try volleyBinary().path
        let load = [volley, "run", url, "-n", "3000", "-c", "6", "--json", "-q", "--no-save"]
        let single = try Self.inNamespace("\(prefix)-seg0", load).finish(limit: 120)
        let log = dir.appendingPathComponent("access.log")
        let before = Self.peers(log, atLeast: 3000).count
        // Started in reverse order: the others wait for segment 0 to listen on its address.
        let segments = try (0..<3).reversed().map { i in
            try Self.inNamespace(
                "\(prefix)-seg\(i)",
                load + [
                    "--segment", "\(i)/3", "--rendezvous", "\(Self.net).0.2:\(Self.rendezvousPort)",
                    "--barrier-timeout", "20s",
                ]
            )
        }.reversed()
        let outcomes = segments.map { $0.finish(limit: 120) }
        let served = Self.peers(log, atLeast: before + 3000).dropFirst(before)

        #expect(single.status == 0, "\(single.stderr)")
        #expect(outcomes.map(\.status) == [0, 0, 0], "\(outcomes.map(\.stderr))")
        #expect(before == 3000, "nginx logged \(before) requests of the single run")
        let one = try JSONReport.decode(single.stdout)
        let merged = try JSONReport.decode(outcomes[0].stdout)
        #expect(one.completed == 3000)
        #expect(merged.completed == one.completed)
        #expect(merged.scheduled == one.scheduled)
        #expect(merged.status == one.status)
        #expect(merged.status == ["200": 3000])
        // The server saw the distributed run come from the three hosts, a third from each.
        var byPeer: [String: Int] = [:]
        for peer in served { byPeer[String(peer), default: 0] += 1 }
        #expect(served.count == 3000, "nginx logged \(served.count) requests of the distributed run")
        #expect(Set(byPeer.keys) == Set((0..<3).map { "\(Self.net).\($0).2" }), "\(byPeer)")
        #expect(byPeer.values.allSatisfy { (900...1100).contains($0) }, "\(byPeer)")
        for i in 1..<3 { #expect(outcomes[i].stderr.contains("results delivered to segment 0")) }
        let info = try #require(merged.distributed)
        #expect(info.merged == [0, 1, 2])
        #expect(info.missing.isEmpty)
        #expect(info.startSkewMs < 10, "start skew \(info.startSkewMs) ms")
        #expect(info.segments.allSatisfy { abs($0.clockOffsetMs) < 5 }, "\(info.segments)")
        #expect(info.segments.allSatisfy { ($0.clockRTTMs ?? 0) > 0 }, "\(info.segments)")
        let figures = info.segments.map {
            "seg\($0.index) offset \($0.clockOffsetMs) ms rtt \($0.clockRTTMs ?? -1) ms start +\($0.startOffsetMs) ms"
        }
        print(
            "netns distributed run: skew \(info.startSkewMs) ms; \(figures.joined(separator: "; ")); by peer \(byPeer)"
        )
    }
}
