import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The CLI's only contact with the terminal: writes, TTY and colour detection, file limits.
enum Terminal {
    static func writeError(_ s: String) {
        emit(s, to: STDERR_FILENO)
    }

    static func writeOut(_ s: String) {
        emit(s, to: STDOUT_FILENO)
    }

    private static func emit(_ s: String, to fd: Int32) {
        var bytes = Array(s.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buf in
                write(fd, buf.baseAddress! + offset, buf.count - offset)
            }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return
            }
            offset += n
        }
        bytes.removeAll()
    }

    static func isTTY(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// Colour only on a terminal, and never when NO_COLOR is set (no-color.org) or TERM=dumb.
    static func colorEnabled(fd: Int32) -> Bool {
        guard isTTY(fd) else { return false }
        if let v = getenv("NO_COLOR"), v.pointee != 0 { return false }
        if let t = getenv("TERM"), String(cString: t) == "dumb" { return false }
        return true
    }

    /// Raises the soft open-files limit to the hard limit: 10,000 connections need 10,000
    /// descriptors and the usual soft default is 1,024.
    static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}

/// Delivers Ctrl-C to the run: the first press stops gracefully (summary still printed),
/// the second exits at once with 130.
///
/// The signal is ignored at the process level and observed through a Dispatch signal
/// source, as swift-service-lifecycle does: the handler then runs on a queue, not in signal
/// context, so it may take locks and hop to event loops.
final class InterruptWatcher: Sendable {
    private let presses = Atomic<Int>(0)
    // Dispatch sources are thread-safe objects (their API may be called from any thread);
    // they are just not annotated Sendable.
    nonisolated(unsafe) private let source: any DispatchSourceSignal
    private let handler: @Sendable () -> Void
    private let message: String

    init(
        message: String = "stopping (in-flight requests get a short grace; Ctrl-C again to quit now)",
        onInterrupt handler: @escaping @Sendable () -> Void
    ) {
        self.handler = handler
        self.message = message
        self.source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    }

    func start() {
        signal(SIGINT, SIG_IGN)
        let s = source
        s.setEventHandler { [self] in
            let n = presses.add(1, ordering: .relaxed).newValue
            if n == 1 {
                Terminal.writeError("\nvolley: \(message)\n")
                handler()
            } else {
                exit(VolleyExit.interrupted.rawValue)
            }
        }
        s.resume()
    }

    func stop() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }

    var interrupted: Bool { presses.load(ordering: .relaxed) > 0 }
}
