import Synchronization

/// The client side's mailbox: the reader task puts in what segment 0 sends (stamped with the
/// wall clock on arrival, for the clock probes); the handshake and `deliver` take messages out
/// one at a time; aborts after the start become events instead.
final class RendezvousClientCore: Sendable {
    struct Arrival {
        var message: RendezvousMessage
        var at: Int64
    }

    struct State {
        var inbox: [Arrival] = []
        var waiter: CheckedContinuation<Arrival, any Error>?
        var closed: RendezvousError?
        var started = false
        var finished = false
        var aborts: [RendezvousAbort] = []
    }

    let state = Mutex(State())
    let segment0: String
    let abortStream: AsyncStream<RendezvousAbort>
    private let abortContinuation: AsyncStream<RendezvousAbort>.Continuation
    private let onAbort: (@Sendable (RendezvousAbort) -> Void)?

    init(segment0: String, onAbort: (@Sendable (RendezvousAbort) -> Void)?) {
        self.segment0 = segment0
        self.onAbort = onAbort
        (abortStream, abortContinuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// A message arrived from segment 0.
    func received(_ message: RendezvousMessage) {
        let arrival = Arrival(message: message, at: WallClock.now())
        var event: RendezvousAbort?
        let waiter: CheckedContinuation<Arrival, any Error>? = state.withLock { s in
            if s.started, case .abort(let abort) = message {
                s.aborts.append(abort)
                event = abort
                return nil
            }
            if case .start = message { s.started = true }
            if case .ack = message { s.finished = true }
            if let waiter = s.waiter {
                s.waiter = nil
                return waiter
            }
            s.inbox.append(arrival)
            return nil
        }
        waiter?.resume(returning: arrival)
        if let event { announce(event) }
    }

    /// The connection to segment 0 ended (or broke the protocol). After the start and before
    /// this segment's results were acknowledged, that is an abort: segment 0 is gone.
    func closed(_ error: RendezvousError) {
        var event: RendezvousAbort?
        let waiter: CheckedContinuation<Arrival, any Error>? = state.withLock { s in
            guard s.closed == nil else { return nil }
            s.closed = error
            if s.started, !s.finished {
                let abort = RendezvousAbort(
                    reason: "segment 0 (the rendezvous) lost: \(error.message)",
                    segment: 0,
                    kind: error.kind
                )
                s.aborts.append(abort)
                event = abort
            }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(throwing: error)
        if let event { announce(event) }
        abortContinuation.finish()
    }

    /// This side is closing the connection itself: its end is no abort.
    func finish() {
        state.withLock { $0.finished = true }
        abortContinuation.finish()
    }

    func expectingAck() {
        state.withLock { $0.finished = false }
    }

    private func announce(_ abort: RendezvousAbort) {
        abortContinuation.yield(abort)
        onAbort?(abort)
    }

    // MARK: - Taking messages

    /// The next message, or an error naming `what` was awaited when `timeout` passes first.
    func next(within timeout: Duration, awaiting what: String) async throws -> Arrival {
        let arrival = try await withThrowingTaskGroup(of: Arrival?.self) { group in
            group.addTask { try await self.next() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
        guard let arrival else {
            throw RendezvousError(
                .connectionLost,
                "\(segment0) sent no \(what) within \(timeout.rendezvousText)",
                hint: "is segment 0 overloaded, or its network path dropping packets?"
            )
        }
        return arrival
    }

    private func next() async throws -> Arrival {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Arrival, any Error>) in
                state.withLock { s in
                    if !s.inbox.isEmpty {
                        c.resume(returning: s.inbox.removeFirst())
                    } else if let closed = s.closed {
                        c.resume(throwing: closed)
                    } else if Task.isCancelled {
                        c.resume(throwing: CancellationError())
                    } else {
                        s.waiter = c
                    }
                }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    func waitForAck(segment: Int, timeout: Duration) async throws {
        let arrival = try await next(within: timeout, awaiting: "acknowledgement of segment \(segment)'s results")
        guard case .ack(segment) = arrival.message else {
            throw RendezvousError(
                .protocolViolation,
                "\(segment0) answered segment \(segment)'s results with \"\(arrival.message.type)\""
            )
        }
    }
}
