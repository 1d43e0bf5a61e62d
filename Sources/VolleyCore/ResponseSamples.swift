/// What the server said when it failed: the first bytes of the first few error response
/// bodies per status, and of the responses whose captures found nothing.
///
/// A count of 500s says that the service failed, not why; its body usually does
/// ("QueuePool limit of size 5 overflow 10 reached, connection timed out"). The samples are
/// bounded so that a run of millions of errors keeps a few hundred bytes per status:
/// ``maxPerKey`` responses per status (and per request name for capture failures) per event
/// loop, ``excerptBytes`` bytes of each. Each excerpt is made safe to print and to store
/// before it is kept (``Excerpt``): valid UTF-8, control characters escaped, credentials
/// masked. Merged across event loops like a ``Recorder``: the first ones are kept, counts add.
public struct ResponseSamples: Equatable, Sendable {
    /// Responses sampled per status (per request name for capture failures) per event loop,
    /// and distinct excerpts kept per status after merging.
    public static let maxPerKey = 3
    /// Body bytes read into an excerpt.
    public static let excerptBytes = 256

    /// Distinct excerpts per status, first seen first.
    public private(set) var byStatus: [Int: [ErrorSample]] = [:]
    /// Responses sampled per status on this recorder (bounds the work per loop).
    private var sampledByStatus: [Int: Int] = [:]
    /// Captures that found nothing, first seen first.
    public private(set) var captureFailures: [CaptureFailureSample] = []
    /// Compressed bodies that could not be decoded, first seen first.
    public private(set) var decodeFailures: [DecodeFailureSample] = []

    public init() {}

    /// Whether a response with `status` would still be sampled: the caller reads its body
    /// only then.
    public func wants(status: Int) -> Bool {
        (sampledByStatus[status] ?? 0) < Self.maxPerKey
    }

    /// Keeps an excerpt of `body` for an error response, while fewer than ``maxPerKey`` of
    /// that status were sampled.
    /// `totalBytes` is the whole body's size when `body` holds only its start.
    public mutating func recordError<Bytes: Collection>(
        status: Int,
        body: Bytes,
        totalBytes: Int? = nil
    ) where Bytes.Element == UInt8 {
        guard wants(status: status) else { return }
        sampledByStatus[status, default: 0] += 1
        add(ErrorSample(excerpt: Excerpt.make(body, totalBytes: totalBytes), count: 1), status: status)
    }

    /// Keeps a capture that found nothing, while fewer than ``maxPerKey`` of its request
    /// name were kept.
    public mutating func recordCaptureFailure<Bytes: Collection>(
        request: String,
        capture: String,
        source: String,
        status: Int,
        body: Bytes
    ) where Bytes.Element == UInt8 {
        guard wantsCaptureFailure(request: request) else { return }
        captureFailures.append(
            CaptureFailureSample(
                request: request,
                capture: capture,
                source: Excerpt.sanitize(source),
                status: status,
                excerpt: Excerpt.make(body)
            )
        )
    }

    /// Keeps why a body could not be decoded, while fewer than ``maxPerKey`` of its request
    /// name were kept.
    public mutating func recordDecodeFailure(request: String, status: Int, message: String) {
        guard wantsDecodeFailure(request: request) else { return }
        decodeFailures.append(
            DecodeFailureSample(request: request, status: status, message: Excerpt.sanitize(message))
        )
    }

    /// Whether another decode failure of `request` would be kept.
    public func wantsDecodeFailure(request: String) -> Bool {
        var n = 0
        for f in decodeFailures where f.request == request { n += 1 }
        return n < Self.maxPerKey
    }

    /// Whether another capture failure of `request` would be kept.
    public func wantsCaptureFailure(request: String) -> Bool {
        var n = 0
        for f in captureFailures where f.request == request { n += 1 }
        return n < Self.maxPerKey
    }

    private mutating func add(_ sample: ErrorSample, status: Int) {
        var list = byStatus[status] ?? []
        if let i = list.firstIndex(where: { $0.excerpt == sample.excerpt }) {
            list[i].count = (list[i].count ?? 1) + (sample.count ?? 1)
        } else if list.count < Self.maxPerKey {
            list.append(sample)
        }
        byStatus[status] = list
    }

    /// Adds another loop's samples: equal excerpts add their counts, new ones are kept
    /// while there is room.
    public mutating func merge(_ other: ResponseSamples) {
        for (status, list) in other.byStatus.sorted(by: { $0.key < $1.key }) {
            for sample in list { add(sample, status: status) }
            sampledByStatus[status, default: 0] += other.sampledByStatus[status] ?? 0
        }
        for f in other.captureFailures where wantsCaptureFailure(request: f.request) {
            captureFailures.append(f)
        }
        for f in other.decodeFailures where wantsDecodeFailure(request: f.request) {
            decodeFailures.append(f)
        }
    }

    /// The samples keyed by status code as text, as the JSON summary has them; nil when
    /// there are none.
    public var errorSamplesByCode: [String: [ErrorSample]]? {
        guard !byStatus.isEmpty else { return nil }
        var out: [String: [ErrorSample]] = [:]
        for (status, list) in byStatus { out[String(status)] = list }
        return out
    }
}

/// One error response body excerpt, and how many sampled responses of its status had it.
public struct ErrorSample: Equatable, Sendable, Codable {
    /// The first bytes of the body, printable and redacted (``Excerpt``).
    public var excerpt: String
    /// Sampled responses with this excerpt (not every response of the status: sampling
    /// stops after ``ResponseSamples/maxPerKey`` per event loop).
    public var count: Int?

    public init(excerpt: String, count: Int? = nil) {
        self.excerpt = excerpt
        self.count = count
    }
}

/// A capture that found nothing in its response: which one, where it looked, and what the
/// body held instead.
public struct CaptureFailureSample: Equatable, Sendable, Codable {
    /// The step's request name.
    public var request: String
    /// The variable the capture was to set.
    public var capture: String
    /// Where it looked: `json $.token`, `header Location`, `regex id=(\d+)`.
    public var source: String
    /// The response's status.
    public var status: Int
    /// The first bytes of the body, printable and redacted (``Excerpt``).
    public var excerpt: String

    public init(request: String, capture: String, source: String, status: Int, excerpt: String) {
        self.request = request
        self.capture = capture
        self.source = source
        self.status = status
        self.excerpt = excerpt
    }
}

/// A compressed body that could not be decoded: which request, and why
/// ("Content-Encoding gzip: invalid header (the body starts 3c 68 74 6d, not 1f 8b)").
public struct DecodeFailureSample: Equatable, Sendable, Codable {
    /// The step's request name.
    public var request: String
    /// The response's status.
    public var status: Int
    /// What went wrong, naming the encoding.
    public var message: String

    public init(request: String, status: Int, message: String) {
        self.request = request
        self.status = status
        self.message = message
    }
}

extension Capture.Source: CustomStringConvertible {
    /// Where a capture looks, as a capture failure sample names it: `json $.token`,
    /// `header Location`, `regex id=(\d+) group 1`.
    public var description: String {
        switch self {
        case .jsonPath(let path): return "json \(path)"
        case .header(let name): return "header \(name)"
        case .regex(let pattern, let group): return "regex \(pattern) group \(group)"
        }
    }
}
