import Testing
import VolleyCore
import VolleyEngine

/// The typed run request: the load models it builds, and errors that name a field for the
/// command to translate into its own flag.
@Suite struct RunRequestTests {
    private let url = try! TargetURL(parsing: "http://127.0.0.1:8080/")

    @Test func closedAndOpenLoadsBecomeTheEngineModels() throws {
        let closed = try RunRequest(url: url, load: .closed(connections: 100, requests: 5)).configuration()
        #expect(closed.model == .closed(connections: 5, limit: .requests(5)))
        let timed = try RunRequest(url: url, load: .closed(connections: 8)).model()
        #expect(timed == .closed(connections: 8, limit: .duration(.seconds(10))))
        let open = try RunRequest(url: url, load: .open(.rate(2500, duration: .seconds(2)), maxConnections: 64)).model()
        #expect(
            open
                == .open(
                    schedule: ArrivalSchedule(rate: 2500, duration: .seconds(2)),
                    maxConnections: 64,
                    preconnect: 3
                )
        )
        let counted = try RunRequest(url: url, load: .open(.rate(100, requests: 50))).model()
        guard case .open(let schedule, _, _) = counted else {
            Issue.record("not open")
            return
        }
        #expect(schedule.scheduledCount == 50)
    }

    @Test func errorsNameTheFieldForEachCommandToTranslate() {
        func error(_ request: RunRequest) -> RunRequestError? {
            do {
                _ = try request.configuration()
                return nil
            } catch {
                return error
            }
        }
        let zero = error(RunRequest(url: url, load: .closed(connections: 0)))
        #expect(zero?.fields == [.connections])
        let run = zero?.naming { $0 == .connections ? "-c" : "?" }
        #expect(run?.message == "-c must be a positive number of connections, got 0")
        #expect(run?.hint == "e.g. -c 50")
        let sweep = zero?.naming { $0 == .connections ? "--concurrency level 0" : "?" }
        #expect(sweep?.message == "--concurrency level 0 must be a positive number of connections, got 0")
        let both = error(RunRequest(url: url, load: .open(.rate(10), maxConnections: 4, preconnect: 9)))
        #expect(both?.fields == [.preconnect, .maxConnections])
        #expect(
            both?.description
                == "preconnect 9 is more than maxConnections 4 (hint: in the open model preconnect only pre-opens connections; raise maxConnections)"
        )
        var threads = RunRequest(url: url, load: .closed(connections: 1))
        threads.threads = 0
        #expect(error(threads)?.fields == [.threads])
        #expect(error(RunRequest(url: url, load: .open(.rate(20_000_000))))?.fields == [.rate])
        #expect(error(RunRequest(target: .plan(Plan(name: "p", scenarios: []))))?.fields == [.target])
    }
}
