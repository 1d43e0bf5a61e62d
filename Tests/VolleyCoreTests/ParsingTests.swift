import Testing
import VolleyCore

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("30s", 30.0), ("500ms", 0.5), ("1m30s", 90.0), ("1.5s", 1.5), ("2h", 7200.0), ("250us", 0.000_25),
        (" 10s ", 10.0), ("1m", 60.0),
    ])
    func parsesHumanDurations(text: String, seconds: Double) throws {
        #expect(abs(try DurationText.parse(text).seconds - seconds) < 1e-9)
    }

    @Test(arguments: ["30", "", "10x", "s", "1.2.3s", "-5s", "99999999999999h"])
    func rejectsWithAHint(text: String) {
        #expect(throws: InputError.self) { try DurationText.parse(text) }
        do {
            _ = try DurationText.parse(text)
        } catch let error as InputError {
            #expect(error.hint != nil)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func bareNumberSuggestsUnits() throws {
        do {
            _ = try DurationText.parse("30")
            Issue.record("accepted a bare number")
        } catch let error as InputError {
            #expect(error.message.contains("no unit"))
            #expect(error.hint?.contains("30s") == true)
        }
    }
}

@Suite struct RateTextTests {
    @Test(arguments: [("500", 500.0), ("500/s", 500.0), ("30/m", 0.5), ("7200/h", 2.0), ("10/10s", 1.0), ("0.5", 0.5)])
    func parsesRates(text: String, perSecond: Double) throws {
        #expect(abs(try RateText.parse(text) - perSecond) < 1e-9)
    }

    @Test(arguments: ["fast", "10/x", "/s", "-1", "10/0s", "1e20", "1e12/s", "inf", "nan"])
    func rejectsBadRates(text: String) {
        #expect(throws: InputError.self) { try RateText.parse(text) }
    }

    @Test func theMaximumRateIsAcceptedAndItsArrivalsCounted() throws {
        #expect(try RateText.parse("10000000/s") == 10_000_000)
        // The longest duration at the highest rate still counts in an Int (it used to trap).
        let schedule = ArrivalSchedule(rate: 10_000_000, duration: .seconds(100 * 365 * 24 * 3600))
        #expect(schedule.scheduledCount == 31_536_000_000_000_000)
    }
}

@Suite struct TargetURLTests {
    @Test func defaultsPortsAndPath() throws {
        let a = try TargetURL(parsing: "http://example.test")
        #expect(a.port == 80)
        #expect(a.pathAndQuery == "/")
        #expect(a.hostHeader == "example.test")
        let b = try TargetURL(parsing: "https://example.test/x?y=1#frag")
        #expect(b.port == 443)
        #expect(b.isTLS)
        #expect(b.pathAndQuery == "/x?y=1")
    }

    @Test func keepsExplicitPortAndIPv6() throws {
        let a = try TargetURL(parsing: "http://127.0.0.1:8080/api/v1/todos?limit=5")
        #expect(a.host == "127.0.0.1")
        #expect(a.port == 8080)
        #expect(a.hostHeader == "127.0.0.1:8080")
        #expect(a.pathAndQuery == "/api/v1/todos?limit=5")
        let b = try TargetURL(parsing: "http://[::1]:9000?q")
        #expect(b.host == "::1")
        #expect(b.hostHeader == "[::1]:9000")
        #expect(b.pathAndQuery == "/?q")
    }

    /// Spaces and non-ASCII have one safe spelling and are encoded; what would change the
    /// request on the wire (CR, LF, NUL, other control bytes, bad %-escapes, a host that is
    /// not a name) is refused.
    @Test func spacesAndNonASCIIAreEncodedValidEscapesKept() throws {
        let a = try TargetURL(parsing: "http://host/a b/é?q=x y&r=%2F")
        #expect(a.pathAndQuery == "/a%20b/%C3%A9?q=x%20y&r=%2F")
        #expect(try TargetURL(parsing: "http://host/%41%7e").pathAndQuery == "/%41%7e")
    }

    @Test(arguments: [
        "http://host/x\r\nX-Injected: 1", "http://host/x\nX-Injected: 1", "http://host/x\u{0}", "http://host/\u{7}",
        "http://host/x\u{7F}", "http://ho\r\nst/", "http://host/%zz", "http://host/%4", "http://host/%",
        "http://ho st/", "http://host:0/", "http:///x", "http://[::1]x/", "http://[::1/", "http://exa<mple/",
    ])
    func refusesWhatWouldChangeTheRequest(text: String) {
        do {
            _ = try TargetURL(parsing: text)
            Issue.record("accepted \(WireText.escaped(text))")
        } catch let error as InputError {
            #expect(error.hint != nil)
            #expect(!error.message.contains("\r") && !error.message.contains("\n"), "spelled out, not written")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(arguments: [
        "ftp://x/", "127.0.0.1:8080", "http://", "http://host:99999/", "http://u:p@host/", "http://[::1/",
    ])
    func rejectsWithHint(text: String) {
        do {
            _ = try TargetURL(parsing: text)
            Issue.record("accepted \(text)")
        } catch let error as InputError {
            #expect(error.hint != nil)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite struct HTTPHeaderTests {
    @Test func parsesNameAndValue() throws {
        let h = try HTTPHeader(parsing: "Authorization:  Bearer abc ")
        #expect(h.name == "Authorization")
        #expect(h.value == "Bearer abc")
    }

    /// `"\r\n"` is one Swift Character, so `value.contains("\r")` let it through to the wire.
    @Test(arguments: [
        "NoColon", ": value", "Bad Name: x", "X-A: 1\r\nX-Injected: 1", "X-A: 1\nX-Injected: 1", "X-A: a\u{0}b",
        "X-A: a\rb", "Bad(Name): x", "Content-Length: abc", "content-length: -1", "Content-Length:",
    ])
    func rejects(text: String) {
        #expect(throws: InputError.self) { try HTTPHeader(parsing: text) }
    }

    @Test func aRefusedValueIsNotRepeatedInTheMessage() {
        do {
            _ = try HTTPHeader(parsing: "Authorization: Bearer s3cret\r\nX-Injected: 1")
            Issue.record("accepted")
        } catch let error as InputError {
            #expect(
                error.message == "the value of header \"Authorization\" contains a carriage return (\\r) at byte 14"
            )
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func aNumericContentLengthIsKept() throws {
        #expect(try HTTPHeader(parsing: "Content-Length: 12").value == "12")
    }
}
