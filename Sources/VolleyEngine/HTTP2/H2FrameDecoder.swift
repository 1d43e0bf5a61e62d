import NIOCore

/// Cuts the bytes a connection reads into HTTP/2 frames (RFC 9113 §4.1), as they come: a
/// frame split across reads waits for its rest, several frames in one read come out one by
/// one. The connection walks them in place (``frames(in:_:)``): payloads point into the read
/// buffers, copied only when a frame spans reads.
///
/// Structural errors are connection errors (§5.4.1): a frame longer than our
/// SETTINGS_MAX_FRAME_SIZE or a fixed-size frame of the wrong size is FRAME_SIZE_ERROR
/// (§4.2), padding longer than the payload PROTOCOL_ERROR (§6.1).
public struct H2FrameDecoder: Sendable {
    /// Our SETTINGS_MAX_FRAME_SIZE: the longest payload the peer may send.
    public var maxFrameSize: Int
    private var pending: ByteBuffer?

    /// A decoder accepting frames up to `maxFrameSize` (our SETTINGS_MAX_FRAME_SIZE).
    public init(maxFrameSize: Int = H2.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    /// Bytes read and not yet returned as frames.
    public var bufferedBytes: Int { pending?.readableBytes ?? 0 }

    /// Adds bytes read from the connection. The first buffer is kept as is (no copy); only
    /// the rest of a frame split across reads is copied behind what is left.
    public mutating func append(_ bytes: ByteBuffer) {
        if var p = pending, p.readableBytes > 0 {
            pending = nil  // unique again, so the write below does not copy what is there
            var bytes = bytes
            p.writeBuffer(&bytes)
            pending = p
        } else {
            pending = bytes
        }
    }

    /// The next whole frame, or nil until more bytes arrive. Its payload is a copy (tests and
    /// tools read frames this way; the connection walks them in place, ``frames(in:_:)``).
    public mutating func nextFrame() throws(H2ConnectionError) -> H2Frame? {
        guard var buffer = pending else { return nil }
        pending = nil
        defer { pending = buffer.readableBytes > 0 ? buffer : nil }
        var frame: H2Frame?
        let used = try walk(buffer, limit: 1) { (f: H2RawFrame) throws(H2ConnectionError) in
            frame = f.map { ByteBuffer(bytes: $0) }
        }
        buffer.moveReaderIndex(forwardBy: used)
        return frame
    }

    /// Hands every whole frame read so far, `bytes` included, to `body` in order, with
    /// payloads pointing into the read buffer: no slice and no reference count per frame.
    /// Only a frame split across reads is copied (behind what was left of the read before).
    mutating func frames(
        in bytes: ByteBuffer,
        _ body: (H2RawFrame) throws(H2ConnectionError) -> Void
    ) throws(H2ConnectionError) {
        if pending == nil {
            let used = try walk(bytes, body)
            if used < bytes.readableBytes {
                pending = bytes.getSlice(at: bytes.readerIndex + used, length: bytes.readableBytes - used)
            }
            return
        }
        append(bytes)
        var buffer = pending!
        pending = nil
        let used = try walk(buffer, body)
        buffer.moveReaderIndex(forwardBy: used)
        pending = buffer.readableBytes > 0 ? buffer : nil
    }

    /// The walk below, over `buffer`'s readable bytes.
    private func walk(
        _ buffer: ByteBuffer,
        limit: Int = .max,
        _ body: (H2RawFrame) throws(H2ConnectionError) -> Void
    ) throws(H2ConnectionError) -> Int {
        try buffer.withUnsafeReadableBytes { (raw: UnsafeRawBufferPointer) throws(H2ConnectionError) in
            try walk(raw, limit: limit, body)
        }
    }

    /// Cuts whole frames off the front of `raw` (at most `limit`) and returns the bytes used.
    private func walk(
        _ raw: UnsafeRawBufferPointer,
        limit: Int = .max,
        _ body: (H2RawFrame) throws(H2ConnectionError) -> Void
    ) throws(H2ConnectionError) -> Int {
        var at = 0
        var count = 0
        while count < limit, raw.count - at >= H2.frameHeaderLength {
            // The 9-byte header as one 64-bit read and one byte: length, type, flags, stream.
            let first8 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            let length = Int(truncatingIfNeeded: first8 >> 40)
            let type = UInt8(truncatingIfNeeded: first8 >> 32)
            if length > maxFrameSize {
                throw H2ConnectionError(
                    .frameSizeError,
                    "a frame of type \(type) with \(length) bytes, above our maximum of \(maxFrameSize)"
                )
            }
            guard raw.count - at - H2.frameHeaderLength >= length else { break }
            let flags = UInt8(truncatingIfNeeded: first8 >> 24)
            let stream = (UInt32(truncatingIfNeeded: first8 & 0xFF_FFFF) << 8 | UInt32(raw[at + 8])) & H2.maxStreamID
            let payloadStart = at + H2.frameHeaderLength
            at = payloadStart + length
            count += 1
            try body(
                Self.frame(
                    type: type,
                    flags: flags,
                    stream: stream,
                    payload: UnsafeRawBufferPointer(rebasing: raw[payloadStart..<at])
                )
            )
        }
        return at
    }

    static func frame(
        type: UInt8,
        flags: UInt8,
        stream: UInt32,
        payload: UnsafeRawBufferPointer
    ) throws(H2ConnectionError) -> H2RawFrame {
        var payload = payload
        let length = payload.count
        switch type {
        case H2.FrameType.data, H2.FrameType.headers, H2.FrameType.priority, H2.FrameType.rstStream,
            H2.FrameType.pushPromise, H2.FrameType.continuation:
            if stream == 0 { throw H2ConnectionError(.protocolError, "a frame of type \(type) on stream 0") }
        case H2.FrameType.settings, H2.FrameType.ping, H2.FrameType.goAway:
            if stream != 0 { throw H2ConnectionError(.protocolError, "a frame of type \(type) on stream \(stream)") }
        default:
            break
        }
        switch type {
        case H2.FrameType.data:
            try unpad(&payload, flags: flags, type: "DATA")
            return .data(
                stream: stream,
                payload: payload,
                endStream: flags & H2.Flags.endStream != 0,
                flowLength: length
            )
        case H2.FrameType.headers:
            try unpad(&payload, flags: flags, type: "HEADERS")
            if flags & H2.Flags.priority != 0 {
                guard payload.count >= 5 else {
                    throw H2ConnectionError(.frameSizeError, "a HEADERS frame too short for its priority fields")
                }
                payload = UnsafeRawBufferPointer(rebasing: payload[5...])
            }
            return .headers(
                stream: stream,
                block: payload,
                endStream: flags & H2.Flags.endStream != 0,
                endHeaders: flags & H2.Flags.endHeaders != 0
            )
        case H2.FrameType.priority:
            try expect(length, 5, "PRIORITY")
            return .priority(stream: stream)
        case H2.FrameType.rstStream:
            try expect(length, 4, "RST_STREAM")
            return .rstStream(stream: stream, code: H2ErrorCode(rawValue: u32(payload, 0)))
        case H2.FrameType.settings:
            let ack = flags & H2.Flags.ack != 0
            if ack && length != 0 {
                throw H2ConnectionError(.frameSizeError, "a SETTINGS acknowledgement with a payload of \(length) bytes")
            }
            guard length % 6 == 0 else {
                throw H2ConnectionError(.frameSizeError, "a SETTINGS frame of \(length) bytes, not a multiple of 6")
            }
            var settings: [H2Setting] = []
            settings.reserveCapacity(length / 6)
            for at in stride(from: 0, to: length, by: 6) {
                let id = UInt16(bigEndian: payload.loadUnaligned(fromByteOffset: at, as: UInt16.self))
                settings.append(H2Setting(id, u32(payload, at + 2)))
            }
            return .settings(ack: ack, settings)
        case H2.FrameType.pushPromise:
            try unpad(&payload, flags: flags, type: "PUSH_PROMISE")
            guard payload.count >= 4 else {
                throw H2ConnectionError(.frameSizeError, "a PUSH_PROMISE frame too short for its stream id")
            }
            return .pushPromise(stream: stream, promised: u32(payload, 0) & H2.maxStreamID)
        case H2.FrameType.ping:
            try expect(length, 8, "PING")
            return .ping(
                ack: flags & H2.Flags.ack != 0,
                opaque: UInt64(bigEndian: payload.loadUnaligned(as: UInt64.self))
            )
        case H2.FrameType.goAway:
            guard length >= 8 else {
                throw H2ConnectionError(.frameSizeError, "a GOAWAY frame of \(length) bytes, less than 8")
            }
            return .goAway(
                lastStreamID: u32(payload, 0) & H2.maxStreamID,
                code: H2ErrorCode(rawValue: u32(payload, 4)),
                debug: UnsafeRawBufferPointer(rebasing: payload[8...])
            )
        case H2.FrameType.windowUpdate:
            try expect(length, 4, "WINDOW_UPDATE")
            return .windowUpdate(stream: stream, increment: u32(payload, 0) & 0x7FFF_FFFF)
        case H2.FrameType.continuation:
            return .continuation(stream: stream, block: payload, endHeaders: flags & H2.Flags.endHeaders != 0)
        default:
            return .unknown(type: type, stream: stream)
        }
    }

    @inline(__always)
    private static func u32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }

    private static func expect(_ length: Int, _ wanted: Int, _ type: String) throws(H2ConnectionError) {
        guard length == wanted else {
            throw H2ConnectionError(.frameSizeError, "a \(type) frame of \(length) bytes, not \(wanted)")
        }
    }

    /// Removes the Pad Length byte and the padding (§6.1): padding as long as the payload or
    /// longer is a PROTOCOL_ERROR.
    private static func unpad(
        _ payload: inout UnsafeRawBufferPointer,
        flags: UInt8,
        type: String
    ) throws(H2ConnectionError) {
        guard flags & H2.Flags.padded != 0 else { return }
        guard let padLength = payload.first, Int(padLength) <= payload.count - 1 else {
            throw H2ConnectionError(.protocolError, "a padded \(type) frame whose padding exceeds its payload")
        }
        payload = UnsafeRawBufferPointer(rebasing: payload[1..<(payload.count - Int(padLength))])
    }
}
