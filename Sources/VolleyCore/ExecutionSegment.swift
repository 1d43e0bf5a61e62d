/// One machine's share of a run split over `count` machines (`volley run --segment 2/4`),
/// such that the union of all segments is exactly the single run: every numbered item of the
/// run — a VU, an arrival of the open schedule, an iteration of a shared budget, a row of a
/// unique feed, a request of a `-n` budget — belongs to exactly one segment, by striping:
/// item `k` (0-based) belongs to segment `k mod count`.
///
/// Striping rather than contiguous ranges (k6's `--execution-segment 0:1/4`) because every
/// count that changes over time — a ramp's VU target, an arrival schedule's rate — is shared
/// evenly at every moment without any segment knowing the others: at target T, segment i runs
/// the VUs numbered i+1, i+1+count, … ≤ T, and the VUs of all segments are 1…T. The event
/// loops inside one segment share its items the same way (``Stripe``), so a loop's position
/// in the whole run is one stripe of `loops × count`.
public struct ExecutionSegment: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// This segment, 0-based.
    public let index: Int
    /// How many segments the run is split into.
    public let count: Int

    /// The whole run on one machine.
    public static let whole = ExecutionSegment(uncheckedIndex: 0, count: 1)

    private init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public init(index: Int, count: Int) throws(InputError) {
        guard count >= 1, count <= Self.maxCount else {
            throw InputError(
                "a run can be split into 1 to \(Self.maxCount) segments, not \(count)",
                hint: "--segment 0/4 runs the first of four segments"
            )
        }
        guard index >= 0, index < count else {
            throw InputError(
                "segment \(index) does not exist in a run of \(count) segments (they are 0 to \(count - 1))",
                hint: "--segment \(max(0, min(index, count - 1)))/\(count)"
            )
        }
        self.index = index
        self.count = count
    }

    /// Enough for any cluster, small enough that a loop's stripe (loops × count) stays far
    /// from overflowing the request-id and VU-number arithmetic.
    public static let maxCount = 10_000

    /// `"i/N"`: segment i (0-based) of N.
    public init(parsing text: String) throws(InputError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw InputError(
                "segment \"\(text)\" is not INDEX/COUNT",
                hint: "--segment 0/4 runs the first of four segments (0-based, like JOB_COMPLETION_INDEX)"
            )
        }
        try self.init(index: i, count: n)
    }

    /// The segment a Kubernetes Indexed Job's pod runs: `JOB_COMPLETION_INDEX` (set by
    /// Kubernetes) of `VOLLEY_SEGMENTS` (set by the rendered Job); nil when neither is set.
    public static func fromEnvironment(_ environment: [String: String]) throws(InputError) -> ExecutionSegment? {
        let index = environment["JOB_COMPLETION_INDEX"]
        let count = environment["VOLLEY_SEGMENTS"]
        switch (index, count) {
        case (nil, nil):
            return nil
        case (let i?, let n?):
            guard let i = Int(i), let n = Int(n) else {
                throw InputError(
                    "JOB_COMPLETION_INDEX=\(i) and VOLLEY_SEGMENTS=\(n) are not whole numbers",
                    hint: "or pass --segment INDEX/COUNT"
                )
            }
            return try ExecutionSegment(index: i, count: n)
        case (.some, nil):
            throw InputError(
                "JOB_COMPLETION_INDEX is set but VOLLEY_SEGMENTS is not: how many segments?",
                hint: "set VOLLEY_SEGMENTS (volley k8s render does) or pass --segment INDEX/COUNT"
            )
        case (nil, .some):
            throw InputError(
                "VOLLEY_SEGMENTS is set but JOB_COMPLETION_INDEX is not: which segment is this?",
                hint: "pass --segment INDEX/COUNT"
            )
        }
    }

    public var description: String { "\(index)/\(count)" }

    public var isWhole: Bool { count == 1 }

    /// How many of the items 0..<total belong to this segment.
    public func share(of total: Int) -> Int {
        Stripe(index: index, count: count).share(of: total)
    }

    /// The stripe of the run's items that event loop `loop` of `loops` in this segment owns.
    public func stripe(loop: Int, of loops: Int) -> Stripe {
        Stripe(index: loop * count + index, count: loops * count)
    }
}

/// Every `count`-th item of a run, starting at `index`: what one event loop of one segment
/// owns (items `index`, `index + count`, `index + 2 × count`, …).
public struct Stripe: Equatable, Sendable {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) {
        precondition(count >= 1 && index >= 0 && index < count, "Invalid stripe \(index)/\(count)")
        self.index = index
        self.count = count
    }

    /// How many of the items 0..<total are in this stripe.
    public func share(of total: Int) -> Int {
        guard total > 0 else { return 0 }
        return total / count + (index < total % count ? 1 : 0)
    }

    /// Whether item `k` is in this stripe.
    public func owns(_ k: Int) -> Bool { k % count == index }

    /// The run-wide number of this stripe's `local`-th item (0-based both).
    public func item(_ local: Int) -> Int { local * count + index }
}
