import Foundation
import NIOSSL
import Testing
import VolleyTestSupport

/// The phase server's delays, as a plain NIO client measures them. Every delay is a scheduled
/// task on the server, so no sample can be shorter than it: the lower bounds hold on every
/// sample. Upper bounds are taken on the fastest of a few samples (a busy 2-core machine can
/// stretch any one of them) with a generous tolerance: they only show the delay is the one asked
/// for, not a multiple of it.
@Suite struct PhaseServerTests {
    /// Slack over a delay for the fastest sample: scheduling, a debug-build TLS handshake.
    static let tolerance = 100.0
    static let samples = 3

    static func tlsContext() throws -> NIOSSLContext {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        return try TestServer.makeTLSContext(
            certificatePath: fixtures.appendingPathComponent("cert.pem").path,
            keyPath: fixtures.appendingPathComponent("key.pem").path
        )
    }

    static func exchanges(_ server: PhaseServer, tls: Bool = false, target: String) async throws -> [ProbeExchange] {
        var result: [ProbeExchange] = []
        for _ in 0..<samples {
            result.append(try await ProbeClient.exchange(port: server.port, tls: tls, target: target))
        }
        return result
    }

    @Test func heldServerHelloShowsInTheHandshake() async throws {
        let context = try Self.tlsContext()
        let held = try await PhaseServer.start(tls: context, delays: .init(handshake: .milliseconds(30)))
        let plain = try await PhaseServer.start(tls: context)
        let heldRuns = try await Self.exchanges(held, tls: true, target: "/")
        let plainRuns = try await Self.exchanges(plain, tls: true, target: "/")
        try await held.shutdown()
        try await plain.shutdown()

        let heldMs = heldRuns.compactMap { $0.handshake?.ms }
        let plainMs = plainRuns.compactMap { $0.handshake?.ms }
        #expect(heldMs.count == Self.samples && plainMs.count == Self.samples)
        #expect(heldMs.allSatisfy { $0 >= 30 }, "handshakes \(heldMs) ms")
        #expect(heldMs.min()! < 30 + Self.tolerance, "handshakes \(heldMs) ms")
        // The hold, not the cost of TLS itself, is what made them 30 ms.
        #expect(plainMs.min()! < heldMs.min()!, "without the hold \(plainMs) ms, with it \(heldMs) ms")
        // The connection still serves after the held flight.
        #expect(heldRuns.allSatisfy { $0.status == 200 && $0.body.utf8.count == 1024 })
        #expect(held.baseURL.hasPrefix("https://"))
    }

    @Test func firstByteDelayShowsInWait() async throws {
        let server = try await PhaseServer.start(delays: .init(firstByte: .milliseconds(20)))
        let delayed = try await Self.exchanges(server, target: "/")
        let overridden = try await Self.exchanges(server, target: "/?ttfb=0")
        let viaQuery = try await Self.exchanges(server, target: "/item?ttfb=20&bytes=10")
        let received = server.requestsReceived
        try await server.shutdown()

        for runs in [delayed, viaQuery] {
            let waits = runs.map(\.wait.ms)
            #expect(waits.allSatisfy { $0 >= 20 }, "waits \(waits) ms")
            #expect(waits.min()! < 20 + Self.tolerance, "waits \(waits) ms")
        }
        // The query overrides the server's default.
        #expect(overridden.map(\.wait.ms).min()! < delayed.map(\.wait.ms).min()!)
        #expect(viaQuery.allSatisfy { $0.status == 200 && $0.body == String(repeating: "x", count: 10) })
        #expect(received == 3 * Self.samples)
    }

    @Test func trickledBodyShowsInReceive() async throws {
        let server = try await PhaseServer.start()
        let trickled = try await Self.exchanges(server, target: "/?trickle=40&chunks=4&bytes=1000")
        let whole = try await Self.exchanges(server, target: "/?bytes=1000")
        try await server.shutdown()

        let receives = trickled.map(\.receive.ms)
        // The last piece leaves 40 ms after the head. The client stamps the head when its event
        // loop reads it, so a late read (a busy machine) shortens one sample: the full span is
        // required of one sample, most of it of the median, and half of it of every sample.
        #expect(receives.max()! >= 40, "receives \(receives) ms")
        #expect(receives.sorted()[Self.samples / 2] >= 35, "receives \(receives) ms")
        #expect(receives.allSatisfy { $0 >= 20 }, "receives \(receives) ms")
        #expect(receives.min()! < 40 + Self.tolerance, "receives \(receives) ms")
        // The head is not held back with the body: the wait stays short.
        #expect(trickled.map(\.wait.ms).min()! < 20, "waits \(trickled.map(\.wait.ms)) ms")
        // The body came in pieces, and whole.
        #expect(trickled.allSatisfy { $0.reads >= 3 && $0.body.utf8.count == 1000 }, "reads \(trickled.map(\.reads))")
        #expect(whole.map(\.receive.ms).min()! < receives.min()!)
    }

    @Test func badDelayIsRefusedWithTheReason() async throws {
        let server = try await PhaseServer.start()
        let bad = try await ProbeClient.exchange(port: server.port, target: "/?ttfb=soon")
        let tooMany = try await ProbeClient.exchange(port: server.port, target: "/?chunks=0")
        try await server.shutdown()
        #expect(bad.status == 400)
        #expect(bad.body.contains("ttfb=soon"))
        #expect(tooMany.status == 400)
        #expect(tooMany.body.contains("chunks=0"))
    }
}
