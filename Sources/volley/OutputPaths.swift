import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Output files are checked before the first request is sent: a missing folder found after
/// a ten-minute load costs the report, and the load cannot be taken back.
enum OutputPath {
    /// Throws a usage error (exit 2) when `path` cannot be written: its folder is missing or
    /// not writable, or the path is a folder. Nothing is created.
    static func check(_ path: String, flag: String) throws {
        guard !path.isEmpty else {
            throw CLIError(message: "\(flag) needs a file name", hint: "e.g. \(flag) report.html", code: .usage)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue {
                throw CLIError(
                    message: "\(flag) \(path) is a folder, not a file",
                    hint: "give a file name, e.g. \(flag) \((path as NSString).appendingPathComponent("report.html"))",
                    code: .usage
                )
            }
            guard access(path, W_OK) == 0 else {
                throw CLIError(
                    message: "\(flag) \(path) cannot be written: \(String(cString: strerror(errno)))",
                    hint: "choose another path, or change the file's permissions",
                    code: .usage
                )
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        let folder = parent.isEmpty ? "." : parent
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError(
                message: "\(flag) \(path): the folder \(folder) does not exist",
                hint: "create it first (mkdir -p \(folder)), or choose another path; nothing was sent",
                code: .usage
            )
        }
        guard access(folder, W_OK) == 0 else {
            throw CLIError(
                message: "\(flag) \(path): the folder \(folder) cannot be written: \(String(cString: strerror(errno)))",
                hint: "choose another path; nothing was sent",
                code: .usage
            )
        }
    }
}

extension RunCommand {
    /// Every file this run writes at its end, checked before any load (`--out` is opened
    /// before the load already: a bad path fails there).
    func checkOutputPaths() throws {
        if let html { try OutputPath.check(html, flag: "--html") }
        if let bundle { try OutputPath.check(bundle, flag: "--bundle") }
    }
}
