import Foundation
import Testing
import VolleyLab

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP exchange with the lab, through Foundation's client (independent of Volley's).
struct Exchange {
    var status: Int
    var body: Data
    var headers: [String: String]

    var json: Any? { try? JSONSerialization.jsonObject(with: body) }
    var text: String { String(decoding: body, as: UTF8.self) }
}

func exchange(_ method: String, _ url: String, body: String? = nil) async throws -> Exchange {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.timeoutInterval = 10
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = try #require(response as? HTTPURLResponse)
    var headers: [String: String] = [:]
    for (key, value) in http.allHeaderFields {
        if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
    }
    return Exchange(status: http.statusCode, body: data, headers: headers)
}

func smallLab(_ adjust: (inout LabConfiguration) -> Void = { _ in }) -> LabConfiguration {
    var c = LabConfiguration()
    c.port = 0
    c.businesses = 300
    c.todos = 10
    c.authors = 10
    c.books = 40
    adjust(&c)
    return c
}

@Suite(.serialized) struct LabAPITests {
    @Test func todosCanBeCreatedReadUpdatedAndDeleted() async throws {
        let lab = try await LabServer.start(smallLab())
        let base = lab.baseURL

        let created = try await exchange("POST", "\(base)/api/v1/todos", body: #"{"title":"plan the trip"}"#)
        #expect(created.status == 201)
        let todo = try #require(created.json as? [String: Any])
        let id = try #require(todo["id"] as? Int)
        #expect(todo["title"] as? String == "plan the trip")
        #expect(id == 11)

        let read = try await exchange("GET", "\(base)/api/v1/todos/\(id)")
        #expect(read.status == 200)
        let updated = try await exchange("PUT", "\(base)/api/v1/todos/\(id)", body: #"{"completed":true}"#)
        #expect((updated.json as? [String: Any])?["completed"] as? Bool == true)
        let list = try await exchange("GET", "\(base)/api/v1/todos")
        #expect((list.json as? [[String: Any]])?.count == 11)

        let deleted = try await exchange("DELETE", "\(base)/api/v1/todos/\(id)")
        #expect(deleted.status == 200)
        #expect((deleted.json as? [String: Any])?["id"] as? Int == id)
        #expect(try await exchange("DELETE", "\(base)/api/v1/todos/\(id)").status == 404)
        #expect(try await exchange("GET", "\(base)/api/v1/todos/\(id)").status == 404)
        let bad = try await exchange("POST", "\(base)/api/v1/todos", body: "not json")
        #expect(bad.status == 400)
        #expect(bad.text.contains("title"))
        #expect(try await exchange("GET", "\(base)/api/v1/todos/abc").status == 400)
        await lab.stop()
    }

    @Test func businessesAreFoundByIdQueryAndRef() async throws {
        let lab = try await LabServer.start(smallLab())
        let base = lab.baseURL
        let byPath = try await exchange("GET", "\(base)/businesses/id/42")
        #expect(byPath.status == 200)
        let business = try #require(byPath.json as? [String: Any])
        #expect(business["ref"] as? String == "BIZ-000042")
        let byQuery = try await exchange("GET", "\(base)/businesses?id=42")
        #expect(byQuery.body == byPath.body)
        let byRef = try await exchange("GET", "\(base)/businesses/ref/BIZ-000042")
        #expect(byRef.body == byPath.body)
        #expect(try await exchange("GET", "\(base)/businesses/id/301").status == 404)
        #expect(try await exchange("GET", "\(base)/businesses?id=x").status == 400)
        #expect(try await exchange("GET", "\(base)/businesses").status == 400)

        // The id list is a ready-made data feed: a JSON array of objects.
        let ids = try #require(try await exchange("GET", "\(base)/businesses/ids").json as? [[String: Any]])
        #expect(ids.count == 300)
        #expect(ids.first?["id"] as? Int == 1)
        #expect(ids.last?["ref"] as? String == "BIZ-000300")
        await lab.stop()
    }

    @Test func catalogueHealthMetricsAndConfig() async throws {
        let lab = try await LabServer.start(smallLab { $0.queryLatency = .milliseconds(1) })
        let base = lab.baseURL
        let books = try #require(try await exchange("GET", "\(base)/books/").json as? [[String: Any]])
        #expect(books.count == 40)
        #expect(books.allSatisfy { $0["author"] is String })
        let authors = try #require(try await exchange("GET", "\(base)/authors/").json as? [[String: Any]])
        #expect(authors.count == 10)
        #expect(authors.map { $0["books"] as? Int ?? 0 }.reduce(0, +) == 40)

        #expect(try await exchange("GET", "\(base)/health").status == 200)
        #expect(try await exchange("GET", "\(base)/ready").status == 200)

        let echoed = try await exchange("GET", "\(base)/health")
        #expect(echoed.headers["x-request-id"] != nil)

        let metrics = try await exchange("GET", "\(base)/metrics")
        #expect(metrics.status == 200)
        for series in [
            "lab_db_pool_checked_out 0", "lab_db_pool_waiting 0", "lab_db_pool_timeouts_total 0",
            "lab_worker_queue_depth 0", "lab_log_seconds_total",
            #"lab_http_requests_total{route="GET /books/",method="GET",status="200"} 1"#,
        ] {
            #expect(metrics.text.contains(series), "missing \(series)")
        }
        let config = try #require(try await exchange("GET", "\(base)/config").json as? [String: Any])
        #expect(config["port"] as? Int == lab.configuration.port)
        #expect(config["query_latency_seconds"] as? Double == 0.001)
        await lab.stop()
    }

    @Test func aPortInUseIsAClearError() async throws {
        let first = try await LabServer.start(smallLab())
        var clash = smallLab()
        clash.port = first.configuration.port
        do {
            let second = try await LabServer.start(clash)
            await second.stop()
            Issue.record("a second lab started on a busy port")
        } catch let error as LabConfigurationError {
            #expect(error.message.contains("cannot listen"))
            #expect(error.hint != nil)
        }
        await first.stop()
    }

    @Test func logLinesAreStructuredJSONWithTheRequestID() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("volley-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let logPath = directory.appendingPathComponent("lab.log").path
        let lab = try await LabServer.start(
            smallLab {
                $0.logFile = logPath
                $0.logLines = 3
            }
        )
        var request = URLRequest(url: URL(string: "\(lab.baseURL)/businesses/id/3")!)
        request.setValue("trace-me-42", forHTTPHeaderField: "X-Request-ID")
        _ = try await URLSession.shared.data(for: request)
        await lab.stop()
        let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
        let mine = lines.filter { $0.contains("trace-me-42") }
        #expect(mine.count == 3)
        for line in mine {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["request_id"] as? String == "trace-me-42")
        }
        #expect(mine.last?.contains(#""status":"200""#) == true)
    }
}
