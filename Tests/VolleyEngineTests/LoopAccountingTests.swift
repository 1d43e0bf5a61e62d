import Testing

@testable import VolleyEngine

/// The URL engine's bookkeeping, decided without a socket: every request taken from the
/// budget or the schedule ends as a response, a failure or an unsent one, and the loop
/// finishes only when nothing is owed.
@Suite struct LoopAccountingTests {
    @Test func closedModelSpendsTicketsThenTheBudgetAndFinishes() {
        var a = LoopAccounting(model: .closed(slots: 2), budget: RequestBudget(3))
        var tickets: [Bool] = []
        while a.ticketForNewConnection() {
            a.opening(withTicket: true)
            tickets.append(true)
        }
        #expect(tickets.count == 2)
        #expect(a.connections == 2 && a.connecting == 2 && a.ticketsHeld == 2)
        a.connected()
        a.connected()
        let r1 = a.dispatch(holdsTicket: &tickets[0], carries: false)
        #expect(r1 == .send(dueAt: nil))
        let r2 = a.dispatch(holdsTicket: &tickets[1], carries: false)
        #expect(r2 == .send(dueAt: nil))
        #expect(tickets == [false, false] && a.ticketsHeld == 0 && a.inFlight == 2)
        a.completed()
        // The third request comes from the budget; the fourth does not exist.
        let r3 = a.dispatch(holdsTicket: &tickets[0], carries: false)
        #expect(r3 == .send(dueAt: nil))
        a.completed()
        let r4 = a.dispatch(holdsTicket: &tickets[1], carries: false)
        #expect(r4 == .close)
        #expect(a.finish() == .notYet)  // one still in flight
        a.completed()
        #expect(a.finish() == .closeConnections)
        _ = a.closed(holdsTicket: &tickets[0], carries: false, retryOwed: false)
        _ = a.closed(holdsTicket: &tickets[1], carries: false, retryOwed: false)
        #expect(a.finish() == .done)
    }

    @Test func aFailedConnectFailsItsTicketsRequestAndBacksOff() {
        var a = LoopAccounting(model: .closed(slots: 1), budget: nil)
        let r5 = a.ticketForNewConnection()
        #expect(r5)
        a.opening(withTicket: true)
        var ticket = true
        let r6 = a.connectFailed(holdsTicket: &ticket, carries: false, failures: 2)
        #expect(r6 == .ticketFailed(failures: 3))
        #expect(a.connections == 0 && a.connecting == 0 && a.ticketsHeld == 0 && !ticket)
        // Stopped while connecting: the request was never sent, not failed.
        let r7 = a.ticketForNewConnection()
        #expect(r7)
        a.opening(withTicket: true)
        ticket = true
        let r8 = a.stop()
        #expect(r8 == 0)
        let r9 = a.connectFailed(holdsTicket: &ticket, carries: false, failures: 0)
        #expect(r9 == .unsent)
        #expect(a.finish() == .done)
    }

    @Test func stoppedConnectionsCountTheirTicketsUnsent() {
        var a = LoopAccounting(model: .closed(slots: 1), budget: nil)
        let r10 = a.ticketForNewConnection()
        #expect(r10)
        a.opening(withTicket: true)
        a.connected()
        _ = a.stop()
        var ticket = true
        let r11 = a.dispatch(holdsTicket: &ticket, carries: false)
        #expect(r11 == .closeUnsent)
        let r12 = a.ticketForNewConnection()
        #expect(!r12)
        #expect(a.finish() == .closeConnections)
        let r13 = a.closed(holdsTicket: &ticket, carries: false, retryOwed: false)
        #expect(r13 == .init(replace: false))
        #expect(a.finish() == .done)
    }

    @Test func aConnectionClosedBeforeItsFirstRequestFailsThatRequest() {
        var a = LoopAccounting(model: .closed(slots: 1), budget: RequestBudget(1))
        let r14 = a.ticketForNewConnection()
        #expect(r14)
        a.opening(withTicket: true)
        a.connected()
        var ticket = true
        let outcome = a.closed(holdsTicket: &ticket, carries: false, retryOwed: false)
        #expect(outcome.ticketUnsent == false && outcome.replace)
        // The budget is spent: no replacement, and the loop is done.
        let r15 = a.ticketForNewConnection()
        #expect(!r15)
        #expect(a.finish() == .done)
    }

    @Test func openModelQueuesArrivalsAndCapsConnects() {
        var a = LoopAccounting(model: .open(maxConnections: 20), budget: nil)
        for i in 0..<30 { a.arrived(dueAt: UInt64(i)) }
        #expect(a.connectionsWanted() == LoopAccounting.maxConnectsInFlight)
        for _ in 0..<8 { a.opening(withTicket: false) }
        #expect(a.connectionsWanted() == 0)  // eight connects already in progress
        a.connected()
        var none = false
        let r16 = a.dispatch(holdsTicket: &none, carries: false)
        #expect(r16 == .send(dueAt: 0))
        #expect(a.connectionsWanted() == 1)
        // A failed connect fails the oldest waiting request, and others still wait.
        #expect(
            a.connectFailed(holdsTicket: &none, carries: false, failures: 0)
                == .pendingFailed(failedRequest: true, reopen: true)
        )
        #expect(a.pending.count == 28)
        let r17 = a.nextPending()
        #expect(r17 == 2)
        let r18 = a.stop()
        #expect(r18 == 27)
        let r19 = a.dispatch(holdsTicket: &none, carries: false)
        #expect(r19 == .close)
        #expect(a.connectionsWanted() == 0)
    }

    @Test func openModelKeepsIdleConnectionsUntilSomethingIsDue() {
        var a = LoopAccounting(model: .open(maxConnections: 2), budget: nil)
        a.opening(withTicket: false)
        a.connected()
        var none = false
        let r20 = a.dispatch(holdsTicket: &none, carries: false)
        #expect(r20 == .keepIdle)
        #expect(a.finish() == .notYet)  // the schedule runs until stopped
        _ = a.stop()
        #expect(a.finish() == .closeConnections)
    }

    @Test func aRetryIsOwedUntilItsNewConnectionSendsIt() {
        var a = LoopAccounting(model: .closed(slots: 1), budget: RequestBudget(1))
        let r21 = a.ticketForNewConnection()
        #expect(r21)
        a.opening(withTicket: true)
        a.connected()
        var ticket = true
        let r22 = a.dispatch(holdsTicket: &ticket, carries: false)
        #expect(r22 == .send(dueAt: nil))
        _ = a.stop()
        let r23 = a.failed(retry: true)
        #expect(r23)
        #expect(a.finish() == .notYet)  // stopped, but the retry is owed
        let closed = a.closed(holdsTicket: &ticket, carries: false, retryOwed: true)
        #expect(closed.retry == true && !closed.replace)
        a.opening(withTicket: false)
        a.connected()
        let r24 = a.dispatch(holdsTicket: &ticket, carries: true)
        #expect(r24 == .resend)
        #expect(a.retriesPending == 0 && a.inFlight == 1)
        a.completed()
        #expect(a.finish() == .closeConnections)
    }

    @Test func noRetriesOnceInterrupted() {
        var a = LoopAccounting(model: .closed(slots: 1), budget: nil)
        let r25 = a.ticketForNewConnection()
        #expect(r25)
        a.opening(withTicket: true)
        a.connected()
        var ticket = true
        _ = a.dispatch(holdsTicket: &ticket, carries: false)
        _ = a.stop()
        a.interrupt()
        let r26 = a.failed(retry: true)
        #expect(!r26)
        #expect(a.retriesPending == 0)
        // A retry owed before the interrupt fails as interrupted when its connection closes.
        var b = LoopAccounting(model: .closed(slots: 1), budget: nil)
        let r27 = b.ticketForNewConnection()
        #expect(r27)
        b.opening(withTicket: true)
        b.connected()
        _ = b.dispatch(holdsTicket: &ticket, carries: false)
        let r28 = b.failed(retry: true)
        #expect(r28)
        b.interrupt()
        let r29 = b.closed(holdsTicket: &ticket, carries: false, retryOwed: true)
        #expect(r29.retry == false)
        #expect(b.retriesPending == 0)
    }

    @Test func aRetryWhoseConnectFailsIsSettled() {
        var a = LoopAccounting(model: .open(maxConnections: 1), budget: nil)
        a.opening(withTicket: false)
        a.connected()
        a.arrived(dueAt: 5)
        var none = false
        let r30 = a.dispatch(holdsTicket: &none, carries: false)
        #expect(r30 == .send(dueAt: 5))
        let r31 = a.failed(retry: true)
        #expect(r31)
        _ = a.closed(holdsTicket: &none, carries: false, retryOwed: true)
        a.opening(withTicket: false)
        let r32 = a.connectFailed(holdsTicket: &none, carries: true, failures: 0)
        #expect(r32 == .retryFailed(replace: true))
        #expect(a.retriesPending == 0 && a.connections == 0)
        _ = a.stop()
        #expect(a.finish() == .done)
    }
}
