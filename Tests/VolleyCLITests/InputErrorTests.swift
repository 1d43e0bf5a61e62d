import Foundation
import Testing
import VolleyCore
import VolleyPlan
import VolleyTestSupport

@testable import volley

/// Bad input at the command line: said clearly, exit 2, found before any load is sent.
@Suite(.serialized) struct InputErrorTests {
    private func message(_ args: [String]) -> String? {
        do {
            _ = try RunCommand.parse(["http://127.0.0.1:8080/"] + args).makeConfiguration()
            return nil
        } catch let error as InputError {
            return error.message
        } catch {
            return RunCommand.message(for: error)
        }
    }

    @Test func negativeNumbersSayWhatIsWrong() {
        #expect(message(["-c", "-1"]) == "-c must be a positive number of connections, got -1")
        #expect(message(["-c", "-1", "--rate", "5"]) == "-c must be a positive number of connections, got -1")
        #expect(message(["-n", "-3"]) == "-n must be a positive number of requests, got -3")
        #expect(message(["-d", "-5s"]) == "-d/--duration must be a positive duration, got -5s")
        #expect(message(["--rate", "-5"]) == "--rate must be a positive rate, got -5")
        #expect(message(["--timeout", "-1s"]) == "--timeout must be a positive duration, got -1s")
        #expect(message(["--grace", "-5s"]) == "--grace must be a positive duration, got -5s")
        #expect(message(["--grace", "soon"]) != nil)
        #expect(message(["--threads", "-2"]) == "--threads must be between 1 and 256, got -2")
        #expect(
            message(["--rate", "5", "--max-connections", "-2"])
                == "--max-connections must be a positive number of connections, got -2"
        )
        // The open model may pre-open no connection at all.
        #expect(message(["--rate", "5", "-c", "0"]) == nil)
    }

    @Test func experimentsCheckTheirLevelsBeforeAnyLoad() throws {
        let sweep = try runVolley(["sweep", "http://127.0.0.1:1/", "--concurrency", "1", "-d", "-2s"])
        #expect(sweep.status == 2)
        #expect(sweep.stderr.contains("-d/--duration must be a positive duration, got -2s"), "\(sweep.stderr)")
        let ab = try runVolley(["ab", "--a", "http://127.0.0.1:1/", "--b", "http://127.0.0.1:1/", "-c", "-4"])
        #expect(ab.status == 2)
        #expect(ab.stderr.contains("-c/--connections must be a positive number of connections, got -4"), "\(ab.stderr)")
        let time = try runVolley(["time", "http://127.0.0.1:1/", "-n", "-5"])
        #expect(time.status == 2)
    }

    @Test func outputPathsAreCheckedBeforeTheFirstRequest() async throws {
        let server = try await TestServer.start()
        let missing = "/nonexistent-\(UUID().uuidString)"
        let html = try runVolley(["run", server.baseURL + "/", "-n", "20", "-q", "--html", missing + "/r.html"])
        let out = try runVolley(["run", server.baseURL + "/", "-n", "20", "-q", "--out", missing + "/s.jsonl"])
        let folder = try runVolley(["run", server.baseURL + "/", "-n", "20", "-q", "--html", "/tmp"])
        let received = server.requestsReceived
        try await server.shutdown()
        #expect(html.status == 2)
        #expect(
            html.stderr.contains("--html \(missing)/r.html: the folder \(missing) does not exist"),
            "\(html.stderr)"
        )
        #expect(html.stderr.contains("hint: create it first"))
        #expect(out.status == 2)
        #expect(folder.status == 2)
        #expect(folder.stderr.contains("is a folder, not a file"))
        #expect(received == 0, "nothing is sent when an output cannot be written")
    }

    @Test func bodyFilesHaveALimitAndMustBeFiles() throws {
        #expect(throws: InputError.self) { try RunCommand.readFile("/dev/zero") }
        do {
            _ = try RunCommand.readFile("/dev/zero")
        } catch let error as InputError {
            #expect(error.message == "--body-file \"/dev/zero\" is larger than the 64 MiB limit for a request body")
        }
        do {
            _ = try RunCommand.readFile(NSTemporaryDirectory())
            Issue.record("a folder was read as a body")
        } catch let error as InputError {
            #expect(error.message.hasSuffix("is a folder, not a file"))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volley-body-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let small = dir.appendingPathComponent("small.json")
        try Data("{\"a\":1}".utf8).write(to: small)
        #expect(try RunCommand.readFile(small.path) == Array("{\"a\":1}".utf8))
        // Just over the limit: refused by its size, without reading it.
        let big = dir.appendingPathComponent("big.bin")
        #expect(FileManager.default.createFile(atPath: big.path, contents: nil))
        let handle = try FileHandle(forWritingTo: big)
        try handle.truncate(atOffset: UInt64(BodyFile.limit + 1))
        try handle.close()
        #expect(BodyFile.check(big.path, regularOnly: false)?.message.contains("64 MiB limit") == true)

        let plan = dir.appendingPathComponent("plan.yaml")
        try """
        base_url: http://127.0.0.1:1
        scenarios:
          s:
            executor: per-vu-iterations
            vus: 1
            iterations: 1
            steps:
              - request: POST /a
                body_file: /dev/zero
              - request: POST /b
                body_file: .
        """.write(to: plan, atomically: true, encoding: .utf8)
        let r = try runVolley(["validate", plan.path])
        #expect(r.status == 2)
        #expect(
            r.stderr.contains("plan.yaml:9:20: error: body_file \"/dev/zero\" is not a regular file"),
            "\(r.stderr)"
        )
        #expect(r.stderr.contains("plan.yaml:11:20: error: body_file \".\" is a folder, not a file"), "\(r.stderr)")
        let run = try runVolley(["run", "http://127.0.0.1:1/", "-X", "POST", "--body-file", "/dev/zero", "-q"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("64 MiB"))
    }

    /// A self-signed certificate: the error says so, points to --insecure, and quotes no
    /// BoringSSL build path.
    @Test func aTLSVerificationFailureSaysWhatFailed() async throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../VolleyEngineTests/Fixtures").standardized
        let context = try TestServer.makeTLSContext(
            certificatePath: fixtures.appendingPathComponent("cert.pem").path,
            keyPath: fixtures.appendingPathComponent("key.pem").path
        )
        let server = try await TestServer.start(tls: context)
        let r = try runVolley(["run", server.baseURL + "/", "-c", "1", "-n", "3", "--json", "-q", "--no-save"])
        let insecure = try runVolley([
            "run", server.baseURL + "/", "-c", "1", "-n", "3", "--json", "-q", "--no-save", "--insecure",
        ])
        try await server.shutdown()
        #expect(r.status == 1)
        let lines = (r.stdout + r.stderr).split(separator: "\n").filter { $0.contains("TLS") }
        #expect(!lines.isEmpty, "\(r.stdout)\(r.stderr)")
        #expect(lines.allSatisfy { $0.contains("certificate verify failed") && $0.contains("--insecure") })
        #expect(lines.allSatisfy { !$0.contains("/") && !$0.contains("OPENSSL") }, "\(lines)")
        #expect(insecure.status == 0)
    }
}
