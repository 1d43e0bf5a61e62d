import NIOCore
import NIOPosix
import Synchronization
import Testing
import VolleyCore

@testable import VolleyEngine

/// Segment 0's rendezvous over real TCP on 127.0.0.1 (issue 18 "one start, one setup, one
/// abort"): every wait is bounded by the barrier, a time-out or `.timeLimit`.
@Suite(.serialized, .timeLimit(.minutes(1))) struct RendezvousTests {
    /// What one segment saw of a started run.
    struct Joined: Sendable {
        var segment: Int
        var startOnSegment0: Int64
        var startAt: Int64
        var offset: Int64
        var rtt: Int64
        var variables: [String: String]
        var woke: Int64 = 0
        var abort: RendezvousAbort?
    }

    static func config(
        _ index: Int,
        of count: Int = 3,
        port: Int = 0,
        runKey: String = "plan-1234+volley-0.18",
        barrier: Duration = .seconds(10)
    ) -> RendezvousConfig {
        RendezvousConfig(
            segment: try! ExecutionSegment(index: index, count: count),
            host: "127.0.0.1",
            port: port,
            runKey: runKey,
            barrierTimeout: barrier,
            startDelay: .milliseconds(200)
        )
    }

    /// Runs segments `indices` of `count` concurrently against `server`, each running `body`.
    static func segments<T: Sendable>(
        _ indices: [Int],
        of count: Int = 3,
        server: RendezvousServer,
        delay: [Int: Duration] = [:],
        onAbort: (@Sendable (Int, RendezvousAbort) -> Void)? = nil,
        _ body: @escaping @Sendable (RendezvousSession) async throws -> T
    ) async throws -> [Int: T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            for i in indices {
                let forward: (@Sendable (RendezvousAbort) -> Void)?
                if let onAbort { forward = { @Sendable abort in onAbort(i, abort) } } else { forward = nil }
                group.addTask {
                    if let d = delay[i] { try await Task.sleep(for: d) }
                    let value = try await RendezvousClient.withSession(
                        config(i, of: count, port: server.port),
                        server: i == 0 ? server : nil,
                        onAbort: forward,
                        body
                    )
                    return (i, value)
                }
            }
            var results: [Int: T] = [:]
            for try await (i, value) in group { results[i] = value }
            return results
        }
    }

    /// The first abort a session receives, or nil after `timeout`.
    static func firstAbort(
        _ session: RendezvousSession,
        within timeout: Duration = .seconds(5)
    ) async
        -> RendezvousAbort?
    {
        await withTaskGroup(of: RendezvousAbort?.self) { group in
            group.addTask {
                for await abort in session.aborts { return abort }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return await group.next()!
        }
    }

    static func joined(_ s: RendezvousSession) -> Joined {
        Joined(
            segment: s.segment,
            startOnSegment0: s.startAtOnSegment0,
            startAt: s.startAt,
            offset: s.offsetNanoseconds,
            rtt: s.rttNanoseconds,
            variables: s.variables
        )
    }

    // MARK: - One start, one setup

    @Test func threeSegmentsGetOneStartOneSetupAndItsVariables() async throws {
        let setupRuns = Atomic(0)
        let setup: RendezvousServer.Setup = {
            setupRuns.add(1, ordering: .relaxed)
            return ["token": "t-42", "user": "alice"]
        }
        let before = WallClock.now()
        let (results, registrations) = try await RendezvousServer.withServer(Self.config(0), setup: setup) { server in
            let results = try await Self.segments([0, 1, 2], server: server) { session in
                var j = Self.joined(session)
                j.woke = try await session.waitUntilStart()
                return j
            }
            return (results, server.registrations)
        }
        #expect(setupRuns.load(ordering: .relaxed) == 1)
        #expect(results.count == 3)
        let starts = Set(results.values.map(\.startOnSegment0))
        #expect(starts.count == 1)
        let start = try #require(starts.first)
        #expect(start > before + 150_000_000)  // about startDelay after the barrier
        for j in results.values {
            #expect(j.variables == ["token": "t-42", "user": "alice"])
            #expect(abs(j.offset) < 5_000_000, "segment \(j.segment) offset \(j.offset) ns on one machine")
            #expect(j.rtt > 0)
            #expect(j.startAt == start - j.offset)
            #expect(j.woke >= j.startAt)
        }
        print(
            "rendezvous offsets (µs): \(registrations.map { $0.offsetNanoseconds / 1000 }), round trips (µs): "
                + "\(registrations.map { $0.rttNanoseconds / 1000 })"
        )
        #expect(registrations.map(\.segment) == [0, 1, 2])
        #expect(registrations.allSatisfy { $0.rttNanoseconds > 0 && $0.registeredAt >= before })
    }

    /// The start can overtake a segment's "registered" answer (the last segment registers
    /// while that answer is being written): every order must be accepted.
    @Test func manyRendezvousInARowAllStart() async throws {
        for round in 0..<40 {
            let results = try await RendezvousServer.withServer(Self.config(0)) { server in
                try await Self.segments([0, 1, 2], server: server) { $0.startAtOnSegment0 }
            }
            #expect(Set(results.values).count == 1, "round \(round)")
        }
    }

    @Test func aLateSegmentStillMakesTheBarrier() async throws {
        let results = try await RendezvousServer.withServer(Self.config(0, barrier: .seconds(5))) { server in
            try await Self.segments([0, 1, 2], server: server, delay: [2: .milliseconds(800)]) { Self.joined($0) }
        }
        #expect(Set(results.values.map(\.startOnSegment0)).count == 1)
    }

    @Test func aSegmentThatStartsBeforeSegment0RetriesUntilItListens() async throws {
        // Find a free port, then let segment 1 try it before segment 0 listens there.
        let port = try await RendezvousServer.withServer(Self.config(0, of: 1)) { $0.port }
        let early = Task {
            try await RendezvousClient.withSession(Self.config(1, of: 2, port: port)) { Self.joined($0) }
        }
        try await Task.sleep(for: .milliseconds(300))
        let zero = try await RendezvousServer.withServer(Self.config(0, of: 2, port: port)) { server in
            try await RendezvousClient.withSession(Self.config(0, of: 2, port: port), server: server) {
                Self.joined($0)
            }
        }
        let one = try await early.value
        #expect(one.startOnSegment0 == zero.startOnSegment0)
    }

    @Test func aMissingSegmentFailsTheBarrierNamingIt() async throws {
        let clock = ContinuousClock()
        let began = clock.now
        let errors = try await RendezvousServer.withServer(Self.config(0, barrier: .seconds(1))) { server in
            try await withThrowingTaskGroup(of: RendezvousError?.self) { group in
                for i in [0, 1] {
                    group.addTask {
                        do {
                            _ = try await RendezvousClient.withSession(
                                Self.config(i, port: server.port, barrier: .seconds(1)),
                                server: i == 0 ? server : nil
                            ) { _ in 0 }
                            return nil
                        } catch let error as RendezvousError {
                            return error
                        }
                    }
                }
                return try await group.reduce(into: [RendezvousError?]()) { $0.append($1) }
            }
        }
        let elapsed = clock.now - began
        #expect(elapsed < .seconds(4))
        #expect(errors.count == 2)
        for error in errors {
            #expect(error?.kind == .barrierTimeout)
            #expect(error?.message == "2 of 3 segments registered within 1s: missing 2")
        }
    }

    /// Runs segments 0, 1, 2 expecting each to fail; returns their errors.
    static func failingSegments(
        _ server: RendezvousServer,
        barrier: Duration = .seconds(10)
    ) async throws
        -> [RendezvousError?]
    {
        try await withThrowingTaskGroup(of: RendezvousError?.self) { group in
            for i in [0, 1, 2] {
                group.addTask {
                    do {
                        _ = try await RendezvousClient.withSession(
                            Self.config(i, port: server.port, barrier: barrier),
                            server: i == 0 ? server : nil
                        ) { _ in 0 }
                        return nil
                    } catch let error as RendezvousError {
                        return error
                    }
                }
            }
            return try await group.reduce(into: [RendezvousError?]()) { $0.append($1) }
        }
    }

    struct SetupBroke: Error, CustomStringConvertible {
        var description: String { "POST /login answered 500" }
    }

    @Test func aFailedSetupAbortsEverySegmentWithItsReason() async throws {
        let setup: RendezvousServer.Setup = { throw SetupBroke() }
        let errors = try await RendezvousServer.withServer(Self.config(0), setup: setup) { server in
            let errors = try await Self.failingSegments(server)
            #expect(server.setupRuns == 1)
            return errors
        }
        #expect(errors.count == 3)
        for error in errors {
            #expect(error?.kind == .setupFailed)
            #expect(error?.message == "the plan's setup failed on segment 0: POST /login answered 500")
        }
    }

    @Test func aSetupThatHangsIsStoppedAtItsTimeOut() async throws {
        var config = Self.config(0)
        config.setupTimeout = .milliseconds(300)
        let clock = ContinuousClock()
        let began = clock.now
        let setup: RendezvousServer.Setup = {
            try await Task.sleep(for: .seconds(30))
            return [:]
        }
        let errors = try await RendezvousServer.withServer(config, setup: setup) { server in
            try await Self.failingSegments(server)
        }
        #expect(clock.now - began < .seconds(3))
        for error in errors {
            #expect(error?.kind == .setupFailed)
            #expect(error?.message == "the plan's setup failed on segment 0: it did not finish within 300ms")
        }
    }

    // MARK: - Refusals

    @Test func aSegmentOfAnotherPlanIsRefused() async throws {
        try await RendezvousServer.withServer(Self.config(0, of: 2, barrier: .seconds(2))) { server in
            var other = Self.config(1, of: 2, port: server.port, runKey: "another-plan+volley-0.18")
            other.barrierTimeout = .seconds(2)
            let error = await #expect(throws: RendezvousError.self) {
                try await RendezvousClient.withSession(other) { _ in 0 }
            }
            #expect(error?.kind == .refused)
            #expect(error?.message.contains("runs another plan or Volley version") == true)
            #expect(error?.message.contains("another-plan+volley-0.18") == true)
            #expect(error?.hint == "give every segment the same plan file and the same Volley image")
            #expect(server.problems.count == 1)
            #expect(server.problems.first?.contains("another plan") == true)
        }
    }

    @Test func aDuplicateIndexIsRefusedAndTheOthersGoOn() async throws {
        let results = try await RendezvousServer.withServer(Self.config(0, barrier: .seconds(5))) { server in
            let first = Task {
                try await RendezvousClient.withSession(Self.config(1, port: server.port)) { Self.joined($0) }
            }
            while server.registrations.count < 1 { try await Task.sleep(for: .milliseconds(10)) }
            let error = await #expect(throws: RendezvousError.self) {
                try await RendezvousClient.withSession(Self.config(1, port: server.port)) { _ in 0 }
            }
            #expect(error?.kind == .refused)
            #expect(error?.message.contains("segment 1/3 is already registered") == true)
            let rest = try await Self.segments([0, 2], server: server) { Self.joined($0) }
            return [1: try await first.value].merging(rest) { a, _ in a }
        }
        #expect(results.count == 3)
        #expect(Set(results.values.map(\.startOnSegment0)).count == 1)
    }
}
