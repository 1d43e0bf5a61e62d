import Foundation
import Logging
import PostgresNIO
import Synchronization
import VolleyProbes

/// The lab on a real PostgreSQL (`volley lab --database postgres://…`): the same tables, seed
/// and routes as on SQLite, each pooled connection a real server connection, so that the
/// server's own view (`--probe postgres://…`) shows what the lab's pool does to it.
struct PostgresStorage: LabStorage {
    let target: PostgresTarget

    init(target: PostgresTarget) {
        var target = target
        // Told apart from the probe's and psql's connections in pg_stat_activity.
        if target.applicationName == "volley" { target.applicationName = "volley-lab" }
        self.target = target
    }

    /// Any constant: two labs seeding one database at once take turns instead of failing
    /// on each other's CREATE TABLE.
    static let seedLockKey: Int64 = 0x766F_6C6C_6579

    func createAndSeed(configuration: LabConfiguration) async throws {
        let seed = LabSeed(configuration: configuration)
        let connection = try await target.connect(id: 0)
        do {
            try await seedTables(seed, on: connection)
        } catch {
            try? await connection.close()
            throw target.explain(error)
        }
        try? await connection.close()
    }

    private func seedTables(_ seed: LabSeed, on connection: PostgresConnection) async throws {
        let logger = PostgresTarget.silentLogger
        func run(_ sql: String) async throws {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
        try await run("BEGIN")
        do {
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.seedLockKey))", logger: logger)
            for statement in Self.schema { try await run(statement) }
            // Emptied, not dropped: the ids restart, as they do in a new SQLite file.
            try await run("TRUNCATE books, authors, businesses, todos RESTART IDENTITY")
            let todos = seed.todos
            try await connection.query(
                """
                INSERT INTO todos (title, completed, created_at)
                SELECT title, completed, created_at
                FROM unnest(\(todos.map(\.title))::text[], \(todos.map(\.completed))::bool[],
                            \(todos.map(\.createdAt))::text[]) WITH ORDINALITY AS u(title, completed, created_at, n)
                ORDER BY n
                """,
                logger: logger
            )
            let businesses = seed.businesses
            try await connection.query(
                """
                INSERT INTO businesses (id, ref, name, category, city, rating, reviews)
                SELECT * FROM unnest(\(businesses.map(\.id))::int8[], \(businesses.map(\.ref))::text[],
                    \(businesses.map(\.name))::text[], \(businesses.map(\.category))::text[],
                    \(businesses.map(\.city))::text[], \(businesses.map(\.rating))::float8[],
                    \(businesses.map { Int64($0.reviews) })::int8[])
                """,
                logger: logger
            )
            let authors = seed.authors
            try await connection.query(
                """
                INSERT INTO authors (id, name, born)
                SELECT * FROM unnest(\(authors.map(\.id))::int8[], \(authors.map(\.name))::text[],
                    \(authors.map { Int64($0.born) })::int8[])
                """,
                logger: logger
            )
            let books = seed.books
            try await connection.query(
                """
                INSERT INTO books (id, title, author_id, year, isbn)
                SELECT * FROM unnest(\(books.map(\.id))::int8[], \(books.map(\.title))::text[],
                    \(books.map(\.authorID))::int8[], \(books.map { Int64($0.year) })::int8[],
                    \(books.map(\.isbn))::text[])
                """,
                logger: logger
            )
            try await run("COMMIT")
        } catch {
            try? await run("ROLLBACK")
            throw error
        }
        // Fresh statistics, so that the planner and the probe start from the seeded tables.
        try await run("ANALYZE todos, businesses, authors, books")
    }

    /// The SQLite schema in PostgreSQL's words; created only when missing.
    static let schema = [
        """
        CREATE TABLE IF NOT EXISTS todos (
            id BIGSERIAL PRIMARY KEY,
            title TEXT NOT NULL,
            completed BOOLEAN NOT NULL DEFAULT false,
            created_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS businesses (
            id BIGINT PRIMARY KEY,
            ref TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            category TEXT NOT NULL,
            city TEXT NOT NULL,
            rating DOUBLE PRECISION NOT NULL,
            reviews INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS authors (
            id BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            born INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS books (
            id BIGINT PRIMARY KEY,
            title TEXT NOT NULL,
            author_id BIGINT NOT NULL REFERENCES authors(id),
            year INTEGER NOT NULL,
            isbn TEXT NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS books_author ON books(author_id)",
    ]

    func open() async throws -> any LabConnection {
        PostgresLabConnection(connection: try await target.connect(id: Self.nextID()))
    }

    private static let ids = IDCounter()
    private static func nextID() -> Int { ids.next() }
}

/// Connection ids for PostgresNIO's log metadata.
private final class IDCounter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).newValue }
}

/// The routes' queries in PostgreSQL: one statement each (`RETURNING` where SQLite needed a
/// second query), and `COLLATE "C"` where SQLite's byte order decides the order of a page.
struct PostgresLabConnection: LabConnection {
    let connection: PostgresConnection
    private var logger: Logger { PostgresTarget.silentLogger }

    private func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        var rows: [PostgresRow] = []
        for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
        return rows
    }

    private func todoRows(_ query: PostgresQuery) async throws -> [Todo] {
        try await rows(query).map { row in
            let (id, title, completed, createdAt) = try row.decode((Int64, String, Bool, String).self)
            return Todo(id: id, title: title, completed: completed, createdAt: createdAt)
        }
    }

    private func businessRows(_ query: PostgresQuery) async throws -> [Business] {
        try await rows(query).map { row in
            let (id, ref, name, category, city, rating, reviews) = try row.decode(
                (Int64, String, String, String, String, Double, Int).self
            )
            return Business(
                id: id,
                ref: ref,
                name: name,
                category: category,
                city: city,
                rating: rating,
                reviews: reviews
            )
        }
    }

    func ping() async throws { _ = try await rows("SELECT 1") }

    func todos(limit: Int) async throws -> [Todo] {
        try await todoRows("SELECT id, title, completed, created_at FROM todos ORDER BY id DESC LIMIT \(limit)")
    }

    func createTodo(title: String, completed: Bool, createdAt: String) async throws -> Todo {
        let created = try await todoRows(
            """
            INSERT INTO todos (title, completed, created_at) VALUES (\(title), \(completed), \(createdAt))
            RETURNING id, title, completed, created_at
            """
        )
        guard let todo = created.first else { throw PostgresStorageError("INSERT returned no row") }
        return todo
    }

    func todo(id: Int64) async throws -> Todo? {
        try await todoRows("SELECT id, title, completed, created_at FROM todos WHERE id = \(id)").first
    }

    func updateTodo(id: Int64, title: String?, completed: Bool?) async throws -> Todo? {
        try await todoRows(
            """
            UPDATE todos SET title = coalesce(\(title)::text, title),
                             completed = coalesce(\(completed)::bool, completed)
            WHERE id = \(id) RETURNING id, title, completed, created_at
            """
        ).first
    }

    func deleteTodo(id: Int64) async throws -> Todo? {
        try await todoRows("DELETE FROM todos WHERE id = \(id) RETURNING id, title, completed, created_at").first
    }

    func business(id: Int64) async throws -> Business? {
        try await businessRows(
            "SELECT id, ref, name, category, city, rating, reviews FROM businesses WHERE id = \(id)"
        ).first
    }

    func business(ref: String) async throws -> Business? {
        try await businessRows(
            "SELECT id, ref, name, category, city, rating, reviews FROM businesses WHERE ref = \(ref)"
        ).first
    }

    func businessKeys(limit: Int?) async throws -> [BusinessKey] {
        // A negative limit means all, as in SQLite; PostgreSQL's LIMIT NULL says the same.
        let bound: Int64? = limit.flatMap { $0 < 0 ? nil : Int64($0) }
        return try await rows("SELECT id, ref FROM businesses ORDER BY id LIMIT \(bound)::int8").map { row in
            let (id, ref) = try row.decode((Int64, String).self)
            return BusinessKey(id: id, ref: ref)
        }
    }

    func books(limit: Int, offset: Int) async throws -> [Book] {
        try await rows(
            """
            SELECT books.id, books.title, books.year, books.isbn, books.author_id, authors.name AS author
            FROM books JOIN authors ON authors.id = books.author_id
            ORDER BY books.title COLLATE "C", books.id LIMIT \(limit) OFFSET \(offset)
            """
        ).map { row in
            let (id, title, year, isbn, authorID, author) = try row.decode(
                (Int64, String, Int, String, Int64, String).self
            )
            return Book(id: id, title: title, year: year, isbn: isbn, authorID: authorID, author: author)
        }
    }

    func authors() async throws -> [Author] {
        try await rows(
            """
            SELECT authors.id, authors.name, authors.born, COUNT(books.id) AS books
            FROM authors LEFT JOIN books ON books.author_id = authors.id
            GROUP BY authors.id ORDER BY authors.name COLLATE "C", authors.id
            """
        ).map { row in
            let (id, name, born, books) = try row.decode((Int64, String, Int, Int).self)
            return Author(id: id, name: name, born: born, books: books)
        }
    }

    /// PostgresNIO wants a connection closed before it is released: the completion handler
    /// holds it until then.
    func close() { connection.close().whenComplete { _ in _ = connection } }
}

struct PostgresStorageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
