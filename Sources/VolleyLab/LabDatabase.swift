import Foundation
import GRDB

/// The lab's schema, seed data and queries. Plain SQL through GRDB: the lab imitates the
/// services in our users' reports (a todo API, a business directory, a books catalogue), and
/// their cost lives in the queries, so the queries are spelled out where they can be read.
enum LabDatabase {
    /// Opens one connection to the lab's file, the way each pooled connection does.
    static func open(path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.journalMode = .wal
        // Writers wait for each other instead of failing: SQLite allows one writer at a time.
        configuration.busyMode = .timeout(10)
        configuration.label = "lab"
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Creates the tables and seeds them deterministically (the same ids and refs every run,
    /// so that data files and plans written against one lab work against the next).
    static func createAndSeed(path: String, configuration: LabConfiguration) throws {
        let db = try open(path: path)
        defer { try? db.close() }
        try db.write { db in
            try db.execute(
                sql: """
                    DROP TABLE IF EXISTS todos; DROP TABLE IF EXISTS businesses;
                    DROP TABLE IF EXISTS books; DROP TABLE IF EXISTS authors;
                    CREATE TABLE todos (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        title TEXT NOT NULL,
                        completed INTEGER NOT NULL DEFAULT 0,
                        created_at TEXT NOT NULL
                    );
                    CREATE TABLE businesses (
                        id INTEGER PRIMARY KEY,
                        ref TEXT NOT NULL UNIQUE,
                        name TEXT NOT NULL,
                        category TEXT NOT NULL,
                        city TEXT NOT NULL,
                        rating REAL NOT NULL,
                        reviews INTEGER NOT NULL
                    );
                    CREATE TABLE authors (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        born INTEGER NOT NULL
                    );
                    CREATE TABLE books (
                        id INTEGER PRIMARY KEY,
                        title TEXT NOT NULL,
                        author_id INTEGER NOT NULL REFERENCES authors(id),
                        year INTEGER NOT NULL,
                        isbn TEXT NOT NULL
                    );
                    CREATE INDEX books_author ON books(author_id);
                    """
            )
            let seed = LabSeed(configuration: configuration)
            for todo in seed.todos {
                try db.execute(
                    sql: "INSERT INTO todos (title, completed, created_at) VALUES (?, ?, ?)",
                    arguments: [todo.title, todo.completed, todo.createdAt]
                )
            }
            for business in seed.businesses {
                try db.execute(
                    sql: """
                        INSERT INTO businesses (id, ref, name, category, city, rating, reviews)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        business.id, business.ref, business.name, business.category, business.city,
                        business.rating, business.reviews,
                    ]
                )
            }
            for author in seed.authors {
                try db.execute(
                    sql: "INSERT INTO authors (id, name, born) VALUES (?, ?, ?)",
                    arguments: [author.id, author.name, author.born]
                )
            }
            for book in seed.books {
                try db.execute(
                    sql: "INSERT INTO books (id, title, author_id, year, isbn) VALUES (?, ?, ?, ?, ?)",
                    arguments: [book.id, book.title, book.authorID, book.year, book.isbn]
                )
            }
        }
    }

    /// The external reference of a business: stable, unique, and not its id, like the
    /// `/businesses/ref/{ref}` lookups in the field report.
    static func businessRef(_ id: Int) -> String {
        let digits = String(id)
        return "BIZ-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}

/// The seed rows, drawn from one seeded generator in one order, so that SQLite and
/// PostgreSQL labs (and every start of either) hold the same ids, refs and titles: data files
/// and plans written against one lab work against the next.
struct LabSeed {
    struct TodoRow {
        var title: String
        var completed: Bool
        var createdAt: String
    }

    struct BusinessRow {
        var id: Int64
        var ref: String
        var name: String
        var category: String
        var city: String
        var rating: Double
        var reviews: Int
    }

    struct AuthorRow {
        var id: Int64
        var name: String
        var born: Int
    }

    struct BookRow {
        var id: Int64
        var title: String
        var authorID: Int64
        var year: Int
        var isbn: String
    }

    var todos: [TodoRow] = []
    var businesses: [BusinessRow] = []
    var authors: [AuthorRow] = []
    var books: [BookRow] = []

    init(configuration: LabConfiguration, now: Date = Date()) {
        var random = SeededRandom(seed: 0x5EED)
        let now = ISO8601DateFormatter().string(from: now)
        for i in stride(from: 1, through: configuration.todos, by: 1) {
            let title = "\(Words.verbs.pick(&random)) the \(Words.nouns.pick(&random)) #\(i)"
            todos.append(TodoRow(title: title, completed: random.next() % 3 == 0, createdAt: now))
        }
        for id in 1...configuration.businesses {
            let name =
                "\(Words.adjectives.pick(&random)) \(Words.nouns.pick(&random).capitalized) "
                + Words.suffixes.pick(&random)
            let category = Words.categories.pick(&random)
            let city = Words.cities.pick(&random)
            let rating = Double(10 + random.next() % 41) / 10
            let reviews = Int(random.next() % 2000)
            businesses.append(
                BusinessRow(
                    id: Int64(id),
                    ref: LabDatabase.businessRef(id),
                    name: name,
                    category: category,
                    city: city,
                    rating: rating,
                    reviews: reviews
                )
            )
        }
        for id in 1...configuration.authors {
            let name = "\(Words.firstNames.pick(&random)) \(Words.lastNames.pick(&random))"
            authors.append(AuthorRow(id: Int64(id), name: name, born: 1900 + Int(random.next() % 100)))
        }
        for id in stride(from: 1, through: configuration.books, by: 1) {
            let title = "The \(Words.adjectives.pick(&random)) \(Words.nouns.pick(&random).capitalized)"
            let authorID = 1 + Int64(random.next() % UInt64(configuration.authors))
            let year = 1950 + Int(random.next() % 75)
            let isbn = "978-\(100_000_000 + Int(random.next() % 899_999_999))"
            books.append(BookRow(id: Int64(id), title: title, authorID: authorID, year: year, isbn: isbn))
        }
    }
}

/// Records as the API returns them.
struct Todo: Codable, Sendable, FetchableRecord {
    var id: Int64
    var title: String
    var completed: Bool
    var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, title, completed
        case createdAt = "created_at"
    }
}

struct Business: Codable, Sendable, FetchableRecord {
    var id: Int64
    var ref: String
    var name: String
    var category: String
    var city: String
    var rating: Double
    var reviews: Int
}

struct Author: Codable, Sendable, FetchableRecord {
    var id: Int64
    var name: String
    var born: Int
    var books: Int
}

struct Book: Codable, Sendable, FetchableRecord {
    var id: Int64
    var title: String
    var year: Int
    var isbn: String
    var authorID: Int64
    var author: String

    enum CodingKeys: String, CodingKey {
        case id, title, year, isbn
        case authorID = "author_id"
        case author
    }
}

/// SplitMix64: seeded, so the lab's data is the same on every start.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array where Element == String {
    fileprivate func pick(_ random: inout SeededRandom) -> String {
        self[Int(random.next() % UInt64(count))]
    }
}

private enum Words {
    static let verbs = ["Buy", "Write", "Call", "Fix", "Plan", "Review", "Book", "Clean", "Read", "Send"]
    static let nouns = [
        "garden", "report", "bicycle", "kitchen", "invoice", "meeting", "river", "lantern", "harbor",
        "orchard", "compass", "library", "market", "bakery", "studio", "workshop",
    ]
    static let adjectives = [
        "Golden", "Silent", "Bright", "Hidden", "Quiet", "Northern", "Crimson", "Gentle", "Rapid",
        "Ancient", "Little", "Blue",
    ]
    static let suffixes = ["Co.", "Ltd", "& Sons", "Group", "House", "Works", "Corner", "Place"]
    static let categories = [
        "restaurant", "bakery", "bookshop", "plumber", "dentist", "florist", "garage", "gym", "cafe",
        "hardware",
    ]
    static let cities = [
        "Lisbon", "Porto", "Leeds", "Lyon", "Ghent", "Bergen", "Kraków", "Turin", "Utrecht", "Cork",
    ]
    static let firstNames = ["Ana", "Ben", "Chloé", "Dara", "Emil", "Farah", "Goran", "Hana", "Ivo", "Jun"]
    static let lastNames = ["Silva", "Okafor", "Novak", "Berg", "Moreau", "Tanaka", "Rossi", "Kowalski"]
}
