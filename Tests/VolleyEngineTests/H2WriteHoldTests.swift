import Testing

@testable import VolleyEngine

/// The closed model's write hold as pure logic: times are given, nothing waits.
@Suite struct H2WriteHoldTests {
    static let ms: UInt64 = 1_000_000
    static let us: UInt64 = 1_000

    @Test func requestsWaitForTheRestOfTheWriteWhoseAnswersTheyFollow() {
        var decision: H2WriteHold.Decision
        var held: Bool
        var hold = H2WriteHold()
        // Write 1 carried ten requests.
        #expect(hold.write == 1)
        held = hold.wrote()
        #expect(!held)
        #expect(hold.write == 2)
        // A read completes three of them 4 ms after they left; their three successors are
        // opened in write 2, seven of write 1 are still open.
        for _ in 0..<3 { hold.completed(write: 1, latency: 4 * Self.ms) }
        let open = [UInt32](repeating: 1, count: 7) + [UInt32](repeating: hold.write, count: 3)
        let start: UInt64 = 1_000 * Self.ms
        // 4 ms / 64 = 62.5 µs, above the 50 µs cap: held until 50 µs later.
        decision = hold.readEnded(at: start, openWrites: open)
        #expect(decision == .startHold(until: start + 50 * Self.us))
        // A read 10 µs later completes four more: three of write 1 still open, still held.
        let later = [UInt32](repeating: 1, count: 3) + [UInt32](repeating: 2, count: 7)
        decision = hold.readEnded(at: start + 10 * Self.us, openWrites: later)
        #expect(decision == .keepHolding)
        // Past the bound they leave, whatever is still open; the next write is 3.
        decision = hold.readEnded(at: start + 50 * Self.us, openWrites: later)
        #expect(decision == .send)
        held = hold.wrote()
        #expect(held)
        #expect(hold.write == 3)
        #expect(hold.until == 0)
    }

    @Test func theyLeaveOnceNothingOfThatWriteIsOpen() {
        var decision: H2WriteHold.Decision
        var held: Bool
        var hold = H2WriteHold()
        _ = hold.wrote()
        hold.completed(write: 1, latency: 4 * Self.ms)
        decision = hold.readEnded(at: 0, openWrites: [1, 2])
        #expect(decision == .startHold(until: 50 * Self.us))
        // The last of write 1 completes: all ten successors leave at this read's end.
        hold.completed(write: 1, latency: 4 * Self.ms)
        decision = hold.readEnded(at: 5 * Self.us, openWrites: [2, 2])
        #expect(decision == .send)
        held = hold.wrote()
        #expect(held)
        // Streams of an earlier write still open hold them too; only a later write's do not.
        _ = hold.wrote()  // write 3 left
        hold.completed(write: 2, latency: 4 * Self.ms)
        decision = hold.readEnded(at: 0, openWrites: [3, 4])
        #expect(decision == .send)
        decision = hold.readEnded(at: 0, openWrites: [1, 3, 4])
        #expect(decision == .startHold(until: 50 * Self.us))
    }

    @Test func withNothingCompletedOrNothingElseOpenNothingWaits() {
        var decision: H2WriteHold.Decision
        var held: Bool
        var hold = H2WriteHold()
        // A read that completed no stream (SETTINGS, WINDOW_UPDATE, a stream allowed at last).
        decision = hold.readEnded(at: 0, openWrites: [1, 1, 1])
        #expect(decision == .send)
        // `-m 1`: the completed stream was the connection's only one.
        _ = hold.wrote()
        hold.completed(write: 1, latency: 4 * Self.ms)
        decision = hold.readEnded(at: 0, openWrites: [hold.write])
        #expect(decision == .send)
        held = hold.wrote()
        #expect(!held)
    }

    @Test func theHoldIsAtMostOneSixtyFourthOfTheShortestLatencyItFollows() {
        var decision: H2WriteHold.Decision
        var hold = H2WriteHold()
        _ = hold.wrote()
        hold.completed(write: 1, latency: 4 * Self.ms)
        hold.completed(write: 1, latency: 640 * Self.us)  // 10 µs
        hold.completed(write: 1, latency: 2 * Self.ms)
        decision = hold.readEnded(at: 100, openWrites: [1, 2])
        #expect(decision == .startHold(until: 100 + 10 * Self.us))
        // A fast server (latency 100 µs: 1.6 µs) is not held at all: below what a timer is worth.
        var fast = H2WriteHold()
        _ = fast.wrote()
        fast.completed(write: 1, latency: 100 * Self.us)
        decision = fast.readEnded(at: 0, openWrites: [1, 2])
        #expect(decision == .send)
        // The bound is the latest write's: after a write it starts afresh.
        var next = H2WriteHold()
        _ = next.wrote()
        next.completed(write: 1, latency: 100 * Self.us)
        _ = next.wrote()
        next.completed(write: 1, latency: 8 * Self.ms)
        decision = next.readEnded(at: 0, openWrites: [1, 3])
        #expect(decision == .startHold(until: 50 * Self.us))
    }
}
