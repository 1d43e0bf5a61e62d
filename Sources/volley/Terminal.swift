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
