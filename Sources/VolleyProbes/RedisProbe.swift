import Foundation
import NIOCore
import NIOPosix
import VolleyCore

/// Where a Redis probe connects, read from `redis://[user:password@]host[:port][/db]`.
///
/// The password is kept only to send AUTH; `description` is the display name, so a target
/// printed by mistake still shows no credentials.
public struct RedisTarget: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var db: Int
    public var user: String?
    public var password: String?

    /// Redis's own defaults: port 6379, database 0, no password.
    public init(host: String, port: Int = 6379, db: Int = 0, user: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.db = db
        self.user = user
        self.password = password
    }

    /// `redis://host:port/db`, without credentials: safe for output, history and reports.
    public var displayName: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "redis://\(shownHost):\(port)" + (db == 0 ? "" : "/\(db)")
    }

    public var description: String { displayName }

    /// Reads a `redis://` URL; `rediss://` is refused by name, because a TLS Redis answered in
    /// plain text would look like a Redis that hangs.
    public static func parse(_ spec: String) throws(ProbeError) -> RedisTarget {
        let shown = ProbeFactory.redact(spec)
        if spec.lowercased().hasPrefix("rediss://") {
            throw ProbeError("--probe \(shown): TLS (rediss://) is not supported yet; probe a plain-text port")
        }
        guard spec.lowercased().hasPrefix("redis://"), let components = URLComponents(string: spec),
            var host = components.host, !host.isEmpty
        else {
            throw ProbeError("--probe \(shown): not a valid redis://[user:password@]host[:port][/db] URL")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        var db = 0
        if !path.isEmpty {
            guard let n = Int(path), n >= 0 else {
                throw ProbeError("--probe \(shown): the path must be a database number (/0, /1 …), not /\(path)")
            }
            db = n
        }
        let user = components.user.flatMap { $0.isEmpty ? nil : $0 }
        let password = components.password.flatMap { $0.isEmpty ? nil : $0 }
        return RedisTarget(host: host, port: components.port ?? 6379, db: db, user: user, password: password)
    }
}

/// Redis's INFO reply (`field:value` lines under `# Section` headers), read as a flat table.
///
/// Field names are unique across sections, so sections are skipped rather than nested.
public struct RedisInfo: Sendable, Equatable {
    public var fields: [String: String]

    /// Lenient: lines that are not `field:value` are skipped, CRLF or LF alike, so a field
    /// added by a later Redis never breaks the probe.
    public init(parsing text: String) {
        var fields: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        self.fields = fields
    }

    /// A numeric field; INFO's counters are integers, its ratios decimals.
    public func number(_ name: String) -> Double? { fields[name].flatMap { Double($0) } }

    /// Keys per database from the Keyspace section (`db0:keys=12,expires=0,avg_ttl=0`). A
    /// database with no keys has no line at all.
    public var keyspace: [Int: Double] {
        var out: [Int: Double] = [:]
        for (name, value) in fields where name.hasPrefix("db") {
            guard let db = Int(name.dropFirst(2)) else { continue }
            for pair in value.split(separator: ",") where pair.hasPrefix("keys=") {
                if let keys = Double(pair.dropFirst(5)) { out[db] = keys }
            }
        }
        return out
    }
}

/// Turns successive INFO readings into the probe's series: gauges as read, counters as
/// per-second rates, and a hit rate only for the intervals in which lookups happened.
public struct RedisSeries: Sendable {
    private var rates = RateTracker()
    /// Databases seen with keys once, and the probed one: a database emptied later (or still
    /// empty) reads 0 rather than vanishing.
    private var databases: Set<Int>

    /// `database` is the probed one, reported from the first reading even while it is empty.
    public init(database: Int = 0) { databases = [0, database] }

    /// The series for one reading taken `t` seconds into the run; rates need the previous
    /// reading, so the first one has none.
    public mutating func values(_ info: RedisInfo, at t: Double) -> [String: Double] {
        var out: [String: Double] = [:]
        out["redis.used_memory_bytes"] = info.number("used_memory")
        out["redis.clients"] = info.number("connected_clients")
        out["redis.blocked_clients"] = info.number("blocked_clients")
        out["redis.ops_per_s"] = info.number("instantaneous_ops_per_sec")
        if let commands = info.number("total_commands_processed") {
            out["redis.commands_per_s"] = rates.rate("commands", value: commands, at: t)
        }
        if let evicted = info.number("evicted_keys") {
            out["redis.evicted_keys"] = evicted
            out["redis.evicted_keys_per_s"] = rates.rate("evicted", value: evicted, at: t)
        }
        if let hits = info.number("keyspace_hits"), let misses = info.number("keyspace_misses") {
            let hitRate = rates.rate("hits", value: hits, at: t)
            let missRate = rates.rate("misses", value: misses, at: t)
            if let hitRate, let missRate, hitRate + missRate > 0 {
                out["redis.hit_rate"] = hitRate / (hitRate + missRate)
            }
        }
        let keyspace = info.keyspace
        databases.formUnion(keyspace.keys)
        for db in databases { out["redis.keys.db\(db)"] = keyspace[db] ?? 0 }
        return out
    }
}

/// Reads a Redis server once a second: memory, clients, throughput, evictions, keys, hit rate
/// and the length of the lists used as job queues, so that a run shows whether Redis (or the
/// work piling up in it) is what limits the service.
///
/// One connection is kept for the run and opened again after a failed reading; every step
/// has a deadline, so a stuck Redis costs failed readings, never a hung run.
public actor RedisProbe: ProbeSource {
    public nonisolated let kind = "redis"
    public nonisolated let displayName: String
    public nonisolated let target: RedisTarget
    /// Lists whose LLEN is sampled as `redis.queue.NAME.length`.
    public nonisolated let queues: [String]
    private let connectTimeout: TimeAmount
    private let commandTimeout: TimeAmount
    private var connection: RedisConnection?
    private var series: RedisSeries
    private var firstInfo: RedisInfo?
    private var lastInfo: RedisInfo?
    private var queueProblems: [String: String] = [:]

    /// Timeouts of 2 s by default: long enough for a busy Redis, short enough that a stuck one
    /// costs a reading or two rather than the run.
    public init(
        target: RedisTarget,
        queues: [String] = [],
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2)
    ) {
        self.target = target
        self.displayName = target.displayName
        self.queues = queues
        self.series = RedisSeries(database: target.db)
        self.connectTimeout = Self.timeAmount(connectTimeout)
        self.commandTimeout = Self.timeAmount(commandTimeout)
    }

    public func check() async throws {
        let info = try await readInfo(queues: []).info
        guard info.fields["redis_version"] != nil else {
            throw ProbeError("\(displayName) is not Redis: its INFO reply has no redis_version")
        }
        if firstInfo == nil { firstInfo = info }
    }

    public func sample(at t: Double) async throws -> [String: Double] {
        let (info, lengths) = try await readInfo(queues: queues)
        if firstInfo == nil { firstInfo = info }
        lastInfo = info
        var out = series.values(info, at: t)
        for (name, length) in lengths { out["redis.queue.\(name).length"] = length }
        return out
    }

    public func notes() async -> [String] {
        guard let info = lastInfo ?? firstInfo else { return [] }
        var out: [String] = []
        if let version = info.fields["redis_version"] {
            out.append("Redis \(version)" + (info.fields["redis_mode"].map { " (\($0))" } ?? ""))
        }
        if let maxmemory = info.number("maxmemory") {
            let limit = maxmemory == 0 ? "0 (no limit)" : Self.bytes(maxmemory)
            out.append("maxmemory \(limit), policy \(info.fields["maxmemory_policy"] ?? "unknown")")
        }
        if let first = firstInfo?.number("used_memory"), let last = lastInfo?.number("used_memory") {
            out.append("used memory \(Self.bytes(first)) at start, \(Self.bytes(last)) at end")
        }
        for name in queues.sorted() {
            if let problem = queueProblems[name] { out.append("queue \(name): \(problem)") }
        }
        return out
    }

    public func close() async {
        await connection?.close()
        connection = nil
    }

    /// INFO and the queue lengths in one round trip; any failure drops the connection, so the
    /// next reading starts from a fresh one.
    private func readInfo(queues: [String]) async throws -> (info: RedisInfo, lengths: [String: Double]) {
        do {
            let connection = try await connected()
            let replies = try await connection.send([["INFO"]] + queues.map { ["LLEN", $0] })
            let info: RedisInfo
            switch replies[0] {
            case .bulkString(let bytes?):
                info = RedisInfo(parsing: String(decoding: bytes, as: UTF8.self))
            case .error(let message) where message.hasPrefix("NOAUTH"):
                throw ProbeError(
                    "\(displayName) requires a password (\(message)); give it as redis://:PASSWORD@host:port"
                )
            case .error(let message):
                throw ProbeError("\(displayName): INFO failed: \(message)")
            default:
                throw ProbeError("\(displayName) is not Redis: INFO answered \(replies[0])")
            }
            var lengths: [String: Double] = [:]
            for (name, reply) in zip(queues, replies.dropFirst()) {
                switch reply {
                case .integer(let n): lengths[name] = Double(n)
                case .error(let message): queueProblems[name] = message
                default: queueProblems[name] = "LLEN answered \(reply)"
                }
            }
            return (info, lengths)
        } catch {
            await connection?.close()
            connection = nil
            throw describe(error)
        }
    }

    private func connected() async throws -> RedisConnection {
        if let connection { return connection }
        let new = try await RedisConnection.connect(
            host: target.host,
            port: target.port,
            connectTimeout: connectTimeout,
            commandTimeout: commandTimeout
        )
        do {
            var setup: [[String]] = []
            if let password = target.password {
                setup.append(target.user.map { ["AUTH", $0, password] } ?? ["AUTH", password])
            }
            if target.db != 0 { setup.append(["SELECT", String(target.db)]) }
            if !setup.isEmpty {
                let replies = try await new.send(setup)
                if target.password != nil, case .error(let message) = replies[0] {
                    throw ProbeError("\(displayName): authentication failed: \(message)")
                }
                if target.db != 0, case .error(let message) = replies[replies.count - 1] {
                    throw ProbeError("\(displayName): SELECT \(target.db) failed: \(message)")
                }
            }
        } catch {
            await new.close()
            throw error
        }
        connection = new
        return new
    }

    /// Any failure as a `ProbeError` that says what and why, with the password scrubbed even
    /// from text the server or the network layer produced.
    private func describe(_ error: any Error) -> ProbeError {
        let message: String
        switch error {
        case let error as ProbeError:
            message = error.description
        case let error as RESPProtocolError:
            message = "\(displayName) is not Redis (its reply is not RESP: \(error.description))"
        case let error as RedisConnection.Failure:
            message = "\(displayName): \(error.description)"
        case ChannelError.connectTimeout:
            message = "\(displayName) cannot be reached: no answer to connect within \(Self.seconds(connectTimeout))"
        case let error as NIOConnectionError:
            let errnos = error.connectionErrors.compactMap { ($0.error as? IOError)?.errnoCode }
            if errnos.contains(ECONNREFUSED) {
                message = "\(displayName) cannot be reached: connection refused (nothing listens on that port)"
            } else if error.dnsAError != nil || error.dnsAAAAError != nil, error.connectionErrors.isEmpty {
                message = "\(displayName) cannot be reached: \(target.host) cannot be resolved"
            } else if error.connectionErrors.contains(where: {
                if case ChannelError.connectTimeout = $0.error { return true } else { return false }
            }) {
                message =
                    "\(displayName) cannot be reached: no answer to connect within \(Self.seconds(connectTimeout))"
            } else {
                message = "\(displayName) cannot be reached: \(error)"
            }
        case ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed, ChannelError.eof:
            message = "\(displayName): the connection was closed"
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            message = "\(displayName) cannot be reached: connection refused (nothing listens on that port)"
        default:
            message = "\(displayName): \(error)"
        }
        guard let password = target.password else { return ProbeError(message) }
        return ProbeError(message.replacingOccurrences(of: password, with: "***"))
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let c = duration.components
        return .nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
    }

    static func seconds(_ amount: TimeAmount) -> String {
        let s = Double(amount.nanoseconds) / 1e9
        return s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }

    static func bytes(_ n: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = n
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// One TCP connection to Redis: commands written as RESP arrays, replies matched to them in
/// order (Redis answers in the order it was asked, so a batch is one round trip).
final class RedisConnection: Sendable {
    /// Why a command got no reply, worded for the person running the load.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let channel: any Channel
    let commandTimeout: TimeAmount

    private init(channel: any Channel, commandTimeout: TimeAmount) {
        self.channel = channel
        self.commandTimeout = commandTimeout
    }

    static func connect(
        host: String,
        port: Int,
        connectTimeout: TimeAmount,
        commandTimeout: TimeAmount
    ) async throws -> RedisConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RESPClientHandler())
                }
            }
            .connect(host: host, port: port)
            .get()
        return RedisConnection(channel: channel, commandTimeout: commandTimeout)
    }

    /// Sends the commands at once and waits for all their replies, `commandTimeout` at most;
    /// past it the connection is closed and the probe opens a new one next time.
    func send(_ commands: [[String]]) async throws -> [RESPValue] {
        let loop = channel.eventLoop
        let promises = commands.map { _ in loop.makePromise(of: RESPValue.self) }
        let name = commands.first?.first ?? "?"
        let timeout = commandTimeout
        let channel = self.channel
        // Failing a promise twice is a no-op in NIO, so the deadline, a failed write and the
        // handler may all race to fail the same request.
        let deadline = loop.scheduleTask(in: timeout) {
            let failure = Failure(description: "no reply to \(name) within \(RedisProbe.seconds(timeout))")
            for promise in promises { promise.fail(failure) }
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        for (command, reply) in zip(commands, promises) {
            let written = loop.makePromise(of: Void.self)
            written.futureResult.whenFailure { reply.fail($0) }
            channel.write(RESPClientHandler.Request(bytes: RESP.encode(command), reply: reply), promise: written)
        }
        channel.flush()
        var replies: [RESPValue] = []
        for promise in promises { replies.append(try await promise.futureResult.get()) }
        return replies
    }

    func close() async {
        try? await channel.close()
    }
}

/// Writes requests, parses the byte stream into replies and hands each to the oldest request
/// still waiting; a protocol error, a timeout or a closed connection fails every waiting one.
final class RESPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    struct Request: Sendable {
        var bytes: [UInt8]
        var reply: EventLoopPromise<RESPValue>
    }

    private var parser = RESPParser()
    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>()
    private var closed = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if closed {
            request.reply.fail(RedisConnection.Failure(description: "the connection is closed"))
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        waiting.append(request.reply)
        var buffer = context.channel.allocator.buffer(capacity: request.bytes.count)
        buffer.writeBytes(request.bytes)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        parser.append(buffer.readableBytesView)
        do {
            while let reply = try parser.next() {
                guard let waiter = waiting.popFirst() else {
                    failAll(RedisConnection.Failure(description: "sent a reply nobody asked for"), context: context)
                    return
                }
                waiter.succeed(reply)
            }
        } catch {
            failAll(error, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        let reason =
            parser.pendingByteCount > 0
            ? "closed the connection in the middle of a reply"
            : "closed the connection without answering (not Redis, or it dropped this client)"
        failWaiting(RedisConnection.Failure(description: reason))
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error, context: ChannelHandlerContext) {
        closed = true
        failWaiting(error)
        context.close(promise: nil)
    }

    private func failWaiting(_ error: any Error) {
        while let waiter = waiting.popFirst() { waiter.fail(error) }
    }
}
