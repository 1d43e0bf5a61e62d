import NIOCore
import NIOHPACK
import Testing

@testable import VolleyEngine

@Suite("HTTP/2 connection state machine")
struct H2ConnectionTests {
    @Test("SETTINGS is acknowledged, PING answered, and a response reported head, body, end")
    func simpleExchange() {
        var peer = H2TestPeer()
        peer.send(H2TestPeer.settings([H2Setting(H2.Setting.maxFrameSize, 20_000)]))
        peer.send(H2TestPeer.raw { H2FrameEncoder.writePing(opaque: 7, ack: false, into: &$0) })
        #expect(peer.written.contains(.settings(ack: true, [])))
        #expect(peer.written.contains(.ping(ack: true, opaque: 7)))
        #expect(peer.client.peerMaxFrameSize == 20_000)
        let id = peer.request()
        #expect(id == 1)
        peer.send(H2TestPeer.headers(1, [(":status", "200"), ("content-length", "5"), ("server", "t")]))
        peer.send(H2TestPeer.data(1, 5, endStream: true))
        #expect(peer.eventNames == ["head 1 200", "data 1 5", "complete 1"])
        guard case .responseHead(_, let head) = peer.events[0] else { return }
        #expect(head.contentLength == 5 && head.headers.first { $0.name == "server" }?.value == "t")
        #expect(peer.client.openStreams == 0 && peer.request() == 3)
    }

    @Test("1xx heads are skipped; trailers end the response; HEADERS with END_STREAM alone too")
    func headsAndTrailers() {
        var peer = H2TestPeer()
        _ = peer.request()
        _ = peer.request()
        peer.send(H2TestPeer.headers(1, [(":status", "103"), ("link", "</a>")]))
        peer.send(H2TestPeer.headers(1, [(":status", "200")]))
        peer.send(H2TestPeer.data(1, 3))
        peer.send(H2TestPeer.headers(1, [("grpc-status", "0")], endStream: true))
        peer.send(H2TestPeer.headers(3, [(":status", "204")], endStream: true))
        #expect(peer.eventNames == ["head 1 200", "data 1 3", "complete 1", "head 3 204", "complete 3"])
    }

    @Test("a 1 MB response through 16 KB stream windows never stalls: WINDOW_UPDATE every half window")
    func longDownload() {
        var peer = H2TestPeer(settings: H2LocalSettings(initialWindowSize: 16_384, connectionWindow: 65_535))
        let id = peer.request()
        peer.send(H2TestPeer.headers(id, [(":status", "200")]))
        var remaining = 1 << 20
        var streamWindow = 16_384
        var connectionWindow = 65_535
        var seen = peer.windowUpdates.count
        var rounds = 0
        while remaining > 0 && rounds < 10_000 {
            rounds += 1
            let n = min(remaining, streamWindow, connectionWindow, 4_096)
            if n == 0 {
                Issue.record("stalled with \(remaining) bytes to send")
                break
            }
            remaining -= n
            streamWindow -= n
            connectionWindow -= n
            peer.send(H2TestPeer.data(id, n, endStream: remaining == 0))
            for (stream, increment) in peer.windowUpdates.dropFirst(seen) {
                if stream == 0 { connectionWindow += Int(increment) } else { streamWindow += Int(increment) }
            }
            seen = peer.windowUpdates.count
        }
        #expect(remaining == 0)
        #expect(peer.eventNames.last == "complete \(id)")
        let body = peer.events.reduce(0) { if case .data(_, let b) = $1 { $0 + b.readableBytes } else { $0 } }
        #expect(body == 1 << 20)
        // 4 KB frames: a stream update every 8,192 bytes (half of 16 KB; none after the last
        // frame), a connection update every 32,768.
        let updates = peer.windowUpdates
        #expect(updates.filter { $0.0 == id }.count == (1 << 20) / 8_192 - 1)
        #expect(updates.filter { $0.0 == 0 }.count == (1 << 20) / 32_768)
    }

    @Test("SETTINGS_MAX_CONCURRENT_STREAMS 3: the fourth stream waits until one completes")
    func maxConcurrentStreams() {
        // Before the server's SETTINGS: 100 assumed, as nghttp2 does.
        var early = H2TestPeer()
        for _ in 0..<100 { _ = early.request() }
        #expect(!early.client.canOpenStream && !early.client.receivedPeerSettings)
        var peer = H2TestPeer()
        peer.send(H2TestPeer.settings([H2Setting(H2.Setting.maxConcurrentStreams, 3)]))
        #expect(peer.client.receivedPeerSettings)
        #expect([peer.request(), peer.request(), peer.request()] == [1, 3, 5])
        #expect(!peer.client.canOpenStream && !peer.client.isUsedUp)
        peer.send(H2TestPeer.headers(3, [(":status", "200")], endStream: true))
        #expect(peer.client.canOpenStream)
    }

    @Test("streamsBeforeSettings 1: one stream until the server's SETTINGS, then its limit (or 100)")
    func oneStreamBeforeSettings() {
        var peer = H2TestPeer()
        peer.client = H2Connection(streamsBeforeSettings: 1)
        #expect(peer.request() == 1)
        #expect(!peer.client.canOpenStream)
        peer.send(H2TestPeer.settings([H2Setting(H2.Setting.maxConcurrentStreams, 3)]))
        #expect([peer.request(), peer.request()] == [3, 5])
        #expect(!peer.client.canOpenStream)
        // SETTINGS without a stream limit: what nghttp2 assumes, not the 1 held before it.
        var open = H2TestPeer()
        open.client = H2Connection(streamsBeforeSettings: 1)
        open.send(H2TestPeer.settings([]))
        #expect(open.client.peerMaxConcurrentStreams == 100)
    }

    @Test("GOAWAY: our streams above its last-stream-id are reported refused, those below complete")
    func goAway() {
        var peer = H2TestPeer()
        for _ in 0..<4 { _ = peer.request() }
        peer.send(
            H2TestPeer.raw { H2FrameEncoder.writeGoAway(lastStreamID: 3, code: .noError, debug: "bye", into: &$0) }
        )
        #expect(peer.eventNames == ["goaway 3 NO_ERROR refused [5, 7] bye"])
        #expect(!peer.client.canOpenStream && peer.client.isUsedUp && peer.client.openStreams == 2)
        // A late frame for a refused stream is ignored; stream 3 still completes.
        peer.send(H2TestPeer.headers(5, [(":status", "200")], endStream: true))
        peer.send(H2TestPeer.headers(3, [(":status", "200")], endStream: true))
        #expect(peer.eventNames.dropFirst() == ["head 3 200", "complete 3"])
    }

    @Test("RST_STREAM from the server is reported with its code; frames after our own reset are ignored")
    func resets() {
        var peer = H2TestPeer()
        let a = peer.request()
        let b = peer.request()
        peer.send(H2TestPeer.raw { H2FrameEncoder.writeRSTStream(stream: a, code: .refusedStream, into: &$0) })
        var out = ByteBuffer()
        #expect(peer.client.cancelStream(b, into: &out))
        #expect(Array(out.readableBytesView) == [0, 0, 4, 3, 0, 0, 0, 0, 3, 0, 0, 0, 8])
        peer.send(H2TestPeer.headers(b, [(":status", "200")]))
        peer.send(H2TestPeer.data(b, 10, endStream: true))
        #expect(peer.eventNames == ["reset 1 REFUSED_STREAM"])
    }

    @Test("thousands of cancels: the record of reset streams stays bounded and recent ones are still ignored")
    func manyCancels() {
        var peer = H2TestPeer()
        var out = ByteBuffer()
        var last: UInt32 = 0
        for _ in 0..<5_000 {
            last = peer.request()
            out.clear()
            peer.client.cancelStream(last, into: &out)
        }
        #expect(peer.client.resetByUs.count <= 2_048)
        peer.send(H2TestPeer.headers(last, [(":status", "200")]))
        peer.send(H2TestPeer.data(last - 200, 10, endStream: true))
        #expect(peer.events.isEmpty)
    }

    @Test("stream ids run out at 2^31-1: the connection is used up")
    func streamIDExhaustion() {
        var peer = H2TestPeer()
        peer.client.nextStreamID = H2.maxStreamID - 2
        #expect(peer.request() == H2.maxStreamID - 2)
        #expect(peer.request() == H2.maxStreamID)
        #expect(!peer.client.canOpenStream && peer.client.isUsedUp)
    }

    @Test("protocol errors: GOAWAY with the code, the open streams reported, nothing read after")
    func protocolErrors() {
        let cases: [((inout ByteBuffer, inout HPACKEncoder) -> Void, H2ErrorCode)] = [
            (H2TestPeer.data(9, 1), .protocolError),  // never opened
            (H2TestPeer.headers(2, [(":status", "200")]), .protocolError),  // a server stream
            (H2TestPeer.raw { H2FrameEncoder.writeWindowUpdate(stream: 0, increment: 0, into: &$0) }, .protocolError),
            (H2TestPeer.settings([H2Setting(H2.Setting.initialWindowSize, 0x8000_0000)]), .flowControlError),
            (H2TestPeer.settings([H2Setting(H2.Setting.maxFrameSize, 100)]), .protocolError),
            (H2TestPeer.raw { $0.writeBytes([0, 0, 4, 0x05, 0x04, 0, 0, 0, 1, 0, 0, 0, 2]) }, .protocolError),  // push
            (H2TestPeer.raw { $0.writeBytes([0, 0, 1, 0x01, 0x05, 0, 0, 0, 1, 0xFF]) }, .compressionError),
        ]
        for (frame, code) in cases {
            var peer = H2TestPeer()
            _ = peer.request()
            peer.send(frame)
            #expect(peer.eventNames == ["connection error \(code) open [1]"])
            guard case .goAway(0, let sent, _) = peer.written.last else {
                Issue.record("no GOAWAY written for \(code)")
                continue
            }
            #expect(sent == code && peer.client.isUsedUp)
            peer.send(H2TestPeer.raw { H2FrameEncoder.writePing(opaque: 1, ack: false, into: &$0) })
            #expect(peer.written.last != .ping(ack: true, opaque: 1))
        }
        // A stream that ended normally and gets DATA again: STREAM_CLOSED.
        var peer = H2TestPeer()
        _ = peer.request()
        peer.send(H2TestPeer.headers(1, [(":status", "200")], endStream: true))
        peer.send(H2TestPeer.data(1, 1))
        #expect(peer.eventNames.last == "connection error STREAM_CLOSED open []")
    }

    @Test("a request body waits for the server's windows and ends the stream with its last DATA")
    func requestBodyFlowControl() {
        var peer = H2TestPeer()
        peer.send(H2TestPeer.settings([H2Setting(H2.Setting.initialWindowSize, 10)]))
        let post = H2RequestTemplate(
            method: "POST",
            scheme: "http",
            authority: "t",
            path: "/",
            headers: [],
            body: [UInt8](repeating: 0x62, count: 100)
        )
        let id = peer.request(post)
        func sent() -> [Int] {
            peer.written.compactMap { if case .data(id, let p, _, _) = $0 { p.readableBytes } else { nil } }
        }
        #expect(sent() == [10])
        peer.send(H2TestPeer.raw { H2FrameEncoder.writeWindowUpdate(stream: id, increment: 50, into: &$0) })
        #expect(sent() == [10, 50])
        // The server raises every stream's window by 100: the rest goes, ending the stream.
        peer.send(H2TestPeer.settings([H2Setting(H2.Setting.initialWindowSize, 110)]))
        #expect(sent() == [10, 50, 40])
        guard case .data(_, _, true, _) = peer.written.last(where: { if case .data = $0 { true } else { false } })
        else {
            Issue.record("the last DATA did not end the stream")
            return
        }
        guard
            case .headers(_, _, let endStream, _) = peer.written.first(where: {
                if case .headers = $0 { true } else { false }
            })
        else {
            return
        }
        #expect(!endStream)
    }

    @Test("a server that lowers SETTINGS_HEADER_TABLE_SIZE gets a size update to 0 once")
    func tableSizeUpdate() {
        var peer = H2TestPeer()
        peer.send(H2TestPeer.settings([H2Setting(H2.Setting.headerTableSize, 0)]))
        _ = peer.request()
        _ = peer.request()
        let blocks = peer.written.compactMap {
            if case .headers(_, let b, _, _) = $0 { b.readableBytesView.first } else { nil }
        }
        #expect(blocks == [0x20, 0x82])
    }

    @Test("the server's bytes split at every point give the same events (HPACK's table in step)")
    func everySplitPoint() {
        // Two responses whose second head reuses the first's dynamic-table entries.
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var wire = ByteBuffer()
        H2TestPeer.settings([H2Setting(H2.Setting.maxConcurrentStreams, 10)])(&wire, &encoder)
        H2TestPeer.headers(1, [(":status", "200"), ("server", "nginx"), ("x-long-header", "abcdefghijklmnop")])(
            &wire,
            &encoder
        )
        H2TestPeer.data(1, 300, endStream: true)(&wire, &encoder)
        H2TestPeer.headers(
            3,
            [(":status", "404"), ("server", "nginx"), ("x-long-header", "abcdefghijklmnop")],
            endStream: true
        )(
            &wire,
            &encoder
        )
        let bytes = Array(wire.readableBytesView)
        let expected = ["head 1 200", "data 1 300", "complete 1", "head 3 404", "complete 3"]
        for split in 0..<bytes.count {
            var peer = H2TestPeer()
            _ = peer.request()
            _ = peer.request()
            peer.send(H2TestPeer.raw { $0.writeBytes(bytes[..<split]) })
            peer.send(H2TestPeer.raw { $0.writeBytes(bytes[split...]) })
            let names = peer.eventNames.filter { !$0.hasPrefix("data") }
            #expect(names == expected.filter { !$0.hasPrefix("data") }, "split at \(split)")
            let body = peer.events.reduce(0) { if case .data(_, let b) = $1 { $0 + b.readableBytes } else { $0 } }
            #expect(body == 300)
        }
    }
}
