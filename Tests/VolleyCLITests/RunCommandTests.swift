import Testing
import VolleyCore
import VolleyEngine

@testable import volley

@Suite struct RunCommandTests {
    private func config(_ args: [String]) throws -> RunConfiguration {
        try RunCommand.parse(args).makeConfiguration()
    }

    @Test func closedModelWithRequestsAndDuration() throws {
        let a = try config(["http://127.0.0.1:8080/", "-c", "10", "-n", "1000"])
        #expect(a.model == .closed(connections: 10, limit: .requests(1000)))
        let b = try config(["http://127.0.0.1:8080/", "-c", "10", "-d", "30s"])
        #expect(b.model == .closed(connections: 10, limit: .duration(.seconds(30))))
        let c = try config(["http://127.0.0.1:8080/"])
        #expect(c.model == .closed(connections: 50, limit: .duration(.seconds(10))))
        // Fewer requests than connections: no idle connections are opened.
        let d = try config(["http://127.0.0.1:8080/", "-c", "100", "-n", "5"])
        #expect(d.model == .closed(connections: 5, limit: .requests(5)))
    }

    @Test func openModelFromRateOrStages() throws {
        let a = try config(["http://127.0.0.1/", "-r", "500/s", "-d", "2s", "--max-connections", "64"])
        #expect(
            a.model
                == .open(schedule: ArrivalSchedule(rate: 500, duration: .seconds(2)), maxConnections: 64, preconnect: 1)
        )
        let b = try config(["http://127.0.0.1/", "--rate", "100", "-n", "50"])
        guard case .open(let schedule, _, _) = b.model else {
            Issue.record("not open")
            return
        }
        #expect(schedule.scheduledCount == 50)
        let c = try config(["http://127.0.0.1/", "--stages", "10s:0->200,30s:200,10s:200->0"])
        guard case .open(let ramp, _, _) = c.model else {
            Issue.record("not open")
            return
        }
        #expect(ramp.stages.count == 3)
        #expect(ramp.totalDuration == .seconds(50))
    }

    @Test func requestFlagsBuildTheRequest() throws {
        let a = try config([
            "https://localhost:8443/x", "-X", "post", "-H", "Content-Type: application/json", "-H", "X-A: 1",
            "--body", "{}", "--timeout", "2s", "--connect-timeout", "500ms", "--no-keepalive", "--insecure",
            "--request-id-header", "X-Correlation-ID", "--threads", "3",
        ])
        #expect(a.request.method == "POST")
        #expect(a.request.headers.map(\.name) == ["Content-Type", "X-A"])
        #expect(a.request.body == Array("{}".utf8))
        #expect(a.requestTimeout == .seconds(2))
        #expect(a.connectTimeout == .milliseconds(500))
        #expect(!a.request.keepAlive)
        #expect(a.insecure)
        #expect(a.request.requestIDHeader == "X-Correlation-ID")
        #expect(a.threads == 3)
        let b = try config(["http://127.0.0.1/", "--no-request-id"])
        #expect(b.request.requestIDHeader == nil)
    }

    /// A refused URL or header names where it came from (exit 2 is `InputError`'s code).
    @Test func refusedURLsAndHeadersNameTheirFlag() throws {
        #expect(throws: InputError.self) { try config(["http://127.0.0.1/x\r\nX-Injected: 1"]) }
        do {
            _ = try config(["http://127.0.0.1/", "-H", "X-A: 1\r\nX-Injected: 1"])
            Issue.record("accepted a line break in -H")
        } catch let error as InputError {
            #expect(error.message.hasPrefix("-H/--header: "), "\(error.message)")
            #expect(error.message.contains("\\r"), "the line break is spelled out")
        }
        do {
            _ = try config(["http://127.0.0.1/x y\r\n"])
            Issue.record("accepted a line break in the URL")
        } catch let error as InputError {
            #expect(error.message.contains(#""http://127.0.0.1/x y\r\n""#), "\(error.message)")
        }
        let spaced = try config(["http://127.0.0.1/a b"])
        #expect(spaced.request.url.pathAndQuery == "/a%20b")
    }

    @Test(arguments: [
        ["notaurl"], ["http://127.0.0.1/", "-d", "30"], ["http://127.0.0.1/", "-r", "fast"],
        ["http://127.0.0.1/", "-r", "10", "--stages", "1s:10"], ["http://127.0.0.1/", "-H", "NoColon"],
        ["http://127.0.0.1/", "--body", "a", "--body-file", "b"],
        ["http://127.0.0.1/", "--body-file", "/nonexistent/file"],
        ["http://127.0.0.1/", "-c", "0"], ["http://127.0.0.1/", "--threads", "0"], ["http://127.0.0.1/", "-n", "0"],
        ["http://127.0.0.1/", "-r", "0"], ["http://127.0.0.1/", "--timeout", "0s"],
        ["http://127.0.0.1/", "-r", "10", "-n", "5", "-d", "1s"],
        ["http://127.0.0.1/x\r\nX-Injected: 1"], ["http://127.0.0.1/%zz"], ["http://127.0.0.1/\u{1}"],
        ["http://127.0.0.1/", "-H", "X-A: 1\r\nX-Injected: 1"], ["http://127.0.0.1/", "-H", "Content-Length: abc"],
        ["http://127.0.0.1/", "-c", "99999999"], ["http://127.0.0.1/", "-r", "10", "--max-connections", "99999999"],
    ])
    func badInputIsAnInputErrorWithAHint(args: [String]) throws {
        do {
            _ = try config(args)
            Issue.record("accepted \(args)")
        } catch let error as InputError {
            #expect(error.hint != nil, "no hint for \(args): \(error.message)")
        }
    }
}
