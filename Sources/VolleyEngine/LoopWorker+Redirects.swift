import NIOCore
import VolleyCore

/// `volley run --follow N`: what a redirect response does to the request on a connection.
/// The worker performs it (its accounting stays in one place).
enum RedirectAction {
    /// The response is the request's final one.
    case final
    /// The next hop was written on the same connection: the request is still in flight.
    case continued
    /// The next hop goes on a new connection, opened once this one's close is reported (as
    /// a retry is carried): to another authority, or because this connection closes.
    case moved(CarriedRequest)
}

extension LoopWorker {
    /// Decides what the response on `h` (complete at `t`) does to its request, counting
    /// followed hops and cut chains; writes the next hop itself when it stays on `h`.
    func followRedirect(_ h: Connection, at t: UInt64, keepAlive: Bool) -> RedirectAction {
        guard let redirects, RedirectDecision.statuses.contains(h.parser.status) else { return .final }
        let location = h.parser.headers.first { $0.name.equalsIgnoringASCIICase("location") }?.value
        let (decision, next) = redirects.next(status: h.parser.status, location: location, after: h.data.hop)
        switch decision {
        case .final, .follow:
            break
        case .limitReached:
            recorder.redirectLimit += 1
        case .unusable:
            recorder.redirectUnusable += 1
        }
        guard let hop = next else { return .final }
        recorder.recordRedirect(bytesIn: h.parser.bytesReceived)
        let here = h.data.authority ?? redirects.spec.url.authorityKey
        guard keepAlive && hop.url.authorityKey == here else {
            return .moved(
                CarriedRequest(
                    sequence: h.data.sequence,
                    dueAt: h.data.dueAt,
                    sentAt: h.data.firstSentAt,
                    hop: hop,
                    isRetry: false
                )
            )
        }
        // The 3xx's phases are dropped: a request's phases are its final response's.
        _ = h.phases(completedAt: t)
        writeHop(
            h,
            hop,
            isRetry: false,
            sequence: h.data.sequence,
            dueAt: h.data.dueAt,
            firstSentAt: h.data.firstSentAt,
            now: isOpenModel ? NIODeadline.now().uptimeNanoseconds : t
        )
        return .continued
    }

    /// Writes a redirect hop of request `sequence` on `h`: the same id, intended start and
    /// first write (its latency and its timeout still count from there), new bytes.
    func writeHop(
        _ h: Connection,
        _ hop: RedirectHop,
        isRetry: Bool,
        sequence: UInt64,
        dueAt: UInt64,
        firstSentAt: UInt64,
        now: UInt64
    ) {
        h.data.hop = hop
        h.data.sequence = sequence
        h.data.dueAt = dueAt
        h.data.firstSentAt = firstSentAt
        h.deadline = firstSentAt &+ requestTimeoutNanos
        var bytes = ByteBuffer()
        let count: Int
        if let h2 = hop.h2, h.session != nil {
            // HTTP/2: the hop's HPACK block, the request id patched in by the session.
            count = h2.wireBytes
        } else {
            hop.encoder.encode(into: &bytes, loop: index, sequence: sequence)
            count = bytes.readableBytes + (hop.encoder.largeBody?.readableBytes ?? 0)
        }
        h.send(
            bytes,
            body: hop.encoder.largeBody,
            isHEAD: hop.encoder.isHEAD,
            replayable: hop.encoder.isReplayable,
            isRetry: isRetry,
            requestID: RequestID.value(loop: index, sequence: sequence),
            h2Request: hop.h2,
            now: now
        )
        if isRetry {
            recorder.recordResend(bytes: count)
        } else {
            recorder.recordHopSend(bytes: count)
        }
    }

    /// Opens `c` to a redirect's other authority: its name resolved once per loop (the
    /// lookup is the connection's DNS phase), TLS from the run's context source (ALPN h2 in
    /// an HTTP/2 run). A hop over HTTP/2 goes on a session of its own with `c` its one lane.
    func openElsewhere(_ c: Connection, to hop: RedirectHop) {
        let url = hop.url
        var setup: TLSSetup?
        if url.isTLS {
            do {
                guard let tlsSource else { throw HostResolutionError(host: url.host, reason: "no TLS context") }
                setup = TLSSetup(context: try tlsSource.context(), host: url.host)
            } catch {
                // Reported on the next loop turn, as a refused connect would be.
                loop.assumeIsolated().execute { c.connectAttemptFailed(error) }
                return
            }
        }
        addresses.lookup(url.authorityKey) { [self] result, dns in
            switch result {
            case .success(let address) where c.state == .connecting:
                if hop.http.isHTTP2 {
                    let session = H2Session<LoopWorker>(
                        template: nil,
                        capacity: 1,
                        tls: url.isTLS,
                        allowsHTTP1: h2?.allowsHTTP1 ?? false
                    )
                    session.attach(c)
                    session.dnsNanos = dns
                    factory.open(session, to: address, tls: setup)
                } else {
                    c.dnsNanos = dns
                    factory.open(c, to: address, tls: setup)
                }
            case .success:
                // Told to close while its name was being resolved (the run was stopped).
                c.connectAttemptFailed(ChannelError.ioOnClosedChannel)
            case .failure(let error):
                c.connectAttemptFailed(error)
            }
        }
    }
}
