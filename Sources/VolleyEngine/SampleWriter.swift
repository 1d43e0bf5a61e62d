import VolleyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The file `--out samples.ndjson` streams to, opened once per run.
public final class SampleFile: Sendable {
    let fd: Int32
    public let path: String

    /// Creates (or truncates) the file for appending.
    public init(path: String) throws(EngineError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw EngineError(
                errorClass: nil,
                message: "cannot write samples to \(path): \(String(cString: strerror(errno)))",
                hint: "check that the directory exists and is writable"
            )
        }
        self.fd = fd
        self.path = path
    }

    public func close() {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #elseif canImport(Musl)
        _ = Musl.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }
}

/// One JSON line per finished request, in constant memory: each event loop fills its own
/// 64 KiB buffer and appends it with one `write(2)`. The file is opened `O_APPEND`, so the
/// loops' chunks never overwrite each other and, since every chunk ends at a line break,
/// lines stay whole.
///
/// Fields: `t` (seconds from the start of the run, when the request finished), `name`
/// (plans), `status` or `error`, `latency_ms`, `service_ms` (open model), `request_id`,
/// `bytes_in`.
final class SampleWriter {
    private let file: SampleFile
    private var buffer: [UInt8] = []
    private static let flushAt = 64 * 1024

    init(file: SampleFile) {
        self.file = file
        buffer.reserveCapacity(Self.flushAt + 1024)
    }

    func record(
        atNanos: UInt64,
        name: String?,
        status: Int?,
        error: TransportErrorClass?,
        latencyNanos: UInt64?,
        serviceNanos: UInt64?,
        requestID: String?,
        bytesIn: Int
    ) {
        append("{\"t\":")
        appendFixed(atNanos / 1_000, decimals: 6)
        if let name {
            append(",\"name\":")
            appendQuoted(name)
        }
        if let status {
            append(",\"status\":")
            append(String(status))
        }
        if let error {
            append(",\"error\":\"")
            append(error.rawValue)
            append("\"")
        }
        if let latencyNanos {
            append(",\"latency_ms\":")
            appendFixed(latencyNanos / 1_000, decimals: 3)
        }
        if let serviceNanos {
            append(",\"service_ms\":")
            appendFixed(serviceNanos / 1_000, decimals: 3)
        }
        if let requestID {
            append(",\"request_id\":")
            appendQuoted(requestID)
        }
        append(",\"bytes_in\":")
        append(String(bytesIn))
        append("}\n")
        if buffer.count >= Self.flushAt { flush() }
    }

    func flush() {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { write(file.fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }  // disk full or closed: drop the rest rather than stall the loop
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func append(_ text: String) { buffer.append(contentsOf: text.utf8) }

    /// `value` in units of 10^-decimals of the printed unit: 1234567 µs, 6 → "1.234567".
    private func appendFixed(_ value: UInt64, decimals: Int) {
        var scale: UInt64 = 1
        for _ in 0..<decimals { scale *= 10 }
        append(String(value / scale))
        append(".")
        let fraction = String(value % scale)
        for _ in fraction.count..<decimals { buffer.append(UInt8(ascii: "0")) }
        append(fraction)
    }

    private func appendQuoted(_ text: String) {
        buffer.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0..<0x20:
                append("\\u00")
                let hex = Array("0123456789abcdef".utf8)
                buffer.append(hex[Int(byte >> 4)])
                buffer.append(hex[Int(byte & 0xF)])
            default: buffer.append(byte)
            }
        }
        buffer.append(UInt8(ascii: "\""))
    }
}
