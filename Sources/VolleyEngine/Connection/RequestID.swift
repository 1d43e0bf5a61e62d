/// The one packing of a request's id: the event loop in the top byte, the loop's sequence
/// number below it, written as 16 lowercase hex digits after the run's prefix
/// (`3f9a01c2-0100000000000007`).
///
/// Both engines stamp it in the `X-Request-ID` header and spell it out in the slowest
/// requests and the samples; one function keeps the id a server logged equal to the id
/// Volley reports, whichever engine sent it (there were five copies of this expression).
public enum RequestID {
    /// The 64-bit value of the id of `sequence` on loop `loop` (0–255).
    @inlinable
    public static func value(loop: Int, sequence: UInt64) -> UInt64 {
        UInt64(loop & 0xFF) << 56 | (sequence & 0x00FF_FFFF_FFFF_FFFF)
    }

    /// Writes `value` as 16 lowercase hex digits at `offset` of `bytes`: the one digit writer
    /// of the HTTP/1.1 template, the plan's request bytes and the HTTP/2 HPACK block.
    @inlinable
    public static func writeHex(_ value: UInt64, into bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        var value = value
        var i = offset + 15
        while i >= offset {
            bytes[i] = RequestEncoder.hexDigit(UInt8(truncatingIfNeeded: value & 0xF))
            value >>= 4
            i -= 1
        }
    }

    /// The id as sent: `prefix-` and the value's 16 hex digits.
    static func text(prefix: some Collection<UInt8>, loop: Int, sequence: UInt64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(prefix.count + 17)
        bytes.append(contentsOf: prefix)
        bytes.append(UInt8(ascii: "-"))
        bytes.append(contentsOf: RequestEncoder.hex(value(loop: loop, sequence: sequence), digits: 16))
        return String(decoding: bytes, as: UTF8.self)
    }
}
