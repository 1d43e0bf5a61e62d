import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Which of a host name's addresses a run connects to.
///
/// A run resolves its target once and sends every connection to one address (connections
/// are opened by the thousand; resolving each would measure the resolver). When the name has
/// several addresses — `localhost` as `::1` and `127.0.0.1` on many machines — the first one
/// listed may not be the one the server listens on, and every request would then fail as
/// refused. So, like Happy Eyeballs, Volley tries them in order with one TCP connection each
/// (opened and closed before any load) and keeps the first that accepts.
enum AddressChoice {
    /// The address for `host:port`: the only one, or the first of several that accepts a
    /// connection within `timeout`, or (none accepting) the first, whose error the run will
    /// then report per request.
    static func resolve(host: String, port: Int, timeout: TimeAmount = .seconds(1)) throws -> SocketAddress {
        if let literal = try? SocketAddress(ipAddress: host, port: port) { return literal }
        let candidates = try all(host: host, port: port)
        guard candidates.count > 1 else {
            return try candidates.first ?? SocketAddress.makeAddressResolvingHost(host, port: port)
        }
        return firstReachable(candidates, timeout: timeout) ?? candidates[0]
    }

    /// Every address of `host` for TCP, in the resolver's order, without duplicates.
    static func all(host: String, port: Int) throws -> [SocketAddress] {
        #if canImport(Glibc)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw ResolutionError(reason: rc == 0 ? "no address" : String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(first) }
        var out: [SocketAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            if let sa = n.pointee.ai_addr {
                var address: SocketAddress?
                switch n.pointee.ai_family {
                case AF_INET:
                    address = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        SocketAddress($0.pointee, host: host)
                    }
                case AF_INET6:
                    address = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        SocketAddress($0.pointee, host: host)
                    }
                default:
                    break
                }
                if let address, !out.contains(address) { out.append(address) }
            }
            node = n.pointee.ai_next
        }
        return out
        #else
        return [try SocketAddress.makeAddressResolvingHost(host, port: port)]
        #endif
    }

    /// The first of `candidates` that accepts a TCP connection within `timeout`, tried one
    /// after another; nil if none does.
    static func firstReachable(_ candidates: [SocketAddress], timeout: TimeAmount) -> SocketAddress? {
        #if canImport(Glibc)
        for address in candidates {
            let fd = DirectConnector.makeSocket(for: address)
            guard fd >= 0 else { continue }
            defer { _ = Glibc.close(fd) }
            let rc = address.withSockAddr { Glibc.connect(fd, $0, socklen_t($1)) }
            if rc == 0 { return address }
            guard errno == EINPROGRESS else { continue }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let millis = Int32(clamping: max(1, timeout.nanoseconds / 1_000_000))
            guard poll(&p, 1, millis) == 1 else { continue }
            if DirectConnector.connectError(fd) == 0 { return address }
        }
        return nil
        #else
        return candidates.first
        #endif
    }
}

/// The resolver's own words for a name it could not resolve ("Name or service not known").
struct ResolutionError: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}
