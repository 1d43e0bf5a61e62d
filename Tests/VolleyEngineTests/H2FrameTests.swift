import NIOCore
import Testing

@testable import VolleyEngine

/// All frames a decoder yields from `chunks` fed in order.
private func decodeAll(
    _ chunks: [[UInt8]],
    maxFrameSize: Int = H2.defaultMaxFrameSize
) throws(H2ConnectionError) -> [H2Frame] {
    var decoder = H2FrameDecoder(maxFrameSize: maxFrameSize)
    var frames: [H2Frame] = []
    for chunk in chunks {
        decoder.append(ByteBuffer(bytes: chunk))
        while let frame = try decoder.nextFrame() { frames.append(frame) }
    }
    #expect(decoder.bufferedBytes == 0)
    return frames
}

private func bytes(_ write: (inout ByteBuffer) -> Void) -> [UInt8] {
    var out = ByteBuffer()
    write(&out)
    return Array(out.readableBytesView)
}

@Suite("HTTP/2 frames")
struct H2FrameTests {
    @Test("frames are written as RFC 9113 lays them out (hand-checked bytes)")
    func handCheckedBytes() {
        #expect(bytes { H2FrameEncoder.writeSettingsAck(into: &$0) } == [0, 0, 0, 0x04, 0x01, 0, 0, 0, 0])
        #expect(
            bytes { H2FrameEncoder.writeWindowUpdate(stream: 3, increment: 0x1234, into: &$0) }
                == [0, 0, 4, 0x08, 0, 0, 0, 0, 3, 0, 0, 0x12, 0x34]
        )
        #expect(
            bytes { H2FrameEncoder.writePing(opaque: 0x0102_0304_0506_0708, ack: true, into: &$0) }
                == [0, 0, 8, 0x06, 0x01, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
        )
        #expect(
            bytes { H2FrameEncoder.writeRSTStream(stream: 5, code: .cancel, into: &$0) }
                == [0, 0, 4, 0x03, 0, 0, 0, 0, 5, 0, 0, 0, 8]
        )
        #expect(
            bytes { H2FrameEncoder.writeGoAway(code: .protocolError, debug: "x", into: &$0) }
                == [0, 0, 9, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, UInt8(ascii: "x")]
        )
        // The preface, SETTINGS (ENABLE_PUSH 0, INITIAL_WINDOW_SIZE 2^30-1), connection raise.
        let start = bytes { H2FrameEncoder.writePreface(H2LocalSettings(), into: &$0) }
        #expect(Array(start.prefix(24)) == Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))
        #expect(
            Array(start.dropFirst(24))
                == [0, 0, 12, 0x04, 0, 0, 0, 0, 0]  // SETTINGS, 2 parameters
                + [0, 2, 0, 0, 0, 0] + [0, 4, 0x3F, 0xFF, 0xFF, 0xFF]
                + [0, 0, 4, 0x08, 0, 0, 0, 0, 0, 0x3F, 0xFF, 0x00, 0x00]  // 2^30-1 - 65535
        )
    }

    @Test("every frame type round-trips through the encoder and the decoder")
    func roundTrip() throws {
        let wire = bytes { out in
            H2FrameEncoder.writeSettings([H2Setting(H2.Setting.maxConcurrentStreams, 100)], into: &out)
            H2FrameEncoder.writeSettingsAck(into: &out)
            H2FrameEncoder.writeWindowUpdate(stream: 0, increment: 70_000, into: &out)
            H2FrameEncoder.writePing(opaque: 42, ack: false, into: &out)
            H2FrameEncoder.writeRSTStream(stream: 7, code: .refusedStream, into: &out)
            H2FrameEncoder.writeGoAway(lastStreamID: 9, code: .enhanceYourCalm, debug: "calm", into: &out)
            H2FrameEncoder.writeData(stream: 1, payload: ByteBuffer(string: "hello"), endStream: true, into: &out)
            ([0x82, 0x86] as [UInt8]).withUnsafeBytes {
                _ = H2FrameEncoder.writeHeaders(
                    stream: 3,
                    block: $0,
                    endStream: false,
                    maxFrameSize: 16_384,
                    into: &out
                )
            }
        }
        let frames = try decodeAll([wire])
        #expect(
            frames == [
                .settings(ack: false, [H2Setting(H2.Setting.maxConcurrentStreams, 100)]),
                .settings(ack: true, []),
                .windowUpdate(stream: 0, increment: 70_000),
                .ping(ack: false, opaque: 42),
                .rstStream(stream: 7, code: .refusedStream),
                .goAway(lastStreamID: 9, code: .enhanceYourCalm, debug: ByteBuffer(string: "calm")),
                .data(stream: 1, payload: ByteBuffer(string: "hello"), endStream: true, flowLength: 5),
                .headers(stream: 3, block: ByteBuffer(bytes: [0x82, 0x86]), endStream: false, endHeaders: true),
            ]
        )
        // Split at every point, and byte by byte: the same frames.
        for split in 1..<wire.count {
            #expect(try decodeAll([Array(wire[..<split]), Array(wire[split...])]) == frames, "split at \(split)")
        }
        #expect(try decodeAll(wire.map { [$0] }) == frames)
    }

    @Test("a frame longer than our SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR, known from its header")
    func oversize() throws {
        let header: [UInt8] = [0, 0x40, 0x01, 0, 0, 0, 0, 0, 1]  // 16,385 bytes of DATA
        do {
            _ = try decodeAll([header])
            Issue.record("no error for a frame of 16,385 bytes")
        } catch {
            #expect(error.code == .frameSizeError)
        }
        // Exactly the maximum is fine.
        let full = [0, 0x40, 0x00, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 7, count: 16_384)
        #expect(try decodeAll([full]).count == 1)
    }

    @Test("fixed-size frames of the wrong size and frames on the wrong stream are connection errors")
    func wrongSizes() {
        let cases: [([UInt8], H2ErrorCode)] = [
            ([0, 0, 7, 0x06, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 7), .frameSizeError),  // PING of 7
            ([0, 0, 5, 0x08, 0, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 5), .frameSizeError),  // WINDOW_UPDATE of 5
            ([0, 0, 5, 0x04, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 5), .frameSizeError),  // SETTINGS of 5
            ([0, 0, 1, 0x00, 0, 0, 0, 0, 0, 0x61], .protocolError),  // DATA on stream 0
            ([0, 0, 8, 0x06, 0, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 8), .protocolError),  // PING on stream 1
        ]
        for (wire, code) in cases {
            do {
                _ = try decodeAll([wire])
                Issue.record("no error for \(wire.prefix(9))")
            } catch {
                #expect(error.code == code)
            }
        }
    }

    @Test("padding is removed and still counted for flow control; padding beyond the payload is an error")
    func padding() throws {
        // DATA, PADDED | END_STREAM, stream 1: pad length 3, "hello", 3 zero bytes.
        let padded: [UInt8] = [0, 0, 9, 0x00, 0x09, 0, 0, 0, 1, 3] + Array("hello".utf8) + [0, 0, 0]
        #expect(
            try decodeAll([padded]) == [
                .data(stream: 1, payload: ByteBuffer(string: "hello"), endStream: true, flowLength: 9)
            ]
        )
        // HEADERS, PADDED | PRIORITY | END_HEADERS: pad 1, 5 bytes of priority, block 0x88, pad.
        let headers: [UInt8] = [0, 0, 8, 0x01, 0x2C, 0, 0, 0, 3, 1, 0, 0, 0, 0, 16, 0x88, 0]
        #expect(
            try decodeAll([headers]) == [
                .headers(stream: 3, block: ByteBuffer(bytes: [0x88]), endStream: false, endHeaders: true)
            ]
        )
        let tooMuch: [UInt8] = [0, 0, 3, 0x00, 0x08, 0, 0, 0, 1, 3, 0x61, 0x62]
        do {
            _ = try decodeAll([tooMuch])
            Issue.record("no error for padding longer than the payload")
        } catch {
            #expect(error.code == .protocolError)
        }
    }

    @Test("an unknown frame type is passed over (RFC 9113 §5.5)")
    func unknownType() throws {
        let wire: [UInt8] = [0, 0, 2, 0xFA, 0, 0, 0, 0, 1, 1, 2] + [0, 0, 0, 0x04, 0x01, 0, 0, 0, 0]
        #expect(try decodeAll([wire]) == [.unknown(type: 0xFA, stream: 1), .settings(ack: true, [])])
    }

    @Test("a header block above the peer's frame size goes as HEADERS then CONTINUATION")
    func continuation() throws {
        let block = (0..<40_000).map { UInt8(truncatingIfNeeded: $0) }
        let wire = bytes { out in
            block.withUnsafeBytes {
                _ = H2FrameEncoder.writeHeaders(stream: 1, block: $0, endStream: true, maxFrameSize: 16_384, into: &out)
            }
        }
        let frames = try decodeAll([wire])
        #expect(frames.count == 3)
        guard case .headers(1, let first, true, false) = frames[0],
            case .continuation(1, let second, false) = frames[1],
            case .continuation(1, let third, true) = frames[2]
        else {
            Issue.record("not HEADERS, CONTINUATION, CONTINUATION: \(frames)")
            return
        }
        #expect([first.readableBytes, second.readableBytes, third.readableBytes] == [16_384, 16_384, 7_232])
        #expect(
            Array(first.readableBytesView) + Array(second.readableBytesView) + Array(third.readableBytesView) == block
        )
    }
}
