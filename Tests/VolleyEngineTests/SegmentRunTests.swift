import Foundation
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// N segments run one after the other against one server add up to the single run: the same
/// requests, VUs, iterations and feed rows, none twice (issue 18's proof, on one machine).
@Suite(.serialized) struct SegmentRunTests {
    private func runURL(_ url: String, model: LoadModel, segment: ExecutionSegment) async throws -> RunSummary {
        var config = RunConfiguration(request: RequestSpec(url: try TargetURL(parsing: url)), model: model, threads: 2)
        config.segment = segment
        return try await LoadEngine(configuration: config).run()
    }

    @Test func aRequestBudgetIsSplitExactly() async throws {
        let server = try await TestServer.start()
        var completed: [Int] = []
        for s in 0..<3 {
            let summary = try await runURL(
                server.baseURL + "/",
                model: closed(4, requests: 100),
                segment: try ExecutionSegment(index: s, count: 3)
            )
            completed.append(summary.completed)
            #expect(summary.segment == "\(s)/3")
        }
        let received = server.requestsReceived
        try await server.shutdown()
        #expect(completed == [34, 33, 33])
        #expect(received == 100)
    }

    @Test func everyArrivalOfTheScheduleBelongsToOneSegment() async throws {
        let server = try await TestServer.start()
        let schedule = ArrivalSchedule(rate: 300, duration: .seconds(1))
        let model = LoadModel.open(schedule: schedule, maxConnections: 50, preconnect: 4)
        let single = try await runURL(server.baseURL + "/", model: model, segment: .whole)
        var scheduled: [Int] = []
        for s in 0..<3 {
            let summary = try await runURL(
                server.baseURL + "/",
                model: model,
                segment: try ExecutionSegment(index: s, count: 3)
            )
            scheduled.append(summary.scheduled)
        }
        try await server.shutdown()
        #expect(single.scheduled == 300)
        #expect(single.segment == nil)
        #expect(scheduled.reduce(0, +) == single.scheduled)
        #expect(scheduled.allSatisfy { $0 == 100 })
    }

    @Test func vusAndTheirIterationsDoNotOverlap() async throws {
        let server = try await RedirectServer.start()
        let plan = Plan(
            name: "segments",
            baseURL: server.baseURL,
            scenarios: [
                Scenario(
                    name: "vus",
                    executor: .perVUIterations(vus: 5, iterations: 2, maxDuration: .seconds(10)),
                    steps: [.get("/landing?vu=${vu}", name: "vu")]
                )
            ]
        )
        var requests: [Int] = []
        for s in 0..<2 {
            let summary = try await PlanEngine(
                plan: plan,
                threads: 2,
                segment: try ExecutionSegment(index: s, count: 2)
            )
            .run()
            requests.append(summary.requests)
        }
        let vus = server.received.compactMap { $0.query["vu"].flatMap { Int($0) } }
        try await server.shutdown()
        // Five VUs of two iterations: VUs 1, 3, 5 in segment 0 and 2, 4 in segment 1.
        #expect(requests == [6, 4])
        #expect(vus.sorted() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    }

    @Test func uniqueRowsAndSharedIterationsAreSplitWithoutOverlap() async throws {
        let server = try await RedirectServer.start()
        let table = FeedTable(columns: ["id"], rows: (1...7).map { [String($0)] })
        let rowsPlan = Plan(
            name: "rows",
            baseURL: server.baseURL,
            feeds: [DataFeed(name: "ids", path: "ids.json", format: .json, order: .unique(recycle: false))],
            scenarios: [
                Scenario(
                    name: "rows",
                    executor: .sharedIterations(vus: 2, iterations: 20, maxDuration: .seconds(10)),
                    steps: [.get("/landing?row=${ids.id}", name: "row")]
                )
            ]
        )
        let budgetPlan = Plan(
            name: "budget",
            baseURL: server.baseURL,
            scenarios: [
                Scenario(
                    name: "budget",
                    executor: .sharedIterations(vus: 3, iterations: 10, maxDuration: .seconds(10)),
                    steps: [.get("/landing?budget=1", name: "budget")]
                )
            ]
        )
        var budget: [Int] = []
        for s in 0..<3 {
            let segment = try ExecutionSegment(index: s, count: 3)
            _ = try await PlanEngine(plan: rowsPlan, feeds: ["ids": table], threads: 2, segment: segment).run()
            budget.append(try await PlanEngine(plan: budgetPlan, threads: 2, segment: segment).run().requests)
        }
        let rows = server.received.compactMap { $0.query["row"].flatMap { Int($0) } }
        try await server.shutdown()
        // Seven unique rows over three machines: each row once, none left out.
        #expect(rows.sorted() == Array(1...7))
        // Ten shared iterations: 4 + 3 + 3.
        #expect(budget == [4, 3, 3])
    }
}
