import NIOCore

/// Writes HTTP/2 frames straight into a `ByteBuffer` (RFC 9113 §4, §6): no frame objects, no
/// channel per stream. Everything appends, so one read's replies leave in one write.
public enum H2FrameEncoder {
    /// The 9-byte frame header (§4.1): 24-bit length, type, flags, 31-bit stream id.
    @inlinable
    public static func writeFrameHeader(
        length: Int,
        type: UInt8,
        flags: UInt8,
        stream: UInt32,
        into out: inout ByteBuffer
    ) {
        // Two writes, not five: each write checks the buffer's capacity and uniqueness.
        let stream = stream & H2.maxStreamID
        let first8 =
            UInt64(truncatingIfNeeded: length & 0xFF_FFFF) << 40 | UInt64(type) << 32 | UInt64(flags) << 24
            | UInt64(stream >> 8)
        out.writeInteger(first8)
        out.writeInteger(UInt8(truncatingIfNeeded: stream))
    }

    /// The client preface and our SETTINGS (§3.4), then a connection WINDOW_UPDATE that raises
    /// the connection's receive window from 65,535 to `settings.connectionWindow`.
    public static func writePreface(_ settings: H2LocalSettings, into out: inout ByteBuffer) {
        out.writeBytes(H2.preface)
        writeSettings(settings.wire, into: &out)
        let raise = settings.connectionWindow - H2.defaultWindow
        if raise > 0 { writeWindowUpdate(stream: 0, increment: UInt32(raise), into: &out) }
    }

    /// A SETTINGS frame with `settings` (§6.5).
    public static func writeSettings(_ settings: [H2Setting], into out: inout ByteBuffer) {
        writeFrameHeader(length: settings.count * 6, type: H2.FrameType.settings, flags: 0, stream: 0, into: &out)
        for s in settings {
            out.writeInteger(s.id)
            out.writeInteger(s.value)
        }
    }

    /// The acknowledgement of the peer's SETTINGS (§6.5.3).
    public static func writeSettingsAck(into out: inout ByteBuffer) {
        writeFrameHeader(length: 0, type: H2.FrameType.settings, flags: H2.Flags.ack, stream: 0, into: &out)
    }

    /// WINDOW_UPDATE for the connection (`stream` 0) or a stream (§6.9).
    public static func writeWindowUpdate(stream: UInt32, increment: UInt32, into out: inout ByteBuffer) {
        writeFrameHeader(length: 4, type: H2.FrameType.windowUpdate, flags: 0, stream: stream, into: &out)
        out.writeInteger(increment & 0x7FFF_FFFF)
    }

    /// A PING (§6.7); `ack` answers the peer's with the same opaque bytes.
    public static func writePing(opaque: UInt64, ack: Bool, into out: inout ByteBuffer) {
        writeFrameHeader(length: 8, type: H2.FrameType.ping, flags: ack ? H2.Flags.ack : 0, stream: 0, into: &out)
        out.writeInteger(opaque)
    }

    /// RST_STREAM (§6.4): we give up on a stream (a timeout: CANCEL; a malformed response).
    public static func writeRSTStream(stream: UInt32, code: H2ErrorCode, into out: inout ByteBuffer) {
        writeFrameHeader(length: 4, type: H2.FrameType.rstStream, flags: 0, stream: stream, into: &out)
        out.writeInteger(code.rawValue)
    }

    /// GOAWAY (§6.8). A client accepts no streams from the server, so `lastStreamID` is 0.
    public static func writeGoAway(
        lastStreamID: UInt32 = 0,
        code: H2ErrorCode,
        debug: String = "",
        into out: inout ByteBuffer
    ) {
        let debugBytes = Array(debug.utf8.prefix(256))
        writeFrameHeader(length: 8 + debugBytes.count, type: H2.FrameType.goAway, flags: 0, stream: 0, into: &out)
        out.writeInteger(lastStreamID & H2.maxStreamID)
        out.writeInteger(code.rawValue)
        out.writeBytes(debugBytes)
    }

    /// A header block as HEADERS (§6.2) and, when it exceeds `maxFrameSize`, CONTINUATION
    /// frames (§6.10). `prefix` bytes (a dynamic table size update) go before the block.
    /// Returns where the block's first byte was written, for patching it in place, or nil when
    /// the block was split across frames (patch a copy before writing then).
    @discardableResult
    public static func writeHeaders(
        stream: UInt32,
        block: UnsafeRawBufferPointer,
        prefix: [UInt8] = [],
        endStream: Bool,
        maxFrameSize: Int,
        into out: inout ByteBuffer
    ) -> Int? {
        let total = prefix.count + block.count
        let endStreamFlag = endStream ? H2.Flags.endStream : 0
        if total <= maxFrameSize {
            writeFrameHeader(
                length: total,
                type: H2.FrameType.headers,
                flags: H2.Flags.endHeaders | endStreamFlag,
                stream: stream,
                into: &out
            )
            out.writeBytes(prefix)
            let at = out.writerIndex
            out.writeBytes(block)
            return at
        }
        // Split: the prefix and block as one byte sequence cut into frames.
        var whole = prefix
        whole.append(contentsOf: block)
        var offset = 0
        while offset < total {
            let n = min(maxFrameSize, total - offset)
            let last = offset + n == total
            let type = offset == 0 ? H2.FrameType.headers : H2.FrameType.continuation
            let flags = (offset == 0 ? endStreamFlag : 0) | (last ? H2.Flags.endHeaders : 0)
            writeFrameHeader(length: n, type: type, flags: flags, stream: stream, into: &out)
            out.writeBytes(whole[offset..<offset + n])
            offset += n
        }
        return nil
    }

    /// One DATA frame (§6.1) carrying `payload` (the caller keeps it within the windows and the
    /// peer's maximum frame size).
    public static func writeData(stream: UInt32, payload: ByteBuffer, endStream: Bool, into out: inout ByteBuffer) {
        writeFrameHeader(
            length: payload.readableBytes,
            type: H2.FrameType.data,
            flags: endStream ? H2.Flags.endStream : 0,
            stream: stream,
            into: &out
        )
        var payload = payload
        out.writeBuffer(&payload)
    }
}
