import Foundation

/// Pure readers of cgroup v2 files and of the /proc files that locate a process's cgroup,
/// so that each format is tested on fixtures.
public enum CgroupText {
    /// `key value` lines, as in cpu.stat, memory.stat and pids.events.
    public static func keyValues(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { out[String(parts[0])] = value }
        }
        return out
    }

    /// cpu.max (`QUOTA PERIOD`, in µs) as cores: `50000 100000` is half a core; `max …` is no
    /// limit, `nil`.
    public static func cpuLimitCores(_ text: String) -> Double? {
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]), period > 0 else {
            return nil
        }
        return quota / period
    }

    /// A single-number file (memory.current, memory.max, pids.current); `max` is no limit, `nil`.
    public static func number(_ text: String) -> Double? {
        Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// io.stat summed over devices: bytes read and written since the cgroup was created.
    public static func ioBytes(_ text: String) -> (read: Double, written: Double)? {
        var read = 0.0
        var written = 0.0
        var any = false
        for line in text.split(separator: "\n") {
            for field in line.split(separator: " ").dropFirst() {
                if field.hasPrefix("rbytes="), let n = Double(field.dropFirst(7)) {
                    read += n
                    any = true
                } else if field.hasPrefix("wbytes="), let n = Double(field.dropFirst(7)) {
                    written += n
                    any = true
                }
            }
        }
        return any ? (read, written) : nil
    }

    /// The cgroup v2 path in /proc/PID/cgroup: the `0::/path` line (on a hybrid machine the
    /// v1 controllers have lines of their own, which are skipped).
    public static func unifiedPath(procCgroup: String) -> String? {
        for line in procCgroup.split(separator: "\n") where line.hasPrefix("0::") {
            return String(line.dropFirst(3))
        }
        return nil
    }

    /// Where cgroup v2 is mounted, and the cgroup path its root stands for, from
    /// /proc/self/mountinfo: `/sys/fs/cgroup` on most machines, `/sys/fs/cgroup/unified` on
    /// hybrid ones.
    public static func cgroup2Mount(mountinfo: String) -> (mountPoint: String, root: String)? {
        for line in mountinfo.split(separator: "\n") {
            guard let dash = line.range(of: " - ") else { continue }
            let after = line[dash.upperBound...].split(separator: " ")
            guard after.first == "cgroup2" else { continue }
            let before = line[..<dash.lowerBound].split(separator: " ")
            guard before.count >= 5 else { continue }
            return (unescape(before[4]), unescape(before[3]))
        }
        return nil
    }

    /// The directory of the cgroup a process is in, from its /proc/PID/cgroup and mountinfo.
    public static func directory(procCgroup: String, mountinfo: String) -> String? {
        guard let path = unifiedPath(procCgroup: procCgroup), let mount = cgroup2Mount(mountinfo: mountinfo) else {
            return nil
        }
        var relative = path
        if mount.root != "/" && relative.hasPrefix(mount.root) {
            relative = String(relative.dropFirst(mount.root.count))
        }
        if relative == "/" || relative.isEmpty { return mount.mountPoint }
        return mount.mountPoint + (relative.hasPrefix("/") ? relative : "/" + relative)
    }

    /// mountinfo writes spaces and a few other bytes as octal escapes (`\040`).
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count,
                let code = UInt8(String(decoding: utf8[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(code)
                i += 4
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Reads a cgroup v2 (a container, a systemd service) once a second: CPU used against its
/// limit, throttling, memory against its limit, tasks and disk I/O, so that a run shows
/// whether the server was held back by its container rather than by its code.
///
/// Files the cgroup does not have (controllers not enabled, the root cgroup) are skipped.
public actor CgroupProbe: ProbeSource {
    public nonisolated let kind = "cgroup"
    public nonisolated let displayName: String
    /// The cgroup directory, or why it could not be found (`cgroup:self` on a machine
    /// without cgroup v2).
    private let resolved: Result<String, ProbeError>
    private var rates = RateTracker()

    /// `spec` is what follows `cgroup:`: a directory under the cgroup v2 mount, or `self` for
    /// the cgroup of this process.
    public init(_ spec: String) {
        if spec == "self" {
            let procCgroup = ProcFS.text("/proc/self/cgroup") ?? ""
            let mountinfo = ProcFS.text("/proc/self/mountinfo") ?? ""
            if let directory = CgroupText.directory(procCgroup: procCgroup, mountinfo: mountinfo) {
                resolved = .success(directory)
                displayName = "cgroup:self (\(directory))"
            } else {
                resolved = .failure(
                    ProbeError(
                        "cgroup:self: this process is in no cgroup v2 (no 0:: line in /proc/self/cgroup or no "
                            + "cgroup2 mount); the cgroup probe reads cgroup v2 only"
                    )
                )
                displayName = "cgroup:self"
            }
        } else {
            let directory = spec.count > 1 && spec.hasSuffix("/") ? String(spec.dropLast()) : spec
            resolved = .success(directory)
            displayName = "cgroup:\(directory)"
        }
    }

    public func check() async throws {
        let directory = try resolved.get()
        guard ProcFS.isDirectory(directory) else {
            throw ProbeError("\(displayName): no such directory")
        }
        guard ProcFS.exists(directory + "/cgroup.controllers") else {
            var hint = "; the cgroup probe reads cgroup v2 only"
            if let mount = CgroupText.cgroup2Mount(mountinfo: ProcFS.text("/proc/self/mountinfo") ?? "") {
                hint += " (mounted at \(mount.mountPoint) here)"
            } else {
                hint += " (this machine mounts none)"
            }
            throw ProbeError("\(displayName) is not a cgroup v2 directory (it has no cgroup.controllers)\(hint)")
        }
    }

    public func sample(at t: Double) async throws -> [String: Double] {
        let directory = try resolved.get()
        guard ProcFS.exists(directory + "/cgroup.controllers") else {
            throw ProbeError("\(displayName) is gone (the cgroup was removed)")
        }
        func file(_ name: String) -> String? { ProcFS.text(directory + "/" + name) }
        var out: [String: Double] = [:]
        if let text = file("cpu.stat") {
            let stat = CgroupText.keyValues(text)
            if let usage = stat["usage_usec"], let rate = rates.rate("usage", value: usage, at: t) {
                out["cgroup.cpu_percent"] = rate / 1e6 * 100
            }
            if let throttled = stat["nr_throttled"] {
                out["cgroup.cpu_throttled_per_s"] = rates.rate("throttled", value: throttled, at: t)
            }
        }
        if let limit = file("cpu.max").flatMap(CgroupText.cpuLimitCores) { out["cgroup.cpu_limit_cores"] = limit }
        if let memory = file("memory.current").flatMap(CgroupText.number) { out["cgroup.memory_bytes"] = memory }
        if let limit = file("memory.max").flatMap(CgroupText.number) { out["cgroup.memory_limit_bytes"] = limit }
        if let pids = file("pids.current").flatMap(CgroupText.number) { out["cgroup.pids"] = pids }
        if let io = file("io.stat").flatMap(CgroupText.ioBytes) {
            out["cgroup.io_read_bytes_per_s"] = rates.rate("io.read", value: io.read, at: t)
            out["cgroup.io_write_bytes_per_s"] = rates.rate("io.write", value: io.written, at: t)
        }
        return out
    }

    public func notes() async -> [String] {
        guard case .success(let directory) = resolved else { return [] }
        var out: [String] = []
        if let controllers = ProcFS.text(directory + "/cgroup.controllers")?.trimmingCharacters(
            in: .whitespacesAndNewlines
        ) {
            out.append("controllers: \(controllers.isEmpty ? "none enabled" : controllers)")
        }
        return out
    }
}
