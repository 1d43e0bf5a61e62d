import Testing
import VolleyCore

/// Segments split a run so that their union is the run: every item (VU, arrival, iteration,
/// feed row, request of a budget) belongs to exactly one segment and one loop in it.
@Suite struct ExecutionSegmentTests {
    @Test func sharesAddUpToTheWholeForEveryCount() throws {
        for count in 1...7 {
            for total in [0, 1, 5, 6, 7, 100, 1001] {
                let shares = try (0..<count).map { try ExecutionSegment(index: $0, count: count).share(of: total) }
                #expect(shares.reduce(0, +) == total, "\(total) over \(count)")
                #expect((shares.max() ?? 0) - (shares.min() ?? 0) <= 1)
            }
        }
    }

    @Test func everyItemHasExactlyOneLoopOfOneSegment() throws {
        let segments = 3
        let loops = 2
        var owners: [Int: Int] = [:]
        for s in 0..<segments {
            let segment = try ExecutionSegment(index: s, count: segments)
            for l in 0..<loops {
                let stripe = segment.stripe(loop: l, of: loops)
                for local in 0..<stripe.share(of: 60) {
                    let item = stripe.item(local)
                    #expect(stripe.owns(item))
                    #expect(item % segments == s)  // the segment's own items
                    owners[item, default: 0] += 1
                }
            }
        }
        #expect(owners.keys.sorted() == Array(0..<60))
        #expect(owners.values.allSatisfy { $0 == 1 })
    }

    @Test func aRampsTargetIsSharedAtEveryMoment() throws {
        // At target T, segment i runs the VUs numbered ≤ T of its stripe: together, 1…T.
        for target in 0...20 {
            var numbers: [Int] = []
            for s in 0..<4 {
                let stripe = try ExecutionSegment(index: s, count: 4).stripe(loop: 0, of: 1)
                numbers += (0..<stripe.share(of: target)).map { stripe.item($0) + 1 }
            }
            #expect(numbers.sorted() == Array(0..<target).map { $0 + 1 })
        }
    }

    @Test func parsingAndErrors() throws {
        #expect(try ExecutionSegment(parsing: "2/4") == ExecutionSegment(index: 2, count: 4))
        #expect(ExecutionSegment.whole.isWhole)
        for bad in ["4/4", "-1/4", "1/0", "a/b", "1", "1/2/3", ""] {
            #expect(throws: InputError.self, "\(bad)") { try ExecutionSegment(parsing: bad) }
        }
        do {
            _ = try ExecutionSegment(parsing: "4/4")
            Issue.record("4/4 accepted")
        } catch {
            #expect(error.message.contains("0 to 3"))
            #expect(error.hint == "--segment 3/4")
        }
    }

    @Test func kubernetesIndexedJobsNameTheSegment() throws {
        #expect(try ExecutionSegment.fromEnvironment([:]) == nil)
        let pod = try ExecutionSegment.fromEnvironment(["JOB_COMPLETION_INDEX": "3", "VOLLEY_SEGMENTS": "5"])
        #expect(pod == (try ExecutionSegment(index: 3, count: 5)))
        #expect(throws: InputError.self) { try ExecutionSegment.fromEnvironment(["JOB_COMPLETION_INDEX": "3"]) }
        #expect(throws: InputError.self) {
            try ExecutionSegment.fromEnvironment(["JOB_COMPLETION_INDEX": "x", "VOLLEY_SEGMENTS": "2"])
        }
    }
}
