import NIOCore

/// Cuts the bytes a connection reads into HTTP/2 frames (RFC 9113 §4.1), as they come: a
/// frame split across reads waits for its rest, several frames in one read come out one by
/// one. Payloads are slices of the read buffers (no copy) unless a frame spans reads.
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

    /// The next whole frame, or nil until more bytes arrive.
    public mutating func nextFrame() throws(H2ConnectionError) -> H2Frame? {
        guard var buffer = pending, buffer.readableBytes >= H2.frameHeaderLength else { return nil }
        let start = buffer.readerIndex
        // The 9-byte header as one 64-bit read and one byte: length, type, flags, stream.
        let first8 = buffer.getInteger(at: start, as: UInt64.self)!
        let length = Int(truncatingIfNeeded: first8 >> 40)
        let type = UInt8(truncatingIfNeeded: first8 >> 32)
        if length > maxFrameSize {
            throw H2ConnectionError(
                .frameSizeError,
                "a frame of type \(type) with \(length) bytes, above our maximum of \(maxFrameSize)"
            )
        }
        guard buffer.readableBytes >= H2.frameHeaderLength + length else { return nil }
        let flags = UInt8(truncatingIfNeeded: first8 >> 24)
        let stream =
            (UInt32(truncatingIfNeeded: first8 & 0xFF_FFFF) << 8
                | UInt32(buffer.getInteger(at: start + 8, as: UInt8.self)!))
            & H2.maxStreamID
        buffer.moveReaderIndex(forwardBy: H2.frameHeaderLength)
        let payload = buffer.readSlice(length: length)!
        pending = buffer.readableBytes > 0 ? buffer : nil
        return try Self.frame(type: type, flags: flags, stream: stream, payload: payload)
    }

    static func frame(
        type: UInt8,
        flags: UInt8,
        stream: UInt32,
        payload: ByteBuffer
    ) throws(H2ConnectionError) -> H2Frame {
        var payload = payload
        let length = payload.readableBytes
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
                guard payload.readableBytes >= 5 else {
                    throw H2ConnectionError(.frameSizeError, "a HEADERS frame too short for its priority fields")
                }
                payload.moveReaderIndex(forwardBy: 5)
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
            return .rstStream(stream: stream, code: H2ErrorCode(rawValue: payload.readInteger()!))
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
            while let id = payload.readInteger(as: UInt16.self), let value = payload.readInteger(as: UInt32.self) {
                settings.append(H2Setting(id, value))
            }
            return .settings(ack: ack, settings)
        case H2.FrameType.pushPromise:
            try unpad(&payload, flags: flags, type: "PUSH_PROMISE")
            guard let promised = payload.readInteger(as: UInt32.self) else {
                throw H2ConnectionError(.frameSizeError, "a PUSH_PROMISE frame too short for its stream id")
            }
            return .pushPromise(stream: stream, promised: promised & H2.maxStreamID)
        case H2.FrameType.ping:
            try expect(length, 8, "PING")
            return .ping(ack: flags & H2.Flags.ack != 0, opaque: payload.readInteger()!)
        case H2.FrameType.goAway:
            guard length >= 8 else {
                throw H2ConnectionError(.frameSizeError, "a GOAWAY frame of \(length) bytes, less than 8")
            }
            let last = payload.readInteger(as: UInt32.self)! & H2.maxStreamID
            let code = H2ErrorCode(rawValue: payload.readInteger()!)
            return .goAway(lastStreamID: last, code: code, debug: payload)
        case H2.FrameType.windowUpdate:
            try expect(length, 4, "WINDOW_UPDATE")
            return .windowUpdate(stream: stream, increment: payload.readInteger(as: UInt32.self)! & 0x7FFF_FFFF)
        case H2.FrameType.continuation:
            return .continuation(stream: stream, block: payload, endHeaders: flags & H2.Flags.endHeaders != 0)
        default:
            return .unknown(type: type, stream: stream)
        }
    }

    private static func expect(_ length: Int, _ wanted: Int, _ type: String) throws(H2ConnectionError) {
        guard length == wanted else {
            throw H2ConnectionError(.frameSizeError, "a \(type) frame of \(length) bytes, not \(wanted)")
        }
    }

    /// Removes the Pad Length byte and the padding (§6.1): padding as long as the payload or
    /// longer is a PROTOCOL_ERROR.
    private static func unpad(_ payload: inout ByteBuffer, flags: UInt8, type: String) throws(H2ConnectionError) {
        guard flags & H2.Flags.padded != 0 else { return }
        guard let padLength = payload.readInteger(as: UInt8.self), Int(padLength) <= payload.readableBytes else {
            throw H2ConnectionError(.protocolError, "a padded \(type) frame whose padding exceeds its payload")
        }
        payload.moveWriterIndex(to: payload.writerIndex - Int(padLength))
    }
}
