import NIOCore

/// The HTTP/2 connections of one event loop: a lane joins a session with room, or a new
/// session connects for it. `-c 50 -m 10` is 500 lanes in 50 sessions.
final class H2Pool<Owner: ConnectionOwner> {
    let template: H2RequestTemplate
    /// `template.wireBytes`, counted once: reading the template out of the pool per request
    /// copied it (a retain and a release).
    let requestWireBytes: Int
    let capacity: Int
    let factory: ConnectionFactory
    private(set) var sessions: [H2Session<Owner>] = []

    /// `--http1-fallback`: sessions fall back to HTTP/1.1 when the server's ALPN says so.
    let allowsHTTP1: Bool
    /// Closed model: a connection's new requests leave together (``H2Session/coalescesWrites``).
    let coalescesWrites: Bool

    init(
        template: H2RequestTemplate,
        capacity: Int,
        factory: ConnectionFactory,
        allowsHTTP1: Bool = false,
        coalescesWrites: Bool = false
    ) {
        self.coalescesWrites = coalescesWrites
        self.template = template
        self.requestWireBytes = template.wireBytes
        self.capacity = capacity
        self.factory = factory
        self.allowsHTTP1 = allowsHTTP1
    }

    /// HTTP/2 connections open or opening (not those that fell back to HTTP/1.1: their lanes
    /// are connections of their own).
    var connectionCount: Int { sessions.count }

    func open(_ lane: HTTPConnection<Owner>, to address: SocketAddress, tls: TLSSetup?) {
        if let session = sessions.first(where: { $0.hasRoom }) {
            session.attach(lane)
            return
        }
        connect(lane, capacity: capacity, to: address, tls: tls)
    }

    /// A new session for `lane`, carrying at most `capacity` lanes.
    private func connect(_ lane: HTTPConnection<Owner>, capacity: Int, to address: SocketAddress, tls: TLSSetup?) {
        let session = H2Session<Owner>(
            template: template,
            capacity: capacity,
            tls: tls != nil,
            allowsHTTP1: allowsHTTP1,
            coalescesWrites: coalescesWrites
        )
        session.onGone = { [weak self] gone in self?.sessions.removeAll { $0 === gone } }
        // A lane left over by a fallback gets a connection of its own: were it to share one
        // with the others, each refusal would hand on all but one lane, one handshake after
        // another. Should that connection speak h2 after all (a mixed fleet), it carries the
        // lane alone.
        session.onFallBack = { [weak self] others in
            for other in others { self?.connect(other, capacity: 1, to: address, tls: tls) }
        }
        sessions.append(session)
        session.attach(lane)
        factory.open(session, to: address, tls: tls)
    }
}
