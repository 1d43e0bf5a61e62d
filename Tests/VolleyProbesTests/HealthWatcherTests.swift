import Foundation
import Testing
import VolleyProbes
import VolleyTestSupport

/// The health watch's probes against servers on 127.0.0.1.
@Suite struct HealthWatcherTests {
    /// A probe that timed out is not cancelled (cancelling a URLSession request on Linux can
    /// deadlock, ``URLSession/uncancelledData(for:)``): its request stays open until its
    /// server answers or the session's own timeout ends it. The next probe must not queue
    /// behind it — the kubelet's probes are independent — so it gets a connection of its own
    /// and sees the server's 200. With one connection per host (the session's setting until
    /// the cancellation was removed) it waited for the first and timed out too.
    @Test(.timeLimit(.minutes(1))) func aTimedOutProbeDoesNotHoldUpTheNext() async throws {
        let server = try await SilentServer.start(silentConnections: 1)
        let url = try #require(URL(string: "http://127.0.0.1:\(server.port)/ready"))
        let watcher = HealthWatcher(url: url, period: .seconds(1), timeout: .milliseconds(400), failureThreshold: 3)
        let first = await watcher.poll(at: 0)
        let second = await watcher.poll(at: 1)
        let accepted = server.accepted
        try await server.shutdown()
        #expect(!first.ok)
        #expect(first.error?.hasPrefix("timeout after") == true, "\(first)")
        #expect(second.ok, "\(second)")
        #expect(second.status == 200)
        #expect((second.latencyMs ?? .infinity) < 400)
        #expect(accepted == 2)
    }
}
