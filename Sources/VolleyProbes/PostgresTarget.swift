import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL probe (or the lab's PostgreSQL backend) connects, read from the
/// `postgres://user:password@host:port/database?sslmode=…` form that psql and most
/// frameworks already use, so that a user can paste the URL they have.
///
/// Defaults follow libpq where it matters: port 5432, user `postgres`, database named like
/// the user. TLS is off unless `sslmode` asks for it, because the databases Volley probes are
/// usually on the same host or network as the service under load.
public struct PostgresTarget: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// libpq's `sslmode` values; `allow` reads as `prefer`, `verify-ca` checks the chain but
    /// not the host name.
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// A name or address; IPv6 without brackets.
    public var host: String
    public var port: Int
    /// `postgres` when the URL names none: the role every installation has.
    public var user: String
    /// Never printed: `description`, `debugDescription`, the mirror and `redactedURL` all
    /// leave it out, so that interpolating a target into a message cannot leak it.
    public var password: String?
    /// Named like the user when the URL names none, as libpq does.
    public var database: String
    /// Off by default: a probe on the database's own network should not need certificates.
    public var tls: TLSMode
    /// A directory holding `.s.PGSQL.PORT` (`?host=/path`), which wins over `host` as in libpq.
    public var socketDirectory: String?
    public var connectTimeout: Duration
    /// Shown in `pg_stat_activity.application_name`, so that the probe's own connection can be
    /// told apart from the application's.
    public var applicationName: String

    public init(
        host: String = "127.0.0.1",
        port: Int = 5432,
        user: String = "postgres",
        password: String? = nil,
        database: String? = nil,
        tls: TLSMode = .disable,
        socketDirectory: String? = nil,
        connectTimeout: Duration = .seconds(3),
        applicationName: String = "volley"
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database ?? user
        self.tls = tls
        self.socketDirectory = socketDirectory
        self.connectTimeout = connectTimeout
        self.applicationName = applicationName
    }

    /// Whether `spec` is a PostgreSQL URL (`postgres://` or `postgresql://`).
    public static func matches(_ spec: String) -> Bool {
        let lower = spec.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Reads a URL; errors name the URL without its password and say what is wrong.
    public static func parse(_ spec: String) throws(ProbeError) -> PostgresTarget {
        let shown = ProbeFactory.redact(spec)
        guard matches(spec) else {
            throw ProbeError("\(shown): not a PostgreSQL URL; expected postgres://user:password@host:port/database")
        }
        guard let components = URLComponents(string: spec) else {
            throw ProbeError(
                "\(shown): not a valid URL (characters such as @ / : in a password must be percent-encoded)"
            )
        }
        var target = PostgresTarget()
        if let user = components.user, !user.isEmpty {
            target.user = user.removingPercentEncoding ?? user
        }
        if let password = components.percentEncodedPassword {
            target.password = password.removingPercentEncoding ?? password
        }
        if var host = components.percentEncodedHost, !host.isEmpty {
            host = host.removingPercentEncoding ?? host
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            if host.hasPrefix("/") {
                target.socketDirectory = host
            } else {
                target.host = host
            }
        }
        if let port = components.port {
            guard (1...65_535).contains(port) else { throw ProbeError("\(shown): port \(port) is out of range") }
            target.port = port
        }
        let path = components.percentEncodedPath
        let name = String(path.drop(while: { $0 == "/" }))
        target.database = name.isEmpty ? target.user : (name.removingPercentEncoding ?? name)
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw ProbeError(
                        "\(shown): sslmode=\(value) is not one of "
                            + TLSMode.allCases.map(\.rawValue).joined(separator: ", ")
                    )
                }
                target.tls = mode
            case "host":
                if value.hasPrefix("/") {
                    target.socketDirectory = value
                } else if !value.isEmpty {
                    target.host = value
                }
            case "port":
                guard let port = Int(value), (1...65_535).contains(port) else {
                    throw ProbeError("\(shown): port=\(value) is not a port number")
                }
                target.port = port
            case "user":
                target.user = value
            case "dbname":
                target.database = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0 else {
                    throw ProbeError("\(shown): connect_timeout=\(value) is not a whole number of seconds")
                }
                target.connectTimeout = .seconds(seconds)
            case "application_name":
                target.applicationName = value
            default:
                throw ProbeError(
                    "\(shown): unknown parameter \(item.name); known: sslmode, host, port, user, dbname, "
                        + "connect_timeout, application_name"
                )
            }
        }
        return target
    }

    /// The connection's coordinates for messages: server, database and user, never the
    /// password, so that an error can be pasted into a ticket as it is.
    public var description: String {
        let server = socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } ?? "\(hostForURL):\(port)"
        return "\(server), database \"\(database)\", user \"\(user)\""
    }

    /// The URL with its credentials replaced by `***` (`ProbeFactory.redact`): what output,
    /// history and reports show.
    public var redactedURL: String { ProbeFactory.redact(url) }

    /// The target as a URL again, password included: for handing to another client only,
    /// never for output.
    public var url: String {
        func encoded(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
                ?? text
        }
        var text = "postgres://" + encoded(user)
        if let password { text += ":" + encoded(password) }
        text += "@\(hostForURL):\(port)/" + encoded(database)
        var parameters: [String] = []
        if tls != .disable { parameters.append("sslmode=\(tls.rawValue)") }
        if let socketDirectory { parameters.append("host=" + encoded(socketDirectory)) }
        return parameters.isEmpty ? text : text + "?" + parameters.joined(separator: "&")
    }

    public var debugDescription: String { "PostgresTarget(\(redactedURL))" }

    /// Without the password, so that `dump` and test failure messages cannot show it.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "host": host, "port": port, "user": user, "database": database, "tls": tls.rawValue,
                "socketDirectory": socketDirectory as Any, "password": password == nil ? "none" : "***",
            ]
        )
    }

    private var hostForURL: String { host.contains(":") ? "[\(host)]" : host }

    /// The PostgresNIO configuration: TLS as `sslmode` asked, the connect timeout, and the
    /// server-side limits every session of ours gets (`statement_timeout`, `lock_timeout`),
    /// so that a stuck database cannot hold a query, or the run, for long.
    public func configuration(
        statementTimeout: Duration? = nil,
        lockTimeout: Duration? = nil
    ) throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socketDirectory {
            configuration = PostgresConnection.Configuration(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)",
                username: user,
                password: password,
                database: database
            )
        } else {
            configuration = PostgresConnection.Configuration(
                host: host,
                port: port,
                username: user,
                password: password,
                database: database,
                tls: try tlsConfiguration()
            )
        }
        configuration.options.connectTimeout = .milliseconds(Int64(connectTimeout.seconds * 1000))
        var parameters = [("application_name", applicationName)]
        if let statementTimeout {
            parameters.append(("statement_timeout", String(Int64(statementTimeout.seconds * 1000))))
        }
        if let lockTimeout { parameters.append(("lock_timeout", String(Int64(lockTimeout.seconds * 1000)))) }
        configuration.options.additionalStartupParameters = parameters
        return configuration
    }

    private func tlsConfiguration() throws -> PostgresConnection.Configuration.TLS {
        var client = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .disable:
            return .disable
        case .allow, .prefer:
            client.certificateVerification = .none
            return .prefer(try NIOSSLContext(configuration: client))
        case .require:
            client.certificateVerification = .none
            return .require(try NIOSSLContext(configuration: client))
        case .verifyCA:
            client.certificateVerification = .noHostnameVerification
            return .require(try NIOSSLContext(configuration: client))
        case .verifyFull:
            client.certificateVerification = .fullVerification
            return .require(try NIOSSLContext(configuration: client))
        }
    }

    /// Connects within `connectTimeout` (the whole start-up, authentication included, not
    /// only the TCP handshake), or throws a `ProbeError` that says why in plain words.
    public func connect(
        id: Int,
        statementTimeout: Duration? = nil,
        lockTimeout: Duration? = nil,
        logger: Logger = PostgresTarget.silentLogger
    ) async throws(ProbeError) -> PostgresConnection {
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try self.configuration(statementTimeout: statementTimeout, lockTimeout: lockTimeout)
        } catch {
            throw ProbeError("PostgreSQL \(description): TLS could not be set up: \(error)")
        }
        do {
            return try await withDeadline(connectTimeout) {
                try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
            }
        } catch {
            throw explain(error)
        }
    }

    /// A failure worded for the person running the load: what was reached (never the
    /// password) and why, in the words an operator would use.
    public func explain(_ error: any Error) -> ProbeError {
        ProbeError("PostgreSQL \(description): \(reason(error))")
    }

    func reason(_ error: any Error) -> String {
        if let error = error as? ProbeError { return error.description }
        if error is DeadlineExceeded {
            return "no answer within \(Self.format(connectTimeout)) (is the host reachable and PostgreSQL listening?)"
        }
        if let error = error as? PSQLError {
            switch error.code {
            case .server:
                return serverReason(error)
            case .authMechanismRequiresPassword:
                return "the server asks for a password and the URL has none (postgres://user:password@…)"
            case .unsupportedAuthMechanism:
                return "the server asks for an authentication method PostgresNIO does not support"
            case .saslError:
                return "authentication failed for user \"\(user)\" (SCRAM exchange failed)"
            case .sslUnsupported:
                return "the server does not accept TLS (try sslmode=disable)"
            case .serverClosedConnection:
                return "the server closed the connection"
            case .clientClosedConnection:
                return "the connection was closed"
            case .connectionError:
                if let underlying = error.underlying { return networkReason(underlying) }
                return "the connection failed"
            default:
                if let underlying = error.underlying { return networkReason(underlying) }
                return "PostgresNIO error \(error.code)"
            }
        }
        return networkReason(error)
    }

    private func serverReason(_ error: PSQLError) -> String {
        let state = error.serverInfo?[.sqlState] ?? ""
        let message = error.serverInfo?[.message] ?? "server error"
        switch state {
        case "28P01":
            return "authentication failed for user \"\(user)\" (wrong password?)"
        case "28000":
            return "the server refused user \"\(user)\": \(message) (check pg_hba.conf)"
        case "3D000":
            return "database \"\(database)\" does not exist"
        case "53300":
            return "too many connections: the server is at max_connections (\(message))"
        case "57P03":
            return "the server is starting up or shutting down (\(message))"
        case "57014":
            return "a query was cancelled by statement_timeout (\(message))"
        case "55P03":
            return "a query waited too long for a lock (\(message))"
        case "42501":
            return "permission denied (\(message)); granting pg_monitor to \"\(user)\" lets it read the statistics"
        default:
            return state.isEmpty ? message : "\(message) (SQLSTATE \(state))"
        }
    }

    private func networkReason(_ error: any Error) -> String {
        let text = String(describing: error)
        let lower = text.lowercased()
        if lower.contains("refused") {
            return "connection refused (is PostgreSQL running and listening on \(hostForURL):\(port)?)"
        }
        if lower.contains("connecttimeout") || lower.contains("timed out") || lower.contains("timeout") {
            return "no answer within \(Self.format(connectTimeout)) (is the host reachable?)"
        }
        if lower.contains("getaddrinfo") || lower.contains("resolution") || lower.contains("unknown host") {
            return "host \"\(host)\" could not be resolved"
        }
        if lower.contains("no such file") || lower.contains("enoent") {
            return "no server socket at \(socketDirectory ?? host) (is PostgreSQL running?)"
        }
        return scrub(text)
    }

    /// Removes the password from a text that came from elsewhere (a library's description).
    func scrub(_ text: String) -> String {
        guard let password, !password.isEmpty else { return text }
        return text.replacingOccurrences(of: password, with: "***")
    }

    static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
    }

    /// PostgresNIO logs to a `Logger`; the probe and the lab report failures themselves.
    public static let silentLogger = Logger(label: "volley.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// Thrown by `withDeadline` when the time ran out first.
struct DeadlineExceeded: Error {}

/// Runs `body` with a time limit. `onTimeout` runs when the limit is reached and must make
/// `body` return (closing the connection a query waits on does), since a PostgresNIO query
/// does not stop on task cancellation alone; a connect does.
func withDeadline<T: Sendable>(
    _ limit: Duration,
    onTimeout: @escaping @Sendable () -> Void = {},
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            onTimeout()
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlineExceeded() }
        return value
    }
}
