#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Request bodies read from a file (`--body-file`, a plan's `body_file:`), within a stated
/// limit.
///
/// The body is read once, before the load, and kept in memory (each event loop encodes it
/// into its request template), so it is not streamed from the file. Reading without a limit
/// made `--body-file /dev/zero` abort the process trying to allocate 4 GB, and a folder was
/// sent as an empty body.
public enum BodyFile {
    /// 64 MiB: far beyond a request body services accept by default (nginx 1 MiB, most
    /// frameworks a few MiB), and small enough to hold once per event loop.
    public static let limit = 64 * 1024 * 1024

    /// Why a body file cannot be used: a message naming the problem and a hint.
    public struct Problem: Error, Equatable, Sendable {
        public var message: String
        public var hint: String
    }

    /// The limit as people write it.
    public static var limitText: String { "\(limit / (1024 * 1024)) MiB" }

    /// The problem with `path` that can be seen without reading it: missing, unreadable, a
    /// folder, or a regular file over the limit. With `regularOnly` (plans, whose bodies are
    /// read at validation and again at the run), a device or a pipe is a problem too.
    public static func check(_ path: String, regularOnly: Bool) -> Problem? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return Problem(message: "cannot be read: \(String(cString: strerror(errno)))", hint: "check the path")
        }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR {
            return Problem(message: "is a folder, not a file", hint: "name the file to send, inside it")
        }
        if kind == S_IFREG {
            if Int(info.st_size) > limit { return tooLarge(size: Int(info.st_size)) }
            guard access(path, R_OK) == 0 else {
                return Problem(
                    message: "cannot be read: \(String(cString: strerror(errno)))",
                    hint: "check its permissions"
                )
            }
            return nil
        }
        if regularOnly {
            return Problem(
                message: "is not a regular file (a device, pipe or socket)",
                hint: "a plan's body_file is read before the run; write the body to a file (at most \(limitText))"
            )
        }
        return nil
    }

    /// The whole file, or the problem. A regular file is checked by its size first; anything
    /// else (a pipe, `/dev/stdin`, a device) is read up to one byte past the limit.
    public static func load(_ path: String) throws(Problem) -> [UInt8] {
        if let problem = check(path, regularOnly: false) { throw problem }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw Problem(message: "cannot be read: \(String(cString: strerror(errno)))", hint: "check the path")
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Problem(message: "cannot be read: \(String(cString: strerror(errno)))", hint: "check the path")
            }
            if n == 0 { return out }
            if out.count + n > limit { throw tooLarge(size: nil) }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    private static func tooLarge(size: Int?) -> Problem {
        let shown = size.map { " (\(($0 + 1024 * 1024 - 1) / (1024 * 1024)) MiB)" } ?? ""
        return Problem(
            message: "is larger than the \(limitText) limit for a request body\(shown)",
            hint: "bodies are held in memory; send a smaller file"
        )
    }
}
