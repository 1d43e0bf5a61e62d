import Foundation
import Testing
import VolleyProbes

@Suite struct CgroupTextTests {
    @Test func cpuStatAndLimitsAreRead() {
        let stat = CgroupText.keyValues(
            "usage_usec 1717875471\nuser_usec 1511785932\nsystem_usec 206089539\nnr_periods 10\nnr_throttled 3\n"
        )
        #expect(stat["usage_usec"] == 1_717_875_471)
        #expect(stat["nr_throttled"] == 3)
        #expect(CgroupText.cpuLimitCores("50000 100000\n") == 0.5)
        #expect(CgroupText.cpuLimitCores("200000 100000") == 2)
        #expect(CgroupText.cpuLimitCores("max 100000\n") == nil)
        #expect(CgroupText.number("536870912\n") == 536_870_912)
        #expect(CgroupText.number("max\n") == nil)
    }

    @Test func ioStatIsSummedOverDevices() throws {
        let io = try #require(
            CgroupText.ioBytes(
                "8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n"
                    + "259:0 rbytes=500 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n"
            )
        )
        #expect(io.read == 1500)
        #expect(io.written == 2000)
        #expect(CgroupText.ioBytes("") == nil)
    }

    static let hybridMountinfo = """
        25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        35 25 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        42 35 0:39 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        """

    @Test func theSelfCgroupIsFoundOnUnifiedHybridAndNamespacedMachines() {
        // cgroup v2 only (Debian 12, a systemd service).
        #expect(
            CgroupText.directory(
                procCgroup: "0::/system.slice/postgresql.service\n",
                mountinfo: "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
            ) == "/sys/fs/cgroup/system.slice/postgresql.service"
        )
        // Hybrid: v1 controllers have lines of their own; v2 is under /unified.
        #expect(
            CgroupText.directory(
                procCgroup: "9:name=systemd:/\n4:memory:/process_api/f16e\n1:cpu:/\n0::/\n",
                mountinfo: Self.hybridMountinfo
            ) == "/sys/fs/cgroup/unified"
        )
        // A mount whose root is a sub-cgroup (a container's view of the host's tree).
        #expect(
            CgroupText.directory(
                procCgroup: "0::/docker/abc/app\n",
                mountinfo: "50 40 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
            ) == "/sys/fs/cgroup/app"
        )
        // Escaped spaces in a mount point.
        #expect(
            CgroupText.cgroup2Mount(mountinfo: "50 40 0:26 / /mnt/cg\\040v2 rw - cgroup2 cgroup2 rw\n")?.mountPoint
                == "/mnt/cg v2"
        )
        // cgroup v1 only: no answer.
        #expect(CgroupText.directory(procCgroup: "4:memory:/x\n", mountinfo: Self.hybridMountinfo) == nil)
        #expect(CgroupText.directory(procCgroup: "0::/\n", mountinfo: "42 35 0:39 / /x rw - cgroup cgroup rw\n") == nil)
    }
}

/// A cgroup v2 directory laid out in a temporary folder: exact numbers for the arithmetic.
@Suite struct CgroupProbeFixtureTests {
    @Test func seriesComeFromTheFilesThatExist() async throws {
        let dir = NSTemporaryDirectory() + "volley-cgroup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, _ text: String) throws {
            try text.write(toFile: dir + "/" + name, atomically: false, encoding: .utf8)
        }
        try write("cgroup.controllers", "cpu io memory pids\n")
        try write("cpu.stat", "usage_usec 1000000\nnr_periods 0\nnr_throttled 10\n")
        try write("cpu.max", "150000 100000\n")
        try write("memory.current", "104857600\n")
        try write("memory.max", "max\n")
        try write("pids.current", "12\n")
        try write("io.stat", "8:0 rbytes=0 wbytes=0 rios=0 wios=0\n")

        let probe = try ProbeFactory.make("cgroup:\(dir)/")
        #expect(probe.kind == "cgroup")
        #expect(probe.displayName == "cgroup:\(dir)")
        try await probe.check()
        let first = try await probe.sample(at: 0)
        #expect(first["cgroup.cpu_percent"] == nil)
        #expect(first["cgroup.cpu_limit_cores"] == 1.5)
        #expect(first["cgroup.memory_bytes"] == 104_857_600)
        #expect(first["cgroup.memory_limit_bytes"] == nil)  // "max": no limit
        #expect(first["cgroup.pids"] == 12)

        // Two seconds later: 3 s of CPU (150 %), 4 throttled periods, 2 MB read, 1 MB written.
        try write("cpu.stat", "usage_usec 4000000\nnr_periods 20\nnr_throttled 14\n")
        try write("io.stat", "8:0 rbytes=2000000 wbytes=1000000 rios=5 wios=5\n")
        try write("memory.max", "536870912\n")
        try FileManager.default.removeItem(atPath: dir + "/pids.current")  // missing: skipped
        let second = try await probe.sample(at: 2)
        #expect(second["cgroup.cpu_percent"] == 150)
        #expect(second["cgroup.cpu_throttled_per_s"] == 2)
        #expect(second["cgroup.io_read_bytes_per_s"] == 1_000_000)
        #expect(second["cgroup.io_write_bytes_per_s"] == 500_000)
        #expect(second["cgroup.memory_limit_bytes"] == 536_870_912)
        #expect(second["cgroup.pids"] == nil)
        #expect(await probe.notes() == ["controllers: cpu io memory pids"])
    }

    @Test func aDirectoryThatIsNotCgroupV2FailsTheCheckClearly() async throws {
        let dir = NSTemporaryDirectory() + "volley-cgroup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        await #expect {
            try await ProbeFactory.make("cgroup:\(dir)").check()
        } throws: { error in
            String(describing: error).contains("is not a cgroup v2 directory (it has no cgroup.controllers)")
        }
        await #expect {
            try await ProbeFactory.make("cgroup:\(dir)/nope").check()
        } throws: { error in
            String(describing: error) == "cgroup:\(dir)/nope: no such directory"
        }
        #expect(throws: ProbeError.self) { try ProbeFactory.make("cgroup:relative/path") }
    }
}

/// This machine's own cgroup: read when the machine has cgroup v2, a clear error otherwise.
@Suite struct CgroupProbeLiveTests {
    @Test func selfIsReadOrRefusedClearly() async throws {
        let procCgroup = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        let mountinfo = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let probe = try ProbeFactory.make("cgroup:self")
        guard let directory = CgroupText.directory(procCgroup: procCgroup, mountinfo: mountinfo) else {
            await #expect {
                try await probe.check()
            } throws: { error in
                String(describing: error).contains("cgroup v2")
            }
            return
        }
        #expect(probe.displayName == "cgroup:self (\(directory))")
        try await probe.check()
        _ = try await probe.sample(at: 0)
        // Some CPU is used between two readings (this test's own, at least).
        var x: UInt64 = 1
        let until = ContinuousClock.now + .milliseconds(200)
        while ContinuousClock.now < until { x = x &* 6_364_136_223_846_793_005 &+ 1 }
        let values = try await probe.sample(at: 0.2)
        if FileManager.default.fileExists(atPath: directory + "/cpu.stat") {
            #expect(try #require(values["cgroup.cpu_percent"]) > 0, "x=\(x)")
        }
    }
}
