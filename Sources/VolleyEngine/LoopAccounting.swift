/// The bookkeeping of one event loop's URL run, apart from its sockets: how many
/// connections exist and are connecting, how many requests are in flight, the closed
/// model's tickets, the open model's queue of requests waiting for a connection, and the
/// retries owed. Every event a connection reports becomes one call here, which updates the
/// counts and returns what the loop must do; ``LoopWorker`` does it (records, opens,
/// closes, schedules).
///
/// A value with no I/O, so every decision is tested without a socket
/// (`LoopAccountingTests`): the counts are what make a run's totals exact — every request
/// taken from the budget or the schedule ends as a response, a failure or an unsent one.
struct LoopAccounting {
    enum Model: Equatable {
        /// At most `slots` connections, each sending its next request when the previous ends.
        case closed(slots: Int)
        /// Requests due by the schedule; at most `maxConnections` connections to carry them.
        case open(maxConnections: Int)
    }

    let model: Model
    /// The closed model's shared request budget (`-n`); nil: unlimited.
    let budget: RequestBudget?

    /// Connections that exist, connecting ones included.
    private(set) var connections = 0
    private(set) var connecting = 0
    private(set) var inFlight = 0
    /// Closed model: tickets taken for connections still connecting (each becomes a request
    /// or a failure).
    private(set) var ticketsHeld = 0
    /// Requests failed on a reused connection and waiting to be sent again: work owed.
    private(set) var retriesPending = 0
    /// No new requests (the duration ended, or Ctrl-C).
    private(set) var stopped = false
    /// Ctrl-C (or the end grace) has begun: nothing is retried any more.
    private(set) var interrupting = false
    /// Open model: due times of requests waiting for a connection.
    private(set) var pending = DueQueue()

    init(model: Model, budget: RequestBudget?) {
        self.model = model
        self.budget = budget
    }

    var isOpenModel: Bool {
        if case .open = model { return true }
        return false
    }

    /// At most this many connects run at once per loop in the open model. Without the cap a
    /// short hiccup at 50,000 req/s made the loop open hundreds of connections at once; their
    /// set-up (~60 µs each on the loop) delayed the schedule further and the pool ran to its
    /// limit with a 60–80 ms latency spike caused by Volley itself.
    static let maxConnectsInFlight = 8

    @inline(__always)
    private func takeTicket() -> Bool {
        budget?.take() ?? true
    }

    // MARK: - Opening

    /// A connection is being opened (with a ticket taken for its first request, or not).
    mutating func opening(withTicket: Bool) {
        connections += 1
        connecting += 1
        if withTicket { ticketsHeld += 1 }
    }

    /// Closed model: a ticket for a new connection, if the loop has room and requests remain.
    mutating func ticketForNewConnection() -> Bool {
        guard case .closed(let slots) = model, !stopped, connections < slots else { return false }
        return takeTicket()
    }

    /// Open model: how many connections to open now for the requests that wait, within the
    /// loop's limit and the cap on connects in progress.
    func connectionsWanted() -> Int {
        guard case .open(let maxConnections) = model, !stopped else { return 0 }
        let wanted = pending.count - connecting
        let room = maxConnections - connections
        let connectBudget = Self.maxConnectsInFlight - connecting
        return max(0, min(wanted, room, connectBudget))
    }

    /// A connection came up.
    mutating func connected() {
        connecting -= 1
    }

    // MARK: - Requests

    /// Open model: a request fell due.
    mutating func arrived(dueAt: UInt64) {
        pending.append(dueAt)
    }

    enum Dispatch: Equatable {
        /// Send the request this new connection carries (a retry).
        case resend
        /// Send a new request; `dueAt` is its intended start (nil: now, the closed model).
        case send(dueAt: UInt64?)
        /// Keep the connection idle until a request falls due (open model).
        case keepIdle
        /// Close the connection: no work left for it.
        case close
        /// Close it, and count its ticket's request as never sent (stopped while connecting).
        case closeUnsent
    }

    /// What an idle connection does next. `holdsTicket` (the ticket taken when the connection
    /// was opened) is spent here; `carries`: it was opened to send a retry.
    mutating func dispatch(holdsTicket: inout Bool, carries: Bool) -> Dispatch {
        if carries {
            // A request already under way: sent even after the duration ended (the end
            // grace bounds it), like any request in flight.
            retriesPending -= 1
            inFlight += 1
            return .resend
        }
        if isOpenModel {
            if let due = pending.popFirst() {
                inFlight += 1
                return .send(dueAt: due)
            }
            return stopped ? .close : .keepIdle
        }
        let hadTicket = spend(&holdsTicket)
        if stopped { return hadTicket ? .closeUnsent : .close }
        if hadTicket || takeTicket() {
            inFlight += 1
            return .send(dueAt: nil)
        }
        return .close
    }

    /// Open model: a request for a connection that is idle now (nil: none waits).
    mutating func nextPending() -> UInt64? {
        guard let due = pending.popFirst() else { return nil }
        inFlight += 1
        return due
    }

    private mutating func spend(_ holdsTicket: inout Bool) -> Bool {
        guard holdsTicket else { return false }
        holdsTicket = false
        ticketsHeld -= 1
        return true
    }

    /// The request in flight got its response.
    mutating func completed() {
        inFlight -= 1
    }

    /// The request in flight moves to a new connection (a redirect hop to another
    /// authority, or after a close): owed like a retry until that connection sends it.
    mutating func carryOver() {
        inFlight -= 1
        retriesPending += 1
    }

    /// The request in flight failed; true when it is to be sent again on a new connection
    /// (a reused connection's close, ``RetryPolicy``) once the close has been handled.
    mutating func failed(retry: Bool) -> Bool {
        inFlight -= 1
        guard retry && !interrupting else { return false }
        retriesPending += 1
        return true
    }

    // MARK: - Connect failures and closes

    enum ConnectFailure: Equatable {
        /// The retry (or redirect hop) this connection carried fails with the connect;
        /// `replace`: open the successor of the connection it replaced (not stopped).
        case retryFailed(replace: Bool)
        /// Open model: `failedRequest` — the oldest waiting request fails with the connect;
        /// `reopen` — others still wait, open again on the next loop turn (never
        /// recursively: a refused connect may complete synchronously).
        case pendingFailed(failedRequest: Bool, reopen: Bool)
        /// Closed model: the ticket's request fails; open a replacement after the backoff
        /// for `failures` consecutive failed connects.
        case ticketFailed(failures: Int)
        /// Closed model, stopped meanwhile: the ticket's request was never sent.
        case unsent
        /// Nothing to account (a connection without a ticket in the closed model).
        case none
    }

    /// A connect failed. `failures`: consecutive failed connects before this one.
    mutating func connectFailed(holdsTicket: inout Bool, carries: Bool, failures: Int) -> ConnectFailure {
        connecting -= 1
        connections -= 1
        if carries {
            retriesPending -= 1
            return .retryFailed(replace: !stopped)
        }
        if isOpenModel {
            let failed = pending.popFirst() != nil
            return .pendingFailed(failedRequest: failed, reopen: !pending.isEmpty && !stopped)
        }
        guard spend(&holdsTicket) else { return .none }
        return stopped ? .unsent : .ticketFailed(failures: failures + 1)
    }

    /// What the close of an established connection leaves to do.
    struct Closed: Equatable {
        /// The retry it was opened for was never written: it fails (`no_response`).
        var retryLost = false
        /// Its own request is owed a retry: `true` — open a new connection for it; `false` —
        /// interrupted, it fails as interrupted.
        var retry: Bool?
        /// Its ticket was never used: `true` — counted unsent (stopped); `false` — the
        /// request fails (`no_response`, closed before it was sent).
        var ticketUnsent: Bool?
        /// Open replacements: the open model's waiting requests, or the closed model's slot.
        var replace = false
    }

    /// An established connection closed. `carries`: it still held the retry it was opened
    /// for; `retryOwed`: its own request failed and is to be retried.
    mutating func closed(holdsTicket: inout Bool, carries: Bool, retryOwed: Bool) -> Closed {
        connections -= 1
        var outcome = Closed()
        if carries {
            retriesPending -= 1
            outcome.retryLost = true
        }
        if retryOwed {
            if interrupting {
                retriesPending -= 1
                outcome.retry = false
            } else {
                // The retry's new connection replaces this one, whatever the model's limits.
                outcome.retry = true
            }
        }
        if spend(&holdsTicket) { outcome.ticketUnsent = stopped }
        outcome.replace = !stopped
        return outcome
    }

    // MARK: - Ending

    /// No new requests; returns how many waiting requests will never be sent.
    mutating func stop() -> Int {
        stopped = true
        return pending.removeAll()
    }

    /// Ctrl-C or the end grace: what is in flight is about to be failed; no more retries.
    mutating func interrupt() {
        interrupting = true
    }

    enum Finish: Equatable {
        /// Work remains (requests to send, in flight, retries owed).
        case notYet
        /// No work left, but connections remain: close them, then finish.
        case closeConnections
        case done
    }

    /// Whether the loop has finished. `slots`: in the closed model, whether requests remain
    /// to be sent is known from the budget.
    func finish() -> Finish {
        var moreWork: Bool
        switch model {
        case .open:
            moreWork = !stopped
        case .closed(let slots):
            moreWork = ticketsHeld > 0 || (!stopped && (budget?.hasRemaining ?? true) && slots > 0)
        }
        moreWork = moreWork || retriesPending > 0
        guard !moreWork, inFlight == 0 else { return .notYet }
        return connections == 0 ? .done : .closeConnections
    }
}
