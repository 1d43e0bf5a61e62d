import Foundation
import NIOCore
import NIOEmbedded
import NIOHPACK
import Testing
import VolleyCore

@testable import VolleyEngine

/// What an HTTP/2 session writes, and when, in a channel whose clock the test moves: the
/// closed model's write hold (``H2WriteHold``) in a real session, with lanes sending their
/// next request as each response completes, as the closed model's do.
@Suite struct H2SessionWriteTests {
    /// A closed-model owner: every lane sends its next request when its response completes.
    final class ClosedLoop: ConnectionOwner {
        typealias ConnectionData = Int
        var left: Int
        var completed = 0
        var failed = 0
        private var nextID: UInt64 = 1

        init(requests: Int) { left = requests }

        func connectionReady(_ c: HTTPConnection<ClosedLoop>) { sendNext(c) }
        func connectFailed(_ c: HTTPConnection<ClosedLoop>, error: any Error) { failed += 1 }
        func responseCompleted(_ c: HTTPConnection<ClosedLoop>, at t: UInt64, keepAlive: Bool) {
            completed += 1
            sendNext(c)
        }
        func requestFailed(
            _ c: HTTPConnection<ClosedLoop>,
            _ error: TransportErrorClass,
            message: String,
            bytesIn: Int,
            retry: Bool
        ) { failed += 1 }
        func connectionDroppedWhileIdle(_ c: HTTPConnection<ClosedLoop>) {}
        func connectionClosed(_ c: HTTPConnection<ClosedLoop>) {}

        private func sendNext(_ c: HTTPConnection<ClosedLoop>) {
            guard left > 0 else { return }
            left -= 1
            c.send(
                ByteBuffer(),
                isHEAD: false,
                replayable: true,
                requestID: nextID,
                now: HTTPConnection<ClosedLoop>.now()
            )
            nextID += 1
        }
    }

    /// A session of ten lanes in an embedded channel, past its SETTINGS exchange: streams 1
    /// (sent with the preface) and 3…19 (once the server's SETTINGS came) are open.
    final class Harness {
        let channel = EmbeddedChannel()
        let owner = ClosedLoop(requests: 100)
        let session: H2Session<ClosedLoop>
        var lanes: [HTTPConnection<ClosedLoop>] = []
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var decoder = H2FrameDecoder(maxFrameSize: H2.maxMaxFrameSize)

        init(coalescesWrites: Bool) throws {
            session = H2Session(template: H2TestPeer.get, capacity: 10, tls: false, coalescesWrites: coalescesWrites)
            for i in 0..<10 {
                let lane = HTTPConnection(owner: owner, data: i, tls: false)
                lanes.append(lane)
                session.attach(lane)
            }
            try channel.pipeline.syncOperations.addHandler(session)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            var settings = ByteBuffer()
            H2FrameEncoder.writeSettings([], into: &settings)
            try channel.writeInbound(settings)
        }

        /// Each buffer carrying requests that the session wrote since the last call, as the
        /// streams whose HEADERS it carried (the preface and SETTINGS left out).
        func writes() throws -> [[UInt32]] {
            var writes: [[UInt32]] = []
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
                if buffer.readableBytesView.starts(with: H2.preface) {
                    buffer.moveReaderIndex(forwardBy: H2.preface.count)
                }
                decoder.append(buffer)
                var streams: [UInt32] = []
                while let frame = try decoder.nextFrame() {
                    if case .headers(let stream, _, _, _) = frame { streams.append(stream) }
                }
                if !streams.isEmpty { writes.append(streams) }
            }
            return writes
        }

        /// One read carrying a complete response (HEADERS with END_STREAM) for each stream.
        func answer(_ streams: [UInt32]) throws {
            var wire = ByteBuffer()
            for stream in streams {
                var block = ByteBuffer()
                try encoder.encode(headers: HPACKHeaders([(":status", "200")]), to: &block)
                block.withUnsafeReadableBytes {
                    _ = H2FrameEncoder.writeHeaders(
                        stream: stream,
                        block: $0,
                        endStream: true,
                        maxFrameSize: 16_384,
                        into: &wire
                    )
                }
            }
            try channel.writeInbound(wire)
        }

        func lane(of stream: UInt32) -> HTTPConnection<ClosedLoop>? { lanes.first { $0.streamID == stream } }

        /// Runs the session's timers as if a second had passed.
        func passTime() { channel.embeddedEventLoop.advanceTime(to: .now() + .seconds(1)) }
    }

    static let firstWrites: [[UInt32]] = [[1], Array(stride(from: UInt32(3), through: 19, by: 2))]

    @Test func aReadsNewRequestsWaitForTheRestOfTheirWriteThenLeaveTogether() throws {
        let h = try Harness(coalescesWrites: true)
        #expect(try h.writes() == Self.firstWrites)
        // Latencies of 5 ms or more: a hold of up to 50 µs (5 ms / 64 is above the cap).
        usleep(5_000)
        // Three answers, two of them from write 2 (3…19): their successors wait.
        try h.answer([1, 3, 5])
        #expect(h.owner.completed == 3)
        #expect(try h.writes() == [])
        // The hold's timer sends them, and their send phase begins when they left.
        h.passTime()
        #expect(try h.writes() == [[21, 23, 25]])
        for stream: UInt32 in [21, 23, 25] {
            let lane = try #require(h.lane(of: stream))
            #expect(lane.writtenAt > lane.sentAt)
        }
        // Two more of write 2 answered: held; the other five: all ten successors leave in one.
        try h.answer([7, 9])
        #expect(try h.writes() == [])
        try h.answer([11, 13, 15, 17, 19])
        #expect(try h.writes() == [[27, 29, 31, 33, 35, 37, 39]])
        #expect(h.owner.completed == 10)
        // The timer set by the second hold finds nothing left to send.
        h.passTime()
        #expect(try h.writes() == [])
        #expect(h.owner.failed == 0)
    }

    @Test func withoutTheHoldEachReadsRequestsLeaveAtItsEnd() throws {
        let h = try Harness(coalescesWrites: false)
        #expect(try h.writes() == Self.firstWrites)
        usleep(5_000)
        try h.answer([1, 3, 5])
        #expect(try h.writes() == [[21, 23, 25]])
        try h.answer([7, 9])
        #expect(try h.writes() == [[27, 29]])
        #expect(h.owner.completed == 5)
    }

    @Test func theOnlyOpenStreamsBeingTheNewOnesNothingWaits() throws {
        let h = try Harness(coalescesWrites: true)
        _ = try h.writes()
        usleep(5_000)
        // Every stream of both writes answered in one read: nothing of theirs is open.
        try h.answer(Array(stride(from: UInt32(1), through: 19, by: 2)))
        #expect(try h.writes() == [Array(stride(from: UInt32(21), through: 39, by: 2))])
    }
}
