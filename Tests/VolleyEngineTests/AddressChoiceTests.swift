import NIOCore
import Testing
import VolleyCore
import VolleyTestSupport

@testable import VolleyEngine

/// A run sends every connection to one address of its target; with several, the one the
/// server listens on.
@Suite struct AddressChoiceTests {
    @Test func theFirstAddressThatAcceptsIsChosen() async throws {
        let server = try await TestServer.start()
        let closed = try SocketAddress(ipAddress: "127.0.0.1", port: 1)  // nothing listens there
        let open = try SocketAddress(ipAddress: "127.0.0.1", port: server.port)
        let chosen = AddressChoice.firstReachable([closed, open], timeout: .seconds(1))
        let none = AddressChoice.firstReachable([closed], timeout: .seconds(1))
        try await server.shutdown()
        #expect(chosen == open)
        #expect(none == nil)
    }

    @Test func namesResolveAndAddressesNeedNoResolver() throws {
        let local = try AddressChoice.all(host: "localhost", port: 8080)
        #expect(!local.isEmpty)
        #expect(local.allSatisfy { $0.port == 8080 })
        #expect(try AddressChoice.resolve(host: "127.0.0.1", port: 9) == SocketAddress(ipAddress: "127.0.0.1", port: 9))
        #expect(throws: ResolutionError.self) { try AddressChoice.all(host: "no-such-host.invalid", port: 80) }
    }

    @Test func aRunAgainstAHostNameReachesTheServer() async throws {
        let server = try await TestServer.start()
        let s = try await runLoad("http://localhost:\(server.port)/", model: closed(2, requests: 20))
        try await server.shutdown()
        #expect(s.status == ["200": 20])
        expectAccounting(s, closed(2, requests: 20))
    }

    @Test func anUnknownHostIsADNSErrorWithTheResolversWords() async throws {
        await #expect {
            _ = try await runLoad("http://no-such-host.invalid/", model: closed(1, requests: 1))
        } throws: { error in
            let e = error as? EngineError
            return e?.errorClass == .dns && (e?.message.contains("no-such-host.invalid") ?? false)
        }
    }
}
