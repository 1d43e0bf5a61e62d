import Testing
import VolleyProbes

@Suite struct RESPTests {
    @Test func commandsAreArraysOfBulkStrings() {
        #expect(String(decoding: RESP.encode(["PING"]), as: UTF8.self) == "*1\r\n$4\r\nPING\r\n")
        // Spaces, CRLF and non-ASCII travel inside a bulk string, counted in bytes.
        #expect(
            String(decoding: RESP.encode(["SET", "k", "a b\r\né"]), as: UTF8.self)
                == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$7\r\na b\r\né\r\n"
        )
        #expect(String(decoding: RESP.encode(["AUTH", ""]), as: UTF8.self) == "*2\r\n$4\r\nAUTH\r\n$0\r\n\r\n")
    }

    static let stream =
        "+OK\r\n-WRONGPASS invalid username-password pair\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n"
        + "*3\r\n:1\r\n$4\r\nb\r\nc\r\n*2\r\n+x\r\n$-1\r\n*-1\r\n*0\r\n$4\r\n\r\n\r\n\r\n"
    static let expected: [RESPValue] = [
        .simpleString("OK"),
        .error("WRONGPASS invalid username-password pair"),
        .integer(42),
        .integer(-7),
        .bulkString(Array("hello".utf8)),
        .bulkString([]),
        .bulkString(nil),
        .array([.integer(1), .bulkString(Array("b\r\nc".utf8)), .array([.simpleString("x"), .bulkString(nil)])]),
        .array(nil),
        .array([]),
        .bulkString([13, 10, 13, 10]),
    ]

    @Test func everyKindOfReplyInOneRead() throws {
        var parser = RESPParser()
        parser.append(Array(Self.stream.utf8))
        var replies: [RESPValue] = []
        while let reply = try parser.next() { replies.append(reply) }
        #expect(replies == Self.expected)
        #expect(parser.pendingByteCount == 0)
    }

    @Test func repliesSplitAtEveryByteComeOutWhole() throws {
        let bytes = Array(Self.stream.utf8)
        // One byte per read: the hardest split, and every reply must wait for its last byte.
        var parser = RESPParser()
        var replies: [RESPValue] = []
        for byte in bytes {
            parser.append([byte])
            while let reply = try parser.next() { replies.append(reply) }
        }
        #expect(replies == Self.expected)
        // Two reads, cut at every position.
        for cut in 0...bytes.count {
            var parser = RESPParser()
            var replies: [RESPValue] = []
            parser.append(bytes[..<cut])
            while let reply = try parser.next() { replies.append(reply) }
            parser.append(bytes[cut...])
            while let reply = try parser.next() { replies.append(reply) }
            #expect(replies == Self.expected, "cut at \(cut)")
        }
    }

    @Test func anIncompleteReplyWaits() throws {
        var parser = RESPParser()
        parser.append(Array("$10\r\nhello".utf8))
        #expect(try parser.next() == nil)
        parser.append(Array("world\r".utf8))
        #expect(try parser.next() == nil)
        parser.append([10])
        #expect(try parser.next() == .bulkString(Array("helloworld".utf8)))
        #expect(try parser.next() == nil)
    }

    @Test func aPeerThatIsNotRedisIsAProtocolError() {
        var http = RESPParser()
        http.append(Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8))
        #expect {
            try http.next()
        } throws: { error in
            let text = String(describing: error)
            return text.contains("'H'") && text.contains("HTTP/1.1 400")
        }
        // Decided on the first byte, without waiting for a line end that may never come.
        var ssh = RESPParser()
        ssh.append(Array("SSH-2.0-OpenSSH".utf8))
        #expect(throws: RESPProtocolError.self) { try ssh.next() }

        var badLength = RESPParser()
        badLength.append(Array("$abc\r\n".utf8))
        #expect(throws: RESPProtocolError.self) { try badLength.next() }

        var noCRLF = RESPParser()
        noCRLF.append(Array("$2\r\nabXY".utf8))
        #expect(throws: RESPProtocolError.self) { try noCRLF.next() }

        var huge = RESPParser()
        huge.append(Array("$99999999999\r\n".utf8))
        #expect(throws: RESPProtocolError.self) { try huge.next() }

        var deep = RESPParser()
        deep.append(Array(String(repeating: "*1\r\n", count: 100).utf8))
        #expect(throws: RESPProtocolError.self) { try deep.next() }
    }

    @Test func textIsReadFromSimpleAndBulkStringsOnly() {
        #expect(RESPValue.simpleString("PONG").text == "PONG")
        #expect(RESPValue.bulkString(Array("# Server".utf8)).text == "# Server")
        #expect(RESPValue.bulkString(nil).text == nil)
        #expect(RESPValue.integer(1).text == nil)
    }
}
