import Foundation
import NIOCore
import NIOPosix
import Testing
import VolleyCore

@testable import VolleyProbes

@Suite struct RedisTargetTests {
    @Test func urlsGiveHostPortDatabaseAndCredentials() throws {
        #expect(try RedisTarget.parse("redis://127.0.0.1") == RedisTarget(host: "127.0.0.1"))
        #expect(try RedisTarget.parse("redis://cache:6380/2") == RedisTarget(host: "cache", port: 6380, db: 2))
        #expect(try RedisTarget.parse("redis://:s3cret@h:1") == RedisTarget(host: "h", port: 1, password: "s3cret"))
        #expect(
            try RedisTarget.parse("redis://app:p%40ss@h/0")
                == RedisTarget(host: "h", user: "app", password: "p@ss")
        )
        #expect(try RedisTarget.parse("redis://[::1]:7000").host == "::1")
    }

    @Test func theDisplayNameHasNoCredentials() throws {
        let target = try RedisTarget.parse("redis://app:s3cret@127.0.0.1:6380/4")
        #expect(target.displayName == "redis://127.0.0.1:6380/4")
        #expect(!"\(target)".contains("s3cret"))
        let probe = try ProbeFactory.make("redis://:s3cret@127.0.0.1")
        #expect(probe.displayName == "redis://127.0.0.1:6379")
        #expect(probe.kind == "redis")
    }

    @Test func tlsAndMalformedURLsAreRefusedClearly() {
        #expect {
            try ProbeFactory.make("rediss://:s3cret@cache:6380")
        } throws: { error in
            let text = String(describing: error)
            return text.contains("TLS") && text.contains("not supported yet") && !text.contains("s3cret")
        }
        #expect(throws: ProbeError.self) { try RedisTarget.parse("redis://") }
        #expect(throws: ProbeError.self) { try RedisTarget.parse("redis://h/notanumber") }
    }
}

@Suite struct RedisInfoTests {
    static let info = RedisInfo(parsing: redisInfoFixture.replacingOccurrences(of: "\n", with: "\r\n"))

    @Test func aRealInfoReplyIsReadAsFields() {
        let info = Self.info
        #expect(info.fields["redis_version"] == "7.0.15")
        #expect(info.fields["maxmemory_policy"] == "noeviction")
        #expect(info.number("used_memory") == 1_040_888)
        #expect(info.number("connected_clients") == 1)
        #expect(info.number("keyspace_hits") == 1)
        #expect(info.keyspace == [0: 1, 3: 1])
        // Section headers and blank lines are not fields; values keep their colons.
        #expect(info.fields["# Server"] == nil)
        #expect(info.fields["executable"] == "/work/wt-rp/redis-server")
    }

    @Test func seriesAreGaugesRatesAndAHitRateWhenLookupsHappened() {
        var series = RedisSeries()
        let first = series.values(Self.info, at: 0)
        #expect(first["redis.used_memory_bytes"] == 1_040_888)
        #expect(first["redis.clients"] == 1)
        #expect(first["redis.blocked_clients"] == 0)
        #expect(first["redis.ops_per_s"] == 4)
        #expect(first["redis.evicted_keys"] == 0)
        #expect(first["redis.keys.db0"] == 1)
        #expect(first["redis.keys.db3"] == 1)
        #expect(first["redis.commands_per_s"] == nil)  // no previous reading yet
        #expect(first["redis.hit_rate"] == nil)

        var later = Self.info
        later.fields["total_commands_processed"] = "208"  // 200 more in 2 s
        later.fields["keyspace_hits"] = "31"  // 30 hits, 10 misses
        later.fields["keyspace_misses"] = "11"
        later.fields["evicted_keys"] = "6"
        later.fields["db3"] = nil  // db3 emptied: reads 0 rather than vanishing
        let second = series.values(later, at: 2)
        #expect(second["redis.commands_per_s"] == 100)
        #expect(second["redis.hit_rate"] == 0.75)
        #expect(second["redis.evicted_keys_per_s"] == 3)
        #expect(second["redis.keys.db3"] == 0)

        // No lookups in an interval: no hit rate for it, not 0 and not NaN.
        let third = series.values(later, at: 3)
        #expect(third["redis.hit_rate"] == nil)
    }
}

/// A server on 127.0.0.1:0 that answers every read with what `reply` returns for the bytes
/// received so far (nothing when it returns nil): enough to play a Redis that refuses a
/// password, an HTTP server, or a Redis that hangs.
final class FakeRedis: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    init(reply: @escaping @Sendable (String) -> String?) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(reply: reply))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func stop() async { try? await channel.close() }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: @Sendable (String) -> String?
        var received = ""
        init(reply: @escaping @Sendable (String) -> String?) { self.reply = reply }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received += String(buffer: buffer)
            guard let answer = reply(received) else { return }
            received = ""
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer)), promise: nil)
        }
    }
}

/// check() against servers that are not a healthy Redis: each error says what and why, and
/// none contains the password.
@Suite struct RedisProbeErrorTests {
    func checkError(_ url: String, commandTimeout: Duration = .seconds(2)) async -> String? {
        guard let target = try? RedisTarget.parse(url) else { return "unparsable \(url)" }
        let probe = RedisProbe(target: target, commandTimeout: commandTimeout)
        var message: String?
        do {
            try await probe.check()
        } catch {
            message = String(describing: error)
        }
        await probe.close()
        return message
    }

    @Test func aWrongPasswordSaysAuthenticationFailedWithoutThePassword() async throws {
        let server = try await FakeRedis { text in
            text.contains("AUTH") ? "-WRONGPASS invalid username-password pair or user is disabled.\r\n" : nil
        }
        let error = try #require(await checkError("redis://app:hunter2@127.0.0.1:\(server.port)"))
        await server.stop()
        #expect(error.contains("authentication failed"))
        #expect(error.contains("WRONGPASS"))
        #expect(error.contains("redis://127.0.0.1:"))
        #expect(!error.contains("hunter2"))
    }

    @Test func noPasswordForARedisThatWantsOneSaysHowToGiveIt() async throws {
        let server = try await FakeRedis { _ in "-NOAUTH Authentication required.\r\n" }
        let error = try #require(await checkError("redis://127.0.0.1:\(server.port)"))
        await server.stop()
        #expect(error.contains("requires a password"))
        #expect(error.contains("redis://:PASSWORD@"))
    }

    @Test func anHTTPServerIsNotRedis() async throws {
        let server = try await FakeRedis { _ in "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" }
        let error = try #require(await checkError("redis://127.0.0.1:\(server.port)"))
        await server.stop()
        #expect(error.contains("is not Redis"))
        #expect(error.contains("HTTP/1.1 400"))
    }

    @Test func aRedisThatNeverAnswersTimesOutInsteadOfHanging() async throws {
        let server = try await FakeRedis { _ in nil }
        let start = ContinuousClock.now
        let error = try #require(
            await checkError("redis://127.0.0.1:\(server.port)", commandTimeout: .milliseconds(300))
        )
        let waited = ContinuousClock.now - start
        await server.stop()
        #expect(error.contains("no reply to INFO within 0.3 s"))
        #expect(waited < .seconds(2))
    }

    @Test func aClosedPortIsConnectionRefused() async throws {
        // A port that was just free: bind, note it, close.
        let server = try await FakeRedis { _ in nil }
        let port = server.port
        await server.stop()
        let error = try #require(await checkError("redis://:hunter2@127.0.0.1:\(port)"))
        #expect(error.contains("connection refused"))
        #expect(!error.contains("hunter2"))
    }

    @Test func aFailedReadingDropsTheConnectionAndTheNextOneReconnects() async throws {
        // INFO answered, then the server goes silent: the sample fails; the probe is still usable.
        let server = try await FakeRedis { text in
            let info = "# Server\r\nredis_version:7.0.15"
            return text.contains("INFO") ? "$\(info.utf8.count)\r\n\(info)\r\n" : nil
        }
        let probe = RedisProbe(
            target: try RedisTarget.parse("redis://127.0.0.1:\(server.port)"),
            queues: ["jobs"],
            commandTimeout: .milliseconds(300)
        )
        try await probe.check()
        // LLEN gets no answer: the whole reading fails within the command timeout.
        await #expect(throws: ProbeError.self) { _ = try await probe.sample(at: 0) }
        await #expect(throws: ProbeError.self) { _ = try await probe.sample(at: 1) }
        #expect(await probe.notes().contains("Redis 7.0.15"))
        await probe.close()
        await server.stop()
    }
}

/// Is a real Redis given (scripts/start-redis), or required (VOLLEY_REQUIRE_SERVICES=1)?
func testRedisURL() -> String? {
    let environment = ProcessInfo.processInfo.environment
    if let url = environment["VOLLEY_TEST_REDIS"], !url.isEmpty { return url }
    if environment["VOLLEY_REQUIRE_SERVICES"] == "1" {
        Issue.record(
            "VOLLEY_TEST_REDIS is not set but VOLLEY_REQUIRE_SERVICES=1: run eval \"$(scripts/start-redis)\" first"
        )
    }
    return nil
}

/// Against a real redis-server: the test works in database 9, which it empties first.
@Suite(.serialized) struct RedisProbeLiveTests {
    static let db = 9

    func client(_ url: String) async throws -> RedisConnection {
        let target = try RedisTarget.parse(url)
        return try await RedisConnection.connect(
            host: target.host,
            port: target.port,
            connectTimeout: .seconds(2),
            commandTimeout: .seconds(5)
        )
    }

    func probeURL(_ url: String) throws -> String {
        let target = try RedisTarget.parse(url)
        return "redis://\(target.host):\(target.port)/\(Self.db)"
    }

    @Test func keysMemoryQueuesAndThroughputAreSeen() async throws {
        guard let url = testRedisURL() else { return }
        let redis = try await client(url)
        _ = try await redis.send([["SELECT", String(Self.db)], ["FLUSHDB"]])

        let probe = try ProbeFactory.make(try probeURL(url), options: .init(redisQueues: ["volley:jobs", "missing"]))
        try await probe.check()
        let before = try await probe.sample(at: 0)
        #expect(before["redis.keys.db\(Self.db)"] == 0)
        #expect(before["redis.queue.volley:jobs.length"] == 0)

        // 2,000 keys of 1 KiB and 25 jobs, in pipelined batches; then commands for about a
        // second, so that Redis's own ops/s estimate has something to measure.
        let value = String(repeating: "x", count: 1024)
        for batch in 0..<20 {
            _ = try await redis.send((0..<100).map { ["SET", "volley:key:\(batch * 100 + $0)", value] })
        }
        _ = try await redis.send((0..<25).map { ["RPUSH", "volley:jobs", "job \($0)"] })
        let busyUntil = ContinuousClock.now + .milliseconds(1200)
        var rounds = 0
        while ContinuousClock.now < busyUntil && rounds < 10_000 {
            _ = try await redis.send((0..<20).map { _ in ["GET", "volley:key:1"] })
            rounds += 1
        }
        let after = try await probe.sample(at: 1.5)
        #expect(after["redis.keys.db\(Self.db)"] == 2001)  // the keys and the list
        #expect(after["redis.queue.volley:jobs.length"] == 25)
        #expect(after["redis.queue.missing.length"] == 0)  // LLEN of a missing key is 0
        let memoryBefore = try #require(before["redis.used_memory_bytes"])
        #expect(try #require(after["redis.used_memory_bytes"]) > memoryBefore + 2_000_000)
        #expect(try #require(after["redis.ops_per_s"]) > 0)
        #expect(try #require(after["redis.commands_per_s"]) > 100)
        // Every GET hit; the probe's LLEN of the missing queue is a miss now and then.
        #expect(try #require(after["redis.hit_rate"]) > 0.99)
        #expect(try #require(after["redis.clients"]) >= 2)

        let notes = await probe.notes()
        #expect(notes.contains { $0.hasPrefix("Redis ") })
        #expect(notes.contains { $0.hasPrefix("maxmemory ") && $0.contains("policy") })

        _ = try await redis.send([["FLUSHDB"]])
        await probe.close()
        await redis.close()
    }

    @Test func aQueueThatIsNotAListIsNotedNotFatal() async throws {
        guard let url = testRedisURL() else { return }
        let redis = try await client(url)
        _ = try await redis.send([["SELECT", String(Self.db)], ["SET", "volley:notalist", "1"]])
        let probe = try ProbeFactory.make(try probeURL(url), options: .init(redisQueues: ["volley:notalist"]))
        let values = try await probe.sample(at: 0)
        #expect(values["redis.queue.volley:notalist.length"] == nil)
        #expect(values["redis.used_memory_bytes"] != nil)
        #expect(await probe.notes().contains { $0.contains("volley:notalist") && $0.contains("WRONGTYPE") })
        _ = try await redis.send([["DEL", "volley:notalist"]])
        await probe.close()
        await redis.close()
    }

    @Test func aclUsersAuthenticateAndAWrongPasswordIsRefusedWithoutShowingIt() async throws {
        guard let url = testRedisURL() else { return }
        let redis = try await client(url)
        let user = "volley-probe-test"
        let setup = try await redis.send([["ACL", "SETUSER", user, "on", ">right-pw", "~*", "+@all"]])
        try #require(setup == [.simpleString("OK")], "ACL SETUSER answered \(setup)")
        let target = try RedisTarget.parse(url)
        let base = "\(target.host):\(target.port)"

        let good = try ProbeFactory.make("redis://\(user):right-pw@\(base)")
        try await good.check()
        #expect(try await good.sample(at: 0)["redis.clients"] != nil)
        await good.close()

        let bad = try ProbeFactory.make("redis://\(user):wrong-pw-1234@\(base)")
        do {
            try await bad.check()
            Issue.record("a wrong password passed check()")
        } catch {
            let text = String(describing: error)
            #expect(text.contains("authentication failed"))
            #expect(text.contains("WRONGPASS"))
            #expect(!text.contains("wrong-pw-1234"))
        }
        await bad.close()
        _ = try await redis.send([["ACL", "DELUSER", user]])
        await redis.close()
    }
}
/// INFO as redis-server 7.0.15 (Debian 12) answered it after `SET a 1`, `SELECT 3`, `SET b 2`,
/// `GET a` and `GET nope`; the test restores the CRLF line ends the server sends.
let redisInfoFixture = #"""
    # Server
    redis_version:7.0.15
    redis_git_sha1:00000000
    redis_git_dirty:0
    redis_build_id:ae4d7c971a948f0
    redis_mode:standalone
    os:Linux 6.18.44-fc-v782 x86_64
    arch_bits:64
    monotonic_clock:POSIX clock_gettime
    multiplexing_api:epoll
    atomicvar_api:c11-builtin
    gcc_version:12.2.0
    process_id:21626
    process_supervised:no
    run_id:9356bd914b87d60a32ab6a13951cc61fd63a68ea
    tcp_port:54873
    server_time_usec:1796094571110886
    uptime_in_seconds:29
    uptime_in_days:0
    hz:10
    configured_hz:10
    lru_clock:932459
    executable:/work/wt-rp/redis-server
    config_file:
    io_threads_active:0

    # Clients
    connected_clients:1
    cluster_connections:0
    maxclients:10000
    client_recent_max_input_buffer:8
    client_recent_max_output_buffer:0
    blocked_clients:0
    tracking_clients:0
    clients_in_timeout_table:0

    # Memory
    used_memory:1040888
    used_memory_human:1016.49K
    used_memory_rss:7032832
    used_memory_rss_human:6.71M
    used_memory_peak:1040888
    used_memory_peak_human:1016.49K
    used_memory_peak_perc:100.17%
    used_memory_overhead:876880
    used_memory_startup:876536
    used_memory_dataset:164008
    used_memory_dataset_perc:99.79%
    allocator_allocated:1885408
    allocator_active:2056192
    allocator_resident:4726784
    total_system_memory:25276063744
    total_system_memory_human:23.54G
    used_memory_lua:32768
    used_memory_vm_eval:32768
    used_memory_lua_human:32.00K
    used_memory_scripts_eval:0
    number_of_cached_scripts:0
    number_of_functions:0
    number_of_libraries:0
    used_memory_vm_functions:33792
    used_memory_vm_total:66560
    used_memory_vm_total_human:65.00K
    used_memory_functions:200
    used_memory_scripts:200
    used_memory_scripts_human:200B
    maxmemory:0
    maxmemory_human:0B
    maxmemory_policy:noeviction
    allocator_frag_ratio:1.09
    allocator_frag_bytes:170784
    allocator_rss_ratio:2.30
    allocator_rss_bytes:2670592
    rss_overhead_ratio:1.49
    rss_overhead_bytes:2306048
    mem_fragmentation_ratio:7.03
    mem_fragmentation_bytes:6031856
    mem_not_counted_for_evict:0
    mem_replication_backlog:0
    mem_total_replication_buffers:0
    mem_clients_slaves:0
    mem_clients_normal:0
    mem_cluster_links:0
    mem_aof_buffer:0
    mem_allocator:jemalloc-5.3.0
    active_defrag_running:0
    lazyfree_pending_objects:0
    lazyfreed_objects:0

    # Persistence
    loading:0
    async_loading:0
    current_cow_peak:0
    current_cow_size:0
    current_cow_size_age:0
    current_fork_perc:0.00
    current_save_keys_processed:0
    current_save_keys_total:0
    rdb_changes_since_last_save:2
    rdb_bgsave_in_progress:0
    rdb_last_save_time:1796094542
    rdb_last_bgsave_status:ok
    rdb_last_bgsave_time_sec:-1
    rdb_current_bgsave_time_sec:-1
    rdb_saves:0
    rdb_last_cow_size:0
    rdb_last_load_keys_expired:0
    rdb_last_load_keys_loaded:0
    aof_enabled:0
    aof_rewrite_in_progress:0
    aof_rewrite_scheduled:0
    aof_last_rewrite_time_sec:-1
    aof_current_rewrite_time_sec:-1
    aof_last_bgrewrite_status:ok
    aof_rewrites:0
    aof_rewrites_consecutive_failures:0
    aof_last_write_status:ok
    aof_last_cow_size:0
    module_fork_in_progress:0
    module_fork_last_cow_size:0

    # Stats
    total_connections_received:8
    total_commands_processed:8
    instantaneous_ops_per_sec:4
    total_net_input_bytes:185
    total_net_output_bytes:4925
    total_net_repl_input_bytes:0
    total_net_repl_output_bytes:0
    instantaneous_input_kbps:0.09
    instantaneous_output_kbps:3.00
    instantaneous_input_repl_kbps:0.00
    instantaneous_output_repl_kbps:0.00
    rejected_connections:0
    sync_full:0
    sync_partial_ok:0
    sync_partial_err:0
    expired_keys:0
    expired_stale_perc:0.00
    expired_time_cap_reached_count:0
    expire_cycle_cpu_milliseconds:0
    evicted_keys:0
    evicted_clients:0
    total_eviction_exceeded_time:0
    current_eviction_exceeded_time:0
    keyspace_hits:1
    keyspace_misses:1
    pubsub_channels:0
    pubsub_patterns:0
    pubsubshard_channels:0
    latest_fork_usec:0
    total_forks:0
    migrate_cached_sockets:0
    slave_expires_tracked_keys:0
    active_defrag_hits:0
    active_defrag_misses:0
    active_defrag_key_hits:0
    active_defrag_key_misses:0
    total_active_defrag_time:0
    current_active_defrag_time:0
    tracking_total_keys:0
    tracking_total_items:0
    tracking_total_prefixes:0
    unexpected_error_replies:0
    total_error_replies:0
    dump_payload_sanitizations:0
    total_reads_processed:16
    total_writes_processed:8
    io_threaded_reads_processed:0
    io_threaded_writes_processed:0
    reply_buffer_shrinks:0
    reply_buffer_expands:0

    # Replication
    role:master
    connected_slaves:0
    master_failover_state:no-failover
    master_replid:6e8d5ccd9a81f0ae4f330c34124174dd0c8f1712
    master_replid2:0000000000000000000000000000000000000000
    master_repl_offset:0
    second_repl_offset:-1
    repl_backlog_active:0
    repl_backlog_size:1048576
    repl_backlog_first_byte_offset:0
    repl_backlog_histlen:0

    # CPU
    used_cpu_sys:0.045583
    used_cpu_user:0.021389
    used_cpu_sys_children:0.000000
    used_cpu_user_children:0.000000
    used_cpu_sys_main_thread:0.045846
    used_cpu_user_main_thread:0.021027

    # Modules

    # Errorstats

    # Cluster
    cluster_enabled:0

    # Keyspace
    db0:keys=1,expires=0,avg_ttl=0
    db3:keys=1,expires=0,avg_ttl=0
    """#
