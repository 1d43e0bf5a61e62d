import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The worker model of a pre-fork server such as gunicorn: `workers` requests in progress
/// at most, up to `backlog` more waiting for a worker, and beyond that the connection is
/// dropped without an answer. Clients see that as "no response" errors — the signature of
/// an overflowing listen backlog.
final class WorkerPool: Sendable {
    let workers: Int
    let backlog: Int
    private let gate: AsyncGate
    /// Requests admitted and not yet answered (in progress + waiting).
    private let admitted = Atomic<Int>(0)
    private let rejectedCount = Atomic<Int>(0)

    init(workers: Int, backlog: Int) {
        self.workers = workers
        self.backlog = backlog
        self.gate = AsyncGate(permits: workers)
    }

    /// Workers busy, requests waiting for one, and connections dropped so far.
    var statistics: (busy: Int, queued: Int, rejected: Int) {
        (gate.held, gate.waiting, rejectedCount.load(ordering: .relaxed))
    }

    /// Admits a request into the server (a worker or the backlog), or refuses it.
    func admit() -> Bool {
        var current = admitted.load(ordering: .relaxed)
        while current < workers + backlog {
            let (exchanged, original) = admitted.compareExchange(
                expected: current,
                desired: current + 1,
                ordering: .acquiringAndReleasing
            )
            if exchanged { return true }
            current = original
        }
        rejectedCount.add(1, ordering: .relaxed)
        return false
    }

    /// An admitted request was answered (or its connection went away).
    func leave() {
        admitted.subtract(1, ordering: .relaxed)
    }

    /// Runs `body` on a worker, waiting in line for one first.
    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            try await gate.acquire()
        } catch {
            throw CancellationError()
        }
        defer { gate.release() }
        return try await body()
    }
}

/// Sits in each connection's pipeline after HTTP decoding: admits each request into the
/// worker model or closes the connection without a response, and lets the model know when
/// an admitted request has been answered. `/metrics` and `/config` bypass it, as an
/// exporter on a side port would, so that the lab can be observed while it drowns.
final class BacklogHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let pool: WorkerPool
    /// For each request on this connection not answered yet: whether it holds an admission.
    private var pending = CircularBuffer<Bool>()
    private var dropping = false

    init(pool: WorkerPool) {
        self.pool = pool
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if dropping { return }
        let part = unwrapInboundIn(data)
        if case .head(let head) = part {
            if Self.bypasses(head.path) {
                pending.append(false)
            } else if pool.admit() {
                pending.append(true)
            } else {
                dropping = true
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), let admittedRequest = pending.popFirst(),
            admittedRequest
        {
            pool.leave()
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        while let admittedRequest = pending.popFirst() {
            if admittedRequest { pool.leave() }
        }
        context.fireChannelInactive()
    }

    static func bypasses(_ path: String?) -> Bool {
        guard let path else { return false }
        return path == "/metrics" || path == "/config" || path.hasPrefix("/metrics?")
    }
}
