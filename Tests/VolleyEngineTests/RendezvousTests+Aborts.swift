import NIOCore
import NIOPosix
import Synchronization
import Testing
import VolleyCore

@testable import VolleyEngine

extension RendezvousTests {
    // MARK: - Aborts and bundles

    @Test func anAbortFromSegment2ReachesSegments0And1() async throws {
        let (results, collection, aborts) = try await RendezvousServer.withServer(Self.config(0)) { server in
            let results = try await Self.segments([0, 1, 2], server: server) { session -> RendezvousAbort? in
                if session.segment == 2 {
                    try await session.abort(reason: "threshold p95<200ms failed (abort_on_fail)")
                    try await session.deliver(bundle: [2])
                    return nil
                }
                let abort = await Self.firstAbort(session)
                if session.segment == 1 { try await session.deliver(bundle: [1]) }
                return abort
            }
            let collection = await server.collect(own: [0], timeout: .seconds(5))
            return (results, collection, server.aborts)
        }
        for i in [0, 1] {
            let abort = try #require(results[i] ?? nil, "segment \(i) got no abort")
            #expect(abort.reason == "segment 2/3 aborted the run: threshold p95<200ms failed (abort_on_fail)")
            #expect(abort.segment == 2)
            #expect(abort.kind == .aborted)
        }
        #expect(aborts.first?.segment == 2)
        // An aborted run still delivers what it measured.
        #expect(collection.isComplete)
        #expect(collection.bundles == [0: [0], 1: [1], 2: [2]])
    }

    struct Outcome: Sendable {
        var abort: RendezvousAbort?
        var collection: BundleCollection?
    }

    @Test func aSegmentLostBeforeItsResultsAbortsTheOthersAndIsReportedMissing() async throws {
        let callbacks = Mutex<[Int: [String]]>([:])
        let (results, recorded) = try await RendezvousServer.withServer(Self.config(0)) { server in
            let results = try await Self.segments(
                [0, 1, 2],
                server: server,
                onAbort: { i, abort in
                    callbacks.withLock { $0[i, default: []].append(abort.reason) }
                }
            ) { session -> Outcome in
                switch session.segment {
                case 2:
                    return Outcome()  // the process "dies": its connection closes without results
                case 1:
                    let abort = await Self.firstAbort(session)
                    try await session.deliver(bundle: Array("segment one".utf8))
                    return Outcome(abort: abort)
                default:
                    let abort = await Self.firstAbort(session)
                    let own = Array("segment zero".utf8)
                    return Outcome(abort: abort, collection: await server.collect(own: own, timeout: .seconds(5)))
                }
            }
            return (results, server.aborts)
        }
        let lost = "segment 2/3 lost: connection closed before its results"
        for i in [0, 1] {
            #expect(results[i]?.abort?.reason == lost, "segment \(i)")
            #expect(results[i]?.abort?.kind == .connectionLost)
            #expect(results[i]?.abort?.segment == 2)
        }
        #expect(recorded.map(\.reason) == [lost])
        // The callback saw the same abort, once per segment, before the session closed.
        #expect(callbacks.withLock { $0 } == [0: [lost], 1: [lost]])
        let collection = try #require(results[0]?.collection)
        #expect(!collection.isComplete)
        #expect(collection.missing == [2: lost])
        #expect(collection.bundles[0] == Array("segment zero".utf8))
        #expect(collection.bundles[1] == Array("segment one".utf8))
    }

    @Test func bundlesOfThreeSegmentsAreCollectedIntactIncludingTwoMegabytes() async throws {
        var generator = SplitMix64(seed: 18)
        let big = (0..<(2 * 1024 * 1024 + 17)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let small = Array("{\"segment\":2}".utf8)
        let collection = try await RendezvousServer.withServer(Self.config(0)) { server in
            try await Self.segments([0, 1, 2], server: server) { session -> BundleCollection? in
                switch session.segment {
                case 1: try await session.deliver(bundle: big)
                case 2: try await session.deliver(bundle: small)
                default: return await server.collect(own: [], timeout: .seconds(10))
                }
                return nil
            }[0] ?? nil
        }
        let c = try #require(collection)
        #expect(c.isComplete)
        #expect(c.bundles[0] == [])
        #expect(c.bundles[1] == big)
        #expect(c.bundles[2] == small)
    }

    @Test func collectNeverWaitsPastItsTimeout() async throws {
        let clock = ContinuousClock()
        let (collection, elapsed) = try await RendezvousServer.withServer(Self.config(0, of: 2)) { server in
            try await Self.segments([0, 1], of: 2, server: server) { session -> (BundleCollection, Duration)? in
                if session.segment == 1 {
                    // Still connected, never delivers, until segment 0 has given up.
                    _ = await Self.firstAbort(session, within: .milliseconds(1500))
                    return nil
                }
                let began = clock.now
                let collection = await server.collect(own: [0], timeout: .milliseconds(500))
                return (collection, clock.now - began)
            }[0]!!
        }
        #expect(elapsed < .seconds(2))
        #expect(collection.missing == [1: "segment 1/2 sent no results within 500ms"])
    }

    @Test func segment0EndingClosesEveryConnectionAndTheOthersHearIt() async throws {
        let clock = ContinuousClock()
        let ready = AsyncStream<Int>.makeStream()
        let (portStream, portContinuation) = (ready.stream, ready.continuation)
        let other = Task {
            var ports = portStream.makeAsyncIterator()
            let port = await ports.next()!
            return try await RendezvousClient.withSession(Self.config(1, of: 2, port: port)) { session in
                // A segment still running when segment 0 gives up: it must hear of it.
                await Self.firstAbort(session, within: .seconds(20))
            }
        }
        let began = clock.now
        let collection = try await RendezvousServer.withServer(Self.config(0, of: 2)) { server in
            portContinuation.yield(server.port)
            return try await RendezvousClient.withSession(Self.config(0, of: 2, port: server.port), server: server) {
                _ in await server.collect(own: [0], timeout: .milliseconds(300))
            }
        }
        let abort = try await other.value
        #expect(clock.now - began < .seconds(5))
        #expect(collection.missing == [1: "segment 1/2 sent no results within 300ms"])
        #expect(abort?.segment == 0)
        #expect(abort?.kind == .connectionLost)
        #expect(abort?.reason.hasPrefix("segment 0 (the rendezvous) lost:") == true)
    }
}
