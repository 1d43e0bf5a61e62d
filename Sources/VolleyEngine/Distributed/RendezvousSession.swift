import NIOCore
import Synchronization

/// One segment's place in a started run: the agreed start time, the setup's variables, the
/// clock offset to segment 0, and the channel for aborts and the result bundle. Valid inside
/// the body of ``RendezvousClient/withSession(_:server:onAbort:_:)`` only.
public final class RendezvousSession: Sendable {
    /// This segment.
    public let segment: Int
    /// The start time in this machine's wall clock (ns since the epoch): segment 0's
    /// announced start minus the measured offset.
    public let startAt: Int64
    /// The same start as segment 0's clock reads it (ns), as announced.
    public let startAtOnSegment0: Int64
    /// Segment 0's clock minus this machine's (ns); ± ``rttNanoseconds``/2.
    public let offsetNanoseconds: Int64
    /// The round trip of the probe the offset came from (ns).
    public let rttNanoseconds: Int64
    /// The variables the plan's setup captured on segment 0 (empty without a setup).
    public let variables: [String: String]
    /// Segment 0's server, on segment 0 only: collection and registrations.
    public let server: RendezvousServer?

    let core: RendezvousClientCore
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    init(
        segment: Int,
        start: Int64,
        sample: ClockSample,
        variables: [String: String],
        server: RendezvousServer?,
        core: RendezvousClientCore,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.segment = segment
        self.startAtOnSegment0 = start
        self.offsetNanoseconds = sample.offset
        self.rttNanoseconds = sample.rtt
        self.startAt = start - sample.offset
        self.variables = variables
        self.server = server
        self.core = core
        self.outbound = outbound
    }

    /// Sleeps until ``startAt`` (coarse sleep, then a spin over the last 2 ms) and returns
    /// the wall-clock time it woke, so segments on one machine start within a fraction of a
    /// millisecond of each other. Returns at once when the start has passed.
    @discardableResult
    public func waitUntilStart() async throws -> Int64 {
        try await WallClock.sleep(until: startAt)
    }

    /// The aborts received since the start (relayed from another segment, or this segment's
    /// connection to segment 0 lost), in order. For the engine: stop when one arrives. One
    /// consumer only (an `AsyncStream`); use `onAbort` of `withSession` for more.
    public var aborts: AsyncStream<RendezvousAbort> { core.abortStream }

    /// The first abort received, if any.
    public var firstAbort: RendezvousAbort? { core.state.withLock { $0.aborts.first } }

    /// Asks every other segment to stop (a threshold with abort_on_fail): segment 0 relays it.
    public func abort(reason: String) async throws {
        do {
            try await outbound.write(
                RendezvousMessage.abort(RendezvousAbort(reason: reason, segment: segment, kind: .aborted)).encoded()
            )
        } catch {
            throw RendezvousError(
                .connectionLost,
                "segment \(segment) could not send its abort to segment 0: \(error)"
            )
        }
    }

    /// Sends this segment's result bundle to segment 0 and waits for its acknowledgement
    /// (at most `timeout`). On segment 0, use ``RendezvousServer/collect(own:timeout:)``.
    public func deliver(bundle: [UInt8], timeout: Duration = .seconds(60)) async throws {
        core.expectingAck()
        do {
            try await outbound.write(RendezvousMessage.bundle(segment: segment, data: bundle).encoded())
        } catch {
            throw RendezvousError(
                .connectionLost,
                "segment \(segment) could not send its results to segment 0: \(error)"
            )
        }
        try await core.waitForAck(segment: segment, timeout: timeout)
    }
}
