import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The lab's three small APIs, modelled on the services in our users' reports, plus health,
/// readiness, metrics and configuration.
extension LabService {
    func addRoutes(to router: Router<BasicRequestContext>) {
        addTodoRoutes(to: router)
        addBusinessRoutes(to: router)
        addCatalogueRoutes(to: router)

        // Liveness: no database, but it still needs a worker — which is how health checks
        // fail under load and pull healthy instances out of the load balancer.
        router.get("/health") { request, _ in
            await self.serve(request, route: "GET /health") { try .json(["status": "ok"]) }
        }
        // Readiness: one query through the pool, so pool exhaustion makes the instance unready.
        router.get("/ready") { request, _ in
            await self.serve(request, route: "GET /ready") {
                do {
                    try await self.database { try await $0.ping() }
                    return try .json(["status": "ready"])
                } catch let timeout as ConnectionPool.PoolTimeout {
                    return .error(.serviceUnavailable, "not ready: pool limit reached", detail: timeout.description)
                }
            }
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: self.metrics.render(self.snapshot)))
            )
        }
        router.get("/config") { _, _ in
            var configuration = self.configuration
            configuration.port = self.boundPort.load(ordering: .relaxed)
            let data = (try? LabService.encoder.encode(configuration)) ?? Data()
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(data: data))
            )
        }
    }

    private func addTodoRoutes(to router: Router<BasicRequestContext>) {
        router.get("/api/v1/todos") { request, _ in
            let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 100
            return await self.serve(request, route: "GET /api/v1/todos") {
                let todos = try await self.database { try await $0.todos(limit: max(0, min(limit, 1000))) }
                return try .json(todos)
            }
        }
        router.post("/api/v1/todos") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            return await self.serve(request, route: "POST /api/v1/todos") {
                let input = try Self.decodeTodoInput(body)
                guard let title = input.title, !title.isEmpty else {
                    throw HTTPError(.badRequest, message: "a todo needs a non-empty \"title\"")
                }
                let completed = input.completed ?? false
                let created = ISO8601DateFormatter().string(from: Date())
                let todo = try await self.database {
                    try await $0.createTodo(title: title, completed: completed, createdAt: created)
                }
                return try .json(todo, status: .created)
            }
        }
        router.get("/api/v1/todos/:id") { request, context in
            let id = try Self.integer(context.parameters.get("id"), name: "id")
            return await self.serve(request, route: "GET /api/v1/todos/{id}") {
                guard let todo = try await self.database({ try await $0.todo(id: id) }) else {
                    throw HTTPError(.notFound, message: "no todo with id \(id)")
                }
                return try .json(todo)
            }
        }
        router.put("/api/v1/todos/:id") { request, context in
            let id = try Self.integer(context.parameters.get("id"), name: "id")
            let body = try await request.body.collect(upTo: 1 << 20)
            return await self.serve(request, route: "PUT /api/v1/todos/{id}") {
                let input = try Self.decodeTodoInput(body)
                let todo = try await self.database {
                    try await $0.updateTodo(id: id, title: input.title, completed: input.completed)
                }
                guard let todo else { throw HTTPError(.notFound, message: "no todo with id \(id)") }
                return try .json(todo)
            }
        }
        router.delete("/api/v1/todos/:id") { request, context in
            let id = try Self.integer(context.parameters.get("id"), name: "id")
            return await self.serve(request, route: "DELETE /api/v1/todos/{id}") {
                // 200 with the deleted todo, as the field's TaskOverflow API answered DELETE.
                let deleted = try await self.database { try await $0.deleteTodo(id: id) }
                guard let deleted else { throw HTTPError(.notFound, message: "no todo with id \(id)") }
                return try .json(deleted)
            }
        }
    }

    private func addBusinessRoutes(to router: Router<BasicRequestContext>) {
        router.get("/businesses") { request, _ in
            let raw = request.uri.queryParameters.get("id")
            return await self.serve(request, route: "GET /businesses?id", cacheable: true) {
                guard let raw else { throw HTTPError(.badRequest, message: "missing query parameter id") }
                let id = try Self.integer(raw, name: "id")
                return try await self.business(what: "id \(id)") { try await $0.business(id: id) }
            }
        }
        router.get("/businesses/id/:id") { request, context in
            let id = try Self.integer(context.parameters.get("id"), name: "id")
            return await self.serve(request, route: "GET /businesses/id/{id}", cacheable: true) {
                try await self.business(what: "id \(id)") { try await $0.business(id: id) }
            }
        }
        router.get("/businesses/ref/:ref") { request, context in
            let ref = context.parameters.get("ref") ?? ""
            return await self.serve(request, route: "GET /businesses/ref/{ref}", cacheable: true) {
                try await self.business(what: "ref \(ref)") { try await $0.business(ref: ref) }
            }
        }
        router.get("/businesses/ids") { request, _ in
            let limit = request.uri.queryParameters.get("limit", as: Int.self)
            return await self.serve(request, route: "GET /businesses/ids", cacheable: true) {
                let rows = try await self.database { try await $0.businessKeys(limit: limit) }
                return try .json(rows)
            }
        }
    }

    private func addCatalogueRoutes(to router: Router<BasicRequestContext>) {
        // Hummingbird matches "/books" and "/books/" alike; the field's Django API used the latter.
        do {
            router.get("/books") { request, _ in
                let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 100
                let offset = request.uri.queryParameters.get("offset", as: Int.self) ?? 0
                return await self.serve(request, route: "GET /books/", cacheable: true) {
                    let books = try await self.database {
                        try await $0.books(limit: max(0, min(limit, 1000)), offset: max(0, offset))
                    }
                    return try .json(books)
                }
            }
        }
        do {
            router.get("/authors") { request, _ in
                await self.serve(request, route: "GET /authors/", cacheable: true) {
                    let authors = try await self.database { try await $0.authors() }
                    return try .json(authors)
                }
            }
        }
    }

    private func business(
        what: String,
        _ lookup: @escaping @Sendable (any LabConnection) async throws -> Business?
    ) async throws -> LabReply {
        guard let business = try await database(lookup) else {
            throw HTTPError(.notFound, message: "no business with \(what)")
        }
        return try .json(business)
    }

    private struct TodoInput: Decodable {
        var title: String?
        var completed: Bool?
    }

    private static func decodeTodoInput(_ body: ByteBuffer) throws -> TodoInput {
        do {
            return try JSONDecoder().decode(TodoInput.self, from: Data(body.readableBytesView))
        } catch {
            throw HTTPError(.badRequest, message: "the body must be a JSON object like {\"title\": \"…\"}")
        }
    }

    /// A path or query integer, or a 400 that says which one was wrong.
    static func integer(_ text: String?, name: String) throws -> Int64 {
        guard let text, let value = Int64(text) else {
            throw HTTPError(
                .badRequest,
                message: "\(name) must be an integer, got \(text.map { "'\($0)'" } ?? "nothing")"
            )
        }
        return value
    }
}
