import Foundation
import GRDB

/// One connection to the lab's database, with the operations the routes need and no more.
///
/// The routes, the pool and every knob stay the same whichever database is behind them; only
/// the SQL dialect and the driver change. Each call is one unit of work (one transaction), as
/// one request's query was.
protocol LabConnection: Sendable {
    func ping() async throws
    func todos(limit: Int) async throws -> [Todo]
    func createTodo(title: String, completed: Bool, createdAt: String) async throws -> Todo
    func todo(id: Int64) async throws -> Todo?
    func updateTodo(id: Int64, title: String?, completed: Bool?) async throws -> Todo?
    func deleteTodo(id: Int64) async throws -> Todo?
    func business(id: Int64) async throws -> Business?
    func business(ref: String) async throws -> Business?
    /// `limit` nil: every business.
    func businessKeys(limit: Int?) async throws -> [BusinessKey]
    func books(limit: Int, offset: Int) async throws -> [Book]
    func authors() async throws -> [Author]
    /// Closes without waiting: the pool closes overflow connections as it checks them in.
    func close()
}

/// The lab's database: where its tables live, how they are seeded, how a connection is opened.
protocol LabStorage: Sendable {
    /// Creates the tables (or empties them) and seeds the same rows on every start.
    func createAndSeed(configuration: LabConfiguration) async throws
    /// One new connection, for the pool.
    func open() async throws -> any LabConnection
}

/// `{"id": 1, "ref": "BIZ-000001"}`: the keys a data file for `/businesses/…` needs.
struct BusinessKey: Encodable, Sendable {
    var id: Int64
    var ref: String
}

// MARK: - SQLite (GRDB)

/// The lab's own SQLite file in WAL mode, one `DatabaseQueue` per pooled connection.
struct SQLiteStorage: LabStorage {
    let path: String

    func createAndSeed(configuration: LabConfiguration) async throws {
        try LabDatabase.createAndSeed(path: path, configuration: configuration)
    }

    func open() async throws -> any LabConnection {
        SQLiteLabConnection(database: try LabDatabase.open(path: path))
    }
}

/// The queries as the routes spelled them before the storage protocol existed: reads in a
/// read transaction, writes in a write transaction.
struct SQLiteLabConnection: LabConnection {
    let database: DatabaseQueue

    func ping() async throws {
        _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    func todos(limit: Int) async throws -> [Todo] {
        try await database.read { db in
            try Todo.fetchAll(db, sql: "SELECT * FROM todos ORDER BY id DESC LIMIT ?", arguments: [limit])
        }
    }

    func createTodo(title: String, completed: Bool, createdAt: String) async throws -> Todo {
        try await database.write { db -> Todo in
            try db.execute(
                sql: "INSERT INTO todos (title, completed, created_at) VALUES (?, ?, ?)",
                arguments: [title, completed, createdAt]
            )
            return Todo(id: db.lastInsertedRowID, title: title, completed: completed, createdAt: createdAt)
        }
    }

    func todo(id: Int64) async throws -> Todo? {
        try await database.read { db in
            try Todo.fetchOne(db, sql: "SELECT * FROM todos WHERE id = ?", arguments: [id])
        }
    }

    func updateTodo(id: Int64, title: String?, completed: Bool?) async throws -> Todo? {
        try await database.write { db -> Todo? in
            if let title {
                try db.execute(sql: "UPDATE todos SET title = ? WHERE id = ?", arguments: [title, id])
            }
            if let completed {
                try db.execute(sql: "UPDATE todos SET completed = ? WHERE id = ?", arguments: [completed, id])
            }
            return try Todo.fetchOne(db, sql: "SELECT * FROM todos WHERE id = ?", arguments: [id])
        }
    }

    func deleteTodo(id: Int64) async throws -> Todo? {
        try await database.write { db -> Todo? in
            let todo = try Todo.fetchOne(db, sql: "SELECT * FROM todos WHERE id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM todos WHERE id = ?", arguments: [id])
            return todo
        }
    }

    func business(id: Int64) async throws -> Business? {
        try await database.read { db in
            try Business.fetchOne(db, sql: "SELECT * FROM businesses WHERE id = ?", arguments: [id])
        }
    }

    func business(ref: String) async throws -> Business? {
        try await database.read { db in
            try Business.fetchOne(db, sql: "SELECT * FROM businesses WHERE ref = ?", arguments: [ref])
        }
    }

    func businessKeys(limit: Int?) async throws -> [BusinessKey] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT id, ref FROM businesses ORDER BY id LIMIT ?",
                arguments: [limit ?? -1]
            ).map { BusinessKey(id: $0["id"], ref: $0["ref"]) }
        }
    }

    func books(limit: Int, offset: Int) async throws -> [Book] {
        try await database.read { db in
            try Book.fetchAll(
                db,
                sql: """
                    SELECT books.id, books.title, books.year, books.isbn, books.author_id,
                           authors.name AS author
                    FROM books JOIN authors ON authors.id = books.author_id
                    ORDER BY books.title, books.id LIMIT ? OFFSET ?
                    """,
                arguments: [limit, offset]
            )
        }
    }

    func authors() async throws -> [Author] {
        try await database.read { db in
            try Author.fetchAll(
                db,
                sql: """
                    SELECT authors.id, authors.name, authors.born, COUNT(books.id) AS books
                    FROM authors LEFT JOIN books ON books.author_id = authors.id
                    GROUP BY authors.id ORDER BY authors.name, authors.id
                    """
            )
        }
    }

    func close() { try? database.close() }
}
