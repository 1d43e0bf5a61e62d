import NIOCore
import VolleyCore

/// Turns a `RequestSpec` into wire bytes once, so sending a request costs a buffer copy and
/// the writing of a fixed-width correlation id, never string building.
///
/// The request is split around the id: `head` ends with `X-Request-ID: `, `tail` starts
/// with the line end. Without a correlation header the whole request is one immutable
/// buffer that every send shares.
public struct RequestEncoder: Sendable {
    /// Bytes before the id (or the whole head when there is no id header).
    public let head: [UInt8]
    /// Bytes after the id, including a small body.
    public let tail: [UInt8]
    /// A body too large to copy per request, shared by reference.
    public let largeBody: ByteBuffer?
    public let hasRequestID: Bool
    public let isHEAD: Bool
    /// Safe to send twice (``RetryPolicy/isReplayable(method:headerNames:)``).
    public let isReplayable: Bool
    /// The run's random id prefix (8 hex digits), so ids differ between runs.
    public let runPrefix: [UInt8]

    /// Bodies up to this size are copied with the head into one write.
    public static let inlineBodyLimit = 16 * 1024
    /// The id is `PPPPPPPP-LLSSSSSSSSSSSSSS`: run prefix, loop, sequence, all hex.
    public static let idLength = 25

    public init(spec: RequestSpec, runPrefix: UInt32) {
        var head = "\(spec.method) \(spec.url.pathAndQuery) HTTP/1.1\r\n"
        let names = Set(spec.headers.map { $0.name.lowercased() })
        if !names.contains("host") { head += "Host: \(spec.url.hostHeader)\r\n" }
        for h in DefaultHeaders.run.missing(from: names.contains) { head += "\(h.name): \(h.value)\r\n" }
        for h in spec.headers { head += "\(h.name): \(h.value)\r\n" }
        let body = spec.body ?? []
        let method = spec.method.uppercased()
        if !names.contains("content-length")
            && (spec.body != nil || method == "POST" || method == "PUT" || method == "PATCH")
        {
            head += "Content-Length: \(body.count)\r\n"
        }
        if !spec.keepAlive && !names.contains("connection") { head += "Connection: close\r\n" }
        var tail: [UInt8]
        if let idHeader = spec.requestIDHeader {
            head += "\(idHeader): "
            tail = Array("\r\n\r\n".utf8)
            hasRequestID = true
        } else {
            head += "\r\n"
            tail = []
            hasRequestID = false
        }
        if body.count <= Self.inlineBodyLimit {
            tail += body
            largeBody = nil
        } else {
            largeBody = ByteBuffer(bytes: body)
        }
        self.head = Array(head.utf8)
        self.tail = tail
        self.isHEAD = method == "HEAD"
        self.isReplayable = RetryPolicy.isReplayable(method: method, headerNames: spec.headers.map(\.name))
        self.runPrefix = Self.hex(UInt64(runPrefix), digits: 8)
    }

    /// Writes one request into `buffer` (cleared first) with the id for `sequence`.
    @inlinable
    public func encode(into buffer: inout ByteBuffer, loop: Int, sequence: UInt64) {
        buffer.clear()
        buffer.writeBytes(head)
        if hasRequestID {
            buffer.writeBytes(runPrefix)
            buffer.writeInteger(UInt8(ascii: "-"))
            Self.writeHex(RequestID.value(loop: loop, sequence: sequence), into: &buffer)
        }
        buffer.writeBytes(tail)
    }

    /// A complete request for this loop, to be re-stamped in place by `stamp` for each send.
    public func makeTemplate(loop: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer, loop: loop, sequence: 0)
        return buffer
    }

    /// Where the 16 varying hex digits of the id sit inside a template.
    public var sequenceOffset: Int { head.count + runPrefix.count + 1 }

    /// Overwrites the id digits of a template made by `makeTemplate` for the same loop.
    ///
    /// The hot path: while the previous write has completed (the normal case, since a
    /// response never precedes its request's write) the buffer is uniquely owned and this
    /// touches 16 bytes; otherwise ByteBuffer copies it first, which is still correct.
    @inlinable
    public func stamp(_ buffer: inout ByteBuffer, loop: Int, sequence: UInt64) {
        guard hasRequestID else { return }
        Self.stamp(&buffer, at: sequenceOffset, loop: loop, sequence: sequence)
    }

    /// `stamp` without the encoder: connections keep just the offset, so the hot path does
    /// not copy (and retain) the encoder's arrays for every request.
    @inlinable
    public static func stamp(_ buffer: inout ByteBuffer, at sequenceOffset: Int, loop: Int, sequence: UInt64) {
        let value = RequestID.value(loop: loop, sequence: sequence)
        let offset = buffer.readerIndex + sequenceOffset
        buffer.withUnsafeMutableReadableBytes { RequestID.writeHex(value, into: $0, at: offset) }
    }

    /// The ASCII hex digit for `v` (0–15): lowercase for request ids, uppercase for
    /// percent-encoding (RFC 3986 §2.1). Arithmetic, so the hot path reads no table.
    @inlinable
    static func hexDigit(_ v: UInt8, uppercase: Bool = false) -> UInt8 {
        v < 10 ? 0x30 &+ v : (uppercase ? 0x37 : 0x57) &+ v
    }

    /// The id string for `sequence` on `loop`, identical to the bytes `encode` writes.
    public func requestID(loop: Int, sequence: UInt64) -> String {
        RequestID.text(prefix: runPrefix, loop: loop, sequence: sequence)
    }

    @inlinable
    static func writeHex(_ value: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16) { out in
            var v = value
            var i = 15
            while i >= 0 {
                out[i] = hexDigit(UInt8(truncatingIfNeeded: v & 0xF))
                v >>= 4
                i -= 1
            }
            return 16
        }
    }

    public static func hex(_ value: UInt64, digits: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: digits)
        var v = value
        for i in stride(from: digits - 1, through: 0, by: -1) {
            out[i] = hexDigit(UInt8(truncatingIfNeeded: v & 0xF))
            v >>= 4
        }
        return out
    }
}
