import Foundation
import Testing
import VolleyCore
import VolleyEngine
import VolleyLab
import VolleyProbes

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP exchange with the lab through Foundation's client: status and JSON body.
func labExchange(_ method: String, _ url: String, body: String? = nil) async throws -> (status: Int, json: Any?) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.timeoutInterval = 10
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    let (data, response) = try await URLSession.shared.data(for: request)
    let status = (response as? HTTPURLResponse)?.statusCode ?? 0
    return (status, try? JSONSerialization.jsonObject(with: data))
}

/// A closed-model load from Volley's engine, bounded in time.
func labLoad(_ url: String, connections: Int, duration: Duration) async throws -> RunSummary {
    let configuration = RunConfiguration(
        request: RequestSpec(method: "GET", url: try TargetURL(parsing: url)),
        model: .closed(connections: connections, limit: .duration(duration)),
        threads: 1,
        requestTimeout: .seconds(5),
        connectTimeout: .seconds(2),
        interruptGrace: .milliseconds(300)
    )
    return try await LoadEngine(configuration: configuration).run()
}

func postgresLab(_ url: String, _ adjust: (inout LabConfiguration) -> Void = { _ in }) -> LabConfiguration {
    var c = LabConfiguration()
    c.port = 0
    c.databaseURL = url
    c.businesses = 300
    c.todos = 10
    c.authors = 10
    c.books = 40
    adjust(&c)
    return c
}

/// The lab on a real PostgreSQL: the same API as on SQLite, and its pool as the server sees it.
extension PostgresLiveTests {
    @Test func theLabsAPIWorksOnPostgres() async throws {
        guard let url = LivePostgres.url() else { return }
        let lab = try await LabServer.start(postgresLab(url))
        let base = lab.baseURL

        // Seeded like SQLite: ten todos, so the next id is 11, every start.
        let created = try await labExchange("POST", "\(base)/api/v1/todos", body: #"{"title":"plan the trip"}"#)
        #expect(created.status == 201)
        let todo = try #require(created.json as? [String: Any])
        #expect(todo["id"] as? Int == 11)
        #expect(todo["completed"] as? Bool == false)

        let updated = try await labExchange("PUT", "\(base)/api/v1/todos/11", body: #"{"completed":true}"#)
        #expect(updated.status == 200)
        #expect((updated.json as? [String: Any])?["completed"] as? Bool == true)
        #expect((updated.json as? [String: Any])?["title"] as? String == "plan the trip")
        let list = try await labExchange("GET", "\(base)/api/v1/todos?limit=3")
        #expect((list.json as? [[String: Any]])?.first?["id"] as? Int == 11)
        #expect((list.json as? [[String: Any]])?.count == 3)
        let deleted = try await labExchange("DELETE", "\(base)/api/v1/todos/11")
        #expect(deleted.status == 200)
        #expect(try await labExchange("GET", "\(base)/api/v1/todos/11").status == 404)
        #expect(try await labExchange("DELETE", "\(base)/api/v1/todos/11").status == 404)

        let byID = try await labExchange("GET", "\(base)/businesses/id/7")
        let business = try #require(byID.json as? [String: Any])
        #expect(business["ref"] as? String == "BIZ-000007")
        let byRef = try await labExchange("GET", "\(base)/businesses/ref/BIZ-000007")
        #expect((byRef.json as? [String: Any])?["id"] as? Int == 7)
        #expect((byRef.json as? [String: Any])?["name"] as? String == business["name"] as? String)
        #expect(try await labExchange("GET", "\(base)/businesses?id=99999").status == 404)
        #expect(((try await labExchange("GET", "\(base)/businesses/ids")).json as? [Any])?.count == 300)
        #expect(((try await labExchange("GET", "\(base)/businesses/ids?limit=5")).json as? [Any])?.count == 5)

        let books = try #require((try await labExchange("GET", "\(base)/books/?limit=40")).json as? [[String: Any]])
        #expect(books.count == 40)
        let titles = books.compactMap { $0["title"] as? String }
        #expect(titles == titles.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        let authors = try #require((try await labExchange("GET", "\(base)/authors/")).json as? [[String: Any]])
        #expect(authors.count == 10)
        #expect(authors.compactMap { $0["books"] as? Int }.reduce(0, +) == 40)
        #expect(try await labExchange("GET", "\(base)/ready").status == 200)

        // The password stays out of /config.
        let config = try #require((try await labExchange("GET", "\(base)/config")).json as? [String: Any])
        let shown = try #require(config["database_url"] as? String)
        #expect(shown.hasPrefix("postgres://***@"))
        await lab.stop()
    }

    /// The same data on both: the seed is one generator, whatever the database.
    @Test func theSeedIsTheSameAsOnSQLite() async throws {
        guard let url = LivePostgres.url() else { return }
        let postgres = try await LabServer.start(postgresLab(url))
        var sqliteConfiguration = postgresLab(url)
        sqliteConfiguration.databaseURL = nil
        let sqlite = try await LabServer.start(sqliteConfiguration)
        for path in ["/businesses/id/123", "/books/?limit=40", "/authors/", "/businesses/ids?limit=20"] {
            let a = try await labExchange("GET", postgres.baseURL + path)
            let b = try await labExchange("GET", sqlite.baseURL + path)
            #expect(a.status == 200)
            #expect(
                NSDictionary(dictionary: ["v": a.json ?? 0]) == NSDictionary(dictionary: ["v": b.json ?? 0]),
                "\(path)"
            )
        }
        await postgres.stop()
        await sqlite.stop()
    }

    /// Pool 2 + overflow 1 under 8 connections: the server sees at most three of the lab's
    /// connections, and the probe reads them on the load's clock.
    @Test func theLabsPoolIsWhatTheServerSees() async throws {
        guard let url = LivePostgres.url() else { return }
        let probe = PostgresProbe(target: try LivePostgres.target(url))
        try await probe.check()
        let before = try await probe.sample(at: 0)
        let baseline = try #require(before["pg.connections.total"])
        let lab = try await LabServer.start(
            postgresLab(url) {
                $0.poolSize = 2
                $0.poolOverflow = 1
                $0.queryLatency = .milliseconds(20)
            }
        )
        let sampler = ProbeSampler(probe)
        sampler.start(at: .now, interval: .milliseconds(200))
        let summary = try await labLoad("\(lab.baseURL)/books/", connections: 8, duration: .milliseconds(1500))
        let result = await sampler.stop()
        await lab.stop()

        #expect((summary.status["200"] ?? 0) > 20)
        let total = try #require(result.series["pg.connections.total"]).map { $0[1] - baseline }
        #expect(total.count >= 4)
        #expect((total.max() ?? 0) <= 3, "\(total)")
        #expect((total.max() ?? 0) >= 2, "\(total)")
        let active = try #require(result.series["pg.connections.active"]).map { $0[1] }
        #expect((active.max() ?? 0) <= 3)
        #expect(result.failedScrapes == 0)
    }

    @Test func aLabThatCannotReachItsDatabaseSaysWhy() async throws {
        guard let url = LivePostgres.url() else { return }
        var target = try LivePostgres.target(url)
        target.password = "lab-wrong-password-7"
        do {
            let lab = try await LabServer.start(postgresLab(target.url))
            await lab.stop()
            Issue.record("the lab started with a wrong password")
        } catch {
            let text = String(describing: error)
            #expect(text.contains("authentication failed"), "\(text)")
            #expect(!text.contains("lab-wrong-password-7"))
        }
    }
}
