import Foundation
import Testing
import VolleyCore
import VolleyProbes

#if canImport(Glibc)
import Glibc
#endif

/// Reading `postgres://` URLs and keeping their passwords out of every text: no server needed.
@Suite struct PostgresURLTests {
    @Test func aFullURLIsReadLikeLibpqReadsIt() throws {
        let target = try PostgresTarget.parse("postgres://app:s3cret@db.internal:6543/orders?sslmode=require")
        #expect(target.user == "app")
        #expect(target.password == "s3cret")
        #expect(target.host == "db.internal")
        #expect(target.port == 6543)
        #expect(target.database == "orders")
        #expect(target.tls == .require)
        #expect(target.socketDirectory == nil)
    }

    @Test func defaultsArePort5432NoTLSAndTheUsersDatabase() throws {
        let target = try PostgresTarget.parse("postgresql://volley@127.0.0.1")
        #expect(target.port == 5432)
        #expect(target.tls == .disable)
        #expect(target.user == "volley")
        #expect(target.password == nil)
        #expect(target.database == "volley")
        let bare = try PostgresTarget.parse("postgres://localhost/")
        #expect(bare.user == "postgres")
        #expect(bare.database == "postgres")
    }

    @Test func percentEncodedCredentialsAreDecoded() throws {
        let target = try PostgresTarget.parse("postgres://us%40er:p%40ss%3Aw%2Frd@127.0.0.1:5433/my%20db")
        #expect(target.user == "us@er")
        #expect(target.password == "p@ss:w/rd")
        #expect(target.database == "my db")
        // And written back so that it reads the same.
        #expect(try PostgresTarget.parse(target.url) == target)
    }

    @Test func socketDirectoriesAndIPv6HostsAreUnderstood() throws {
        let socket = try PostgresTarget.parse("postgres://volley@localhost:5999/volley?host=/tmp/pg")
        #expect(socket.socketDirectory == "/tmp/pg")
        #expect(socket.description.contains("/tmp/pg/.s.PGSQL.5999"))
        let v6 = try PostgresTarget.parse("postgres://volley@[::1]:5433/volley")
        #expect(v6.host == "::1")
        #expect(v6.description.hasPrefix("[::1]:5433"))
    }

    @Test func badParametersAreRefusedWithoutThePassword() {
        for spec in [
            "postgres://u:topsecretpw@h/db?sslmode=sometimes",
            "postgres://u:topsecretpw@h/db?pool=5",
            "postgres://u:topsecretpw@h/db?connect_timeout=soon",
        ] {
            do {
                _ = try PostgresTarget.parse(spec)
                Issue.record("\(spec) was accepted")
            } catch {
                #expect(!error.description.contains("topsecretpw"))
                #expect(error.description.contains("postgres://***@h/db"))
            }
        }
    }

    @Test func theFactoryMakesAPostgresProbeThatNeverShowsThePassword() throws {
        for spec in ["postgres://volley:hunter2xyz@127.0.0.1:5432/volley", "postgresql://volley:hunter2xyz@h/volley"] {
            let probe = try ProbeFactory.make(spec)
            #expect(probe.kind == "postgres")
            #expect(!probe.displayName.contains("hunter2xyz"))
            #expect(probe.displayName.contains("***@"))
        }
        let target = try PostgresTarget.parse("postgres://volley:hunter2xyz@127.0.0.1:5432/volley")
        #expect(!target.description.contains("hunter2xyz"))
        #expect(target.description == #"127.0.0.1:5432, database "volley", user "volley""#)
        #expect(target.redactedURL == "postgres://***@127.0.0.1:5432/volley")
        // However it is printed.
        for text in [
            "\(target)", String(reflecting: target),
            {
                var s = ""
                dump(target, to: &s)
                return s
            }(),
        ] {
            #expect(!text.contains("hunter2xyz"), "\(text)")
        }
        #expect(PostgresProbe(target: target).displayName == "postgres://***@127.0.0.1:5432/volley")
    }

    /// A server that accepts the TCP connection and never answers: the probe gives up within
    /// its connect timeout instead of holding the run.
    @Test func aSilentServerTimesOutWithinTheConnectTimeout() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let probe = try ProbeFactory.make(
            "postgres://volley:silentpw@127.0.0.1:\(listener.port)/volley?connect_timeout=1"
        )
        let started = ContinuousClock.now
        do {
            try await probe.check()
            Issue.record("a silent server passed the check")
        } catch {
            let text = String(describing: error)
            #expect(text.contains("no answer within 1 s"), "\(text)")
            #expect(text.contains("127.0.0.1:\(listener.port)"))
            #expect(!text.contains("silentpw"))
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        await probe.close()
    }
}

/// A listening socket nobody accepts from: the kernel completes the handshake, then silence.
final class SilentListener: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard fd >= 0, bound == 0, listen(fd, 8) == 0 else { throw ProbeError("cannot listen") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
        #else
        throw ProbeError("Linux only")
        #endif
    }

    func close() {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #endif
    }
}
