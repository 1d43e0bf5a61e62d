import Foundation
import Testing
import VolleyTestSupport

/// Through the built binary: a line break in a URL, a `-H` value or a plan literal is an
/// input error (exit 2, nothing sent), and a plan whose service returns one in a captured
/// value runs on with the step counted as `invalid_request`.
@Suite(.serialized) struct InjectionBinaryTests {
    @Test func lineBreaksOnTheCommandLineExitTwoAndSendNothing() async throws {
        let server = try await TestServer.start()
        let url = try runVolley(["run", server.baseURL + "/x\r\nX-Injected: 1", "-n", "1", "-q", "--no-save"])
        let header = try runVolley(["run", server.baseURL + "/", "-H", "X-A: 1\r\nX-Injected: 1", "-n", "1", "-q"])
        let length = try runVolley(["run", server.baseURL + "/", "-H", "Content-Length: abc", "-n", "1", "-q"])
        let received = server.requestsReceived
        try await server.shutdown()
        #expect(url.status == 2)
        #expect(url.stderr.contains("contains a carriage return (\\r)"), "\(url.stderr)")
        #expect(header.status == 2)
        #expect(header.stderr.contains("-H/--header: the value of header \"X-A\""), "\(header.stderr)")
        #expect(length.status == 2)
        #expect(length.stderr.contains("hint:"))
        #expect(received == 0)
    }

    @Test func aCapturedLineBreakIsCountedAsInvalidRequestNotSent() async throws {
        let server = try await TestServer.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volley-inject-\(UInt32.random(in: 0...UInt32.max))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let plan = directory.appendingPathComponent("inject.yaml")
        try """
        base_url: \(server.baseURL)
        scenarios:
          s:
            executor: per-vu-iterations
            vus: 1
            iterations: 4
            steps:
              - request: GET /inject
                capture: { value: json $.value }
              - request: GET /
                name: echo
                headers: { X-Token: "${value}" }
        """.write(to: plan, atomically: true, encoding: .utf8)
        let r = try runVolley(["run", plan.path, "-q", "--json", "--no-save"])
        let injected = server.injectedHeadersSeen
        let received = server.requestsReceived
        try await server.shutdown()
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"invalid_request\" : 4"), "\(r.stdout)")
        #expect(r.stderr.contains("invalid request: 4"), "\(r.stderr)")
        #expect(injected == 0)
        #expect(received == 4, "only the /inject requests were sent")
    }
}
