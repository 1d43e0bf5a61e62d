import NIOCore
import NIOPosix
import Testing
import VolleyCore

@testable import VolleyEngine

extension RendezvousTests {
    // MARK: - Malformed peers

    /// Sends `text` to 127.0.0.1:`port` and returns the first line of the answer ("" when
    /// the peer closes without one), within 5 s.
    static func exchange(port: Int, _ text: String) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: text))
            return try await withThrowingTaskGroup(of: String.self) { group in
                group.addTask {
                    var received = ""
                    for try await chunk in inbound {
                        received += String(buffer: chunk)
                        if let newline = received.firstIndex(of: "\n") { return String(received[..<newline]) }
                    }
                    return received
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(5))
                    return "(no answer within 5 s)"
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        }
    }

    @Test func aMalformedLineIsRefusedNamingThePeerAndTheServerGoesOn() async throws {
        try await RendezvousServer.withServer(Self.config(0, of: 1)) { server in
            let answer = try await Self.exchange(port: server.port, "GET / HTTP/1.1\r\n")
            #expect(answer.contains("\"type\":\"refused\""))
            #expect(answer.contains("is not a rendezvous message"))
            let oversized =
                "{\"type\":\"ping\",\"id\":1,\"sent\":1,\"pad\":\"" + String(repeating: "x", count: 70_000) + "\"}\n"
            let answer2 = try await Self.exchange(port: server.port, oversized)
            #expect(answer2.contains("line of 70"))
            #expect(server.problems.count == 2)
            #expect(server.problems.allSatisfy { $0.hasPrefix("127.0.0.1:") })
            // The rendezvous still works for a segment that speaks the protocol.
            let joined = try await RendezvousClient.withSession(
                Self.config(0, of: 1, port: server.port),
                server: server
            ) {
                $0.segment
            }
            #expect(joined == 0)
        }
    }

    @Test func aMalformedAnswerFromSegment0IsAClearErrorNamingIt() async throws {
        // A "segment 0" that answers every line with something else than the protocol.
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = listener.channel.localAddress!.port!
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await listener.executeThenClose { inbound in
                    for try await connection in inbound {
                        try await connection.executeThenClose { input, output in
                            for try await _ in input {
                                try await output.write(ByteBuffer(string: "<html>oops</html>\n"))
                            }
                        }
                    }
                }
            }
            let error = await #expect(throws: RendezvousError.self) {
                try await RendezvousClient.withSession(Self.config(1, port: port, barrier: .seconds(2))) { _ in 0 }
            }
            #expect(error?.kind == .protocolViolation)
            #expect(error?.message.hasPrefix("segment 0 at 127.0.0.1:\(port) sent a line that is not") == true)
            group.cancelAll()
            listener.channel.close(promise: nil)
        }
    }

    @Test func messagesRoundTripAndBadOnesAreNamed() throws {
        let messages: [RendezvousMessage] = [
            .ping(id: 3, sent: 1_796_576_400_000_000_000),
            .pong(id: 3, sent: 1, server: 2),
            .register(
                .init(segment: 1, count: 3, runKey: "k", offsetNanoseconds: -5, rttNanoseconds: 9, protocolVersion: 1)
            ),
            .registered(registered: 2, count: 3),
            .refused(reason: "r", hint: "h"),
            .start(at: 42, variables: ["a": "b"]),
            .abort(RendezvousAbort(reason: "x", segment: 2, kind: .aborted)),
            .bundle(segment: 2, data: [0, 1, 255]),
            .ack(segment: 2),
        ]
        for message in messages {
            var line = message.encoded()
            #expect(line.readableBytesView.last == UInt8(ascii: "\n"))
            line.moveWriterIndex(to: line.writerIndex - 1)
            #expect(try RendezvousMessage(line: line, peer: "p") == message)
        }
        let error = #expect(throws: RendezvousError.self) {
            try RendezvousMessage(line: ByteBuffer(string: "{\"type\":\"start\"}"), peer: "segment 0 at h:1")
        }
        #expect(error?.message == "segment 0 at h:1 sent a \"start\" message without \"at\"")
    }

    // MARK: - Clock offset and start

    @Test func theOffsetComesFromTheShortestRoundTrip() {
        // Server 1 ms ahead; the slow probe's asymmetric delay would make it look like 6 ms.
        let samples = [
            ClockSample(sent: 0, server: 11_000_000, received: 10_000_000),
            ClockSample(sent: 20_000_000, server: 21_200_000, received: 20_400_000),
            ClockSample(sent: 30_000_000, server: 31_500_000, received: 31_000_000),
        ]
        let best = ClockSample.best(samples)!
        #expect(best.rtt == 400_000)
        #expect(best.offset == 1_000_000)
    }

    /// Three sessions in one process wake within 5 ms of each other (the issue asks 10 ms for
    /// the first sends). Prints the spread and how late each woke after its `startAt`: across
    /// processes the spread is at most the lateness plus the offset error (± rtt/2).
    @Test func threeSessionsWakeWithinFiveMillisecondsOfEachOther() async throws {
        var spreads: [Int64] = []
        var lateness: [Int64] = []
        for _ in 0..<5 {
            let results = try await RendezvousServer.withServer(Self.config(0)) { server in
                try await Self.segments([0, 1, 2], server: server) { session in
                    let woke = try await session.waitUntilStart()
                    return (woke, woke - session.startAt)
                }
            }
            let wakes = results.values.map(\.0)
            spreads.append(wakes.max()! - wakes.min()!)
            lateness.append(results.values.map(\.1).max()!)
        }
        let worst = spreads.max()!
        print(
            "rendezvous start over 5 runs (µs): spread \(spreads.map { $0 / 1000 }), worst \(worst / 1000);"
                + " latest wake after startAt \(lateness.map { $0 / 1000 })"
        )
        // The median, not the worst: a run of the whole test suite on two busy cores can
        // preempt one spinning task for milliseconds; the worst is printed for the record.
        #expect(spreads.sorted()[spreads.count / 2] < 5_000_000)
        #expect(lateness.allSatisfy { $0 >= 0 })
    }

    @Test func startAtAcceptsRFC3339DelaysAndUnixSeconds() throws {
        let now: Int64 = 1_796_572_800 * 1_000_000_000  // 2026-12-06T16:00:00Z
        let five: Int64 = 1_796_576_400 * 1_000_000_000  // 17:00:00Z
        #expect(try StartAt.parse("2026-12-06T17:00:00Z", now: now) == five)
        #expect(try StartAt.parse("2026-12-06t17:00:00.25z", now: now) == five + 250_000_000)
        #expect(try StartAt.parse("2026-12-06T18:00:00+01:00", now: now) == five)
        #expect(try StartAt.parse("2026-12-06T12:00:00.123456789-05:00", now: now) == five + 123_456_789)
        #expect(try StartAt.parse("+5s", now: now) == now + 5_000_000_000)
        #expect(try StartAt.parse(" +1m30s ", now: now) == now + 90_000_000_000)
        #expect(try StartAt.parse("1796576400", now: now) == five)
        #expect(try StartAt.parse("1796576400.5", now: now) == five + 500_000_000)
        #expect(try StartAt.parse("2026-12-06T15:59:59.5Z", now: now) == now - 500_000_000)  // within a second
    }

    @Test func startAtRefusesBadTextAndThePast() {
        let now: Int64 = 1_796_572_800 * 1_000_000_000
        let cases: [(String, String)] = [
            ("tomorrow", "--start-at \"tomorrow\" is not a time"),
            ("2026-02-30T00:00:00Z", "--start-at \"2026-02-30T00:00:00Z\" is not a time"),
            ("2026-12-06T17:00:00", "--start-at \"2026-12-06T17:00:00\" is not a time"),
            ("+5", "--start-at \"+5\": the delay is not a duration"),
            ("17x", "--start-at \"17x\" is not Unix seconds"),
            ("2026-12-06T15:00:00Z", "--start-at \"2026-12-06T15:00:00Z\" is 60 min in the past"),
            ("1796572790", "--start-at \"1796572790\" is 10s in the past"),
        ]
        for (text, message) in cases {
            let error = #expect(throws: InputError.self) { try StartAt.parse(text, now: now) }
            #expect(error?.message == message)
            #expect(error?.hint != nil)
        }
    }
}
