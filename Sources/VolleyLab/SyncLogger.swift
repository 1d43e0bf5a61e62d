import Foundation
import Synchronization

/// Synchronous logging on the request path, the way a Python `logging.StreamHandler` does it:
/// every line takes the handler's lock, writes, and only then lets the request continue.
/// With a slow sink (`latencyPerLine`), lines from concurrent requests queue behind that one
/// lock, so latency grows with lines × latency and throughput is capped at
/// 1 / (lines × latency) — the signature in the field report.
final class SyncLogger: Sendable {
    let latencyPerLine: Duration
    private let lock = AsyncGate(permits: 1)
    private let sink: FileHandle?
    private let counters = Mutex((lines: 0, nanoseconds: Int64(0)))

    // Non-throwing on purpose: a throwing initializer of a class with a `Mutex` property
    // crashes the Swift 6.3 optimizer ("Found ownership error"); `open` does the failing part.
    private init(latencyPerLine: Duration, sink: FileHandle?) {
        self.latencyPerLine = latencyPerLine
        self.sink = sink
    }

    /// A logger writing to `path` (appending), or discarding lines when `path` is nil.
    static func open(latencyPerLine: Duration, path: String?) throws -> SyncLogger {
        guard let path else { return SyncLogger(latencyPerLine: latencyPerLine, sink: nil) }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw LabConfigurationError(
                    "cannot create the log file \(path)",
                    hint: "check that its directory exists and is writable"
                )
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw LabConfigurationError("cannot open the log file \(path) for writing")
        }
        handle.seekToEndOfFile()
        return SyncLogger(latencyPerLine: latencyPerLine, sink: handle)
    }

    /// Lines written and the time requests spent writing them (waiting for the lock included).
    var statistics: (lines: Int, seconds: Double) {
        counters.withLock { ($0.lines, Double($0.nanoseconds) / 1e9) }
    }

    /// Writes one structured line; returns when it is written, as a blocking handler would.
    /// With no file and no latency a line would be formatted only to be dropped: then it is
    /// only counted, and `fields` is never evaluated.
    func log(_ fields: @autoclosure () -> KeyValuePairs<String, String>, requestID: String) async {
        if sink == nil && latencyPerLine == .zero {
            counters.withLock { $0.lines += 1 }
            return
        }
        let started = ContinuousClock.now
        var line = "{\"ts\":\"\(Self.timestamp())\",\"request_id\":\(Self.quote(requestID))"
        for (key, value) in fields() { line += ",\(Self.quote(key)):\(Self.quote(value))" }
        line += "}\n"
        do {
            try await lock.acquire()
        } catch {
            return  // cancelled: the request is gone
        }
        if latencyPerLine > .zero { try? await Task.sleep(for: latencyPerLine) }
        sink?.write(Data(line.utf8))
        lock.release()
        let spent = (ContinuousClock.now - started).labNanoseconds
        counters.withLock {
            $0.lines += 1
            $0.nanoseconds += spent
        }
    }

    func close() { try? sink?.close() }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }

    /// JSON string literal for ASCII-safe log fields (control characters escaped).
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
