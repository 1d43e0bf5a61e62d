import Foundation
import Testing

/// The diagnosis end to end: the built binary against a lab in its own process, probed by pid,
/// and `volley diagnose` reading the run back from the history.
@Suite(.serialized) struct DiagnoseCommandTests {
    /// Starts `volley lab` with `args` on a free port; returns the process and its base URL.
    func startLab(_ args: [String]) throws -> (Process, String) {
        let process = Process()
        process.executableURL = try volleyBinary()
        process.arguments = ["lab", "--port", "0", "--businesses", "300", "--books", "40"] + args
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        var seen = ""
        while Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: "listening on http://127.0.0.1:") {
                let port = seen[range.upperBound...].prefix { $0.isNumber }
                if !port.isEmpty, seen[range.upperBound...].dropFirst(port.count).first != nil {
                    return (process, "http://127.0.0.1:\(port)")
                }
            }
        }
        process.terminate()
        throw TestFailure("the lab did not start: \(seen)")
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    func findings(_ json: String) throws -> [String] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let list = try #require(object["findings"] as? [[String: Any]])
        return list.compactMap { $0["id"] as? String }
    }

    @Test func aLabBurningCPUIsNamedCPUBoundFromItsPid() throws {
        let (lab, base) = try startLab(["--cpu-per-request", "4ms"])
        defer {
            lab.terminate()
            lab.waitUntilExit()
        }
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(
            [
                "run", "\(base)/health", "-c", "8", "-d", "4s", "--threads", "1", "--json",
                "--probe", "pid:\(lab.processIdentifier)",
            ],
            limit: 30,
            home: home
        )
        #expect(r.status == 0, "\(r.stderr)")
        let ids = try findings(r.stdout)
        #expect(ids.contains("cpu-bound"), "\(ids)\n\(r.stderr)")
        #expect(r.stderr.contains("CPU-bound"))
        // Read back from the history.
        let again = try runVolley(["diagnose", "last"], home: home)
        #expect(again.status == 0)
        #expect(again.stdout.contains("CPU-bound"), "\(again.stdout)")
    }

    @Test func aSweepWithProbesIsDiagnosedAcrossItsLevels() throws {
        let (lab, base) = try startLab(["--pool-size", "2", "--pool-overflow", "1", "--query-latency", "20ms"])
        defer {
            lab.terminate()
            lab.waitUntilExit()
        }
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(
            ["sweep", "\(base)/books/", "--concurrency", "1,24", "-d", "3s", "--probe", "\(base)/metrics", "--json"],
            limit: 40,
            home: home
        )
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try findings(r.stdout).contains("pool-saturation"), "\(r.stdout)")
        #expect(r.stderr.contains("Database connection pool saturated"))
        let again = try runVolley(["diagnose", "E-last"], home: home)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("Sweep E1"), "\(again.stdout)")
        #expect(again.stdout.contains("Database connection pool saturated"))
    }

    @Test func aRunWithoutProbesSaysWhatToAdd() throws {
        let (lab, base) = try startLab([])
        defer {
            lab.terminate()
            lab.waitUntilExit()
        }
        let home = freshHistoryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try runVolley(["run", "\(base)/health", "-c", "2", "-d", "1s", "--json"], home: home)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try findings(r.stdout) == [])
        let again = try runVolley(["diagnose", "last"], home: home)
        #expect(again.stdout.contains("add --probe"), "\(again.stdout)")
        let bad = try runVolley(["diagnose", "E9"], home: home)
        #expect(bad.status == 2)
        let probe = try runVolley(["run", "\(base)/health", "-n", "1", "--probe", "ftp://x"], home: home)
        #expect(probe.status == 2)
        #expect(probe.stderr.contains("unknown kind of probe"))
    }
}
