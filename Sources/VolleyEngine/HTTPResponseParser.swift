#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A byte-level HTTP/1.x response parser that counts the body instead of storing it.
///
/// Why not NIOHTTP1: its decoder builds `HTTPResponseHead` with a header dictionary and
/// body `ByteBuffer` slices for every response, which measured here at about 0.6x wrk's
/// throughput. A load generator only needs the status, the framing headers and the number
/// of body bytes, so this parser scans for line ends with `memchr`, looks at three header
/// names, and skips body bytes in bulk. Memory is constant whatever the body size: a body
/// far larger than RAM is only counted. The exceptions are asked for: `bodyLimit` (plans'
/// checks and captures) and `errorBodyLimit` (the start of error bodies, for the samples).
///
/// It is a value with no I/O: `consume` is fed whatever bytes arrived, and says whether the
/// response is complete. Lines split across reads are the only bytes ever copied.
public struct HTTPResponseParser: Sendable {
    /// What `consume` found.
    public enum Progress: Equatable, Sendable {
        /// The response is not complete yet; all bytes were consumed.
        case needMore
        /// The response ended after `consumed` bytes of the input.
        case complete(consumed: Int)
        /// The bytes are not an HTTP/1.x response.
        case malformed(String)
    }

    enum State: Equatable {
        case statusLine
        case headers
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    private(set) var state: State = .statusLine
    /// The final status code (after any 1xx interim responses).
    public private(set) var status = 0
    /// Whether the connection may carry another request after this response.
    public private(set) var keepAlive = true
    /// Bytes received for this response, head and body.
    public private(set) var bytesReceived = 0
    /// Body bytes (after de-chunking).
    public private(set) var bodyBytes = 0
    private var isHTTP10 = false
    private var contentLength: Int?
    private var chunked = false
    private var connectionClose = false
    private var connectionKeepAlive = false
    private var headBytes = 0
    /// The start of a line that did not end in the last read.
    private var partialLine: [UInt8] = []
    private var expectsNoBody = false

    /// Which headers a response keeps.
    public enum HeaderRetention: Sendable {
        /// None: the plain run only needs the framing headers, which it reads anyway.
        case none
        /// `Set-Cookie`, `Location` and `Content-Encoding`: what a VU's cookie jar, redirects
        /// and body decoding (``ContentDecoder``) need. Most
        /// steps check no header, and turning every header into two strings was a tenth
        /// of a plan run's CPU.
        case cookiesAndLocation
        /// Every header (steps with header checks or captures).
        case all
    }

    /// Scenario steps need headers (checks, captures, cookies); the plain run does not.
    public var keepsHeaders: HeaderRetention = .none
    /// How many body bytes to keep for checks and captures (0: count only).
    public var bodyLimit = 0
    /// Headers of the final response as received, when `keepsHeaders`.
    public private(set) var headers: [(name: String, value: String)] = []
    /// The first `bodyLimit` bytes of the (de-chunked) body.
    public private(set) var body: [UInt8] = []

    /// How many body bytes to keep of a response whose status is 400 or more (0: none beyond
    /// `bodyLimit`): the plain run keeps the start of error bodies for ``ResponseSamples``.
    /// Decided once per response, when its head ends, so a 2xx response pays one comparison.
    public var errorBodyLimit = 0
    /// The limit that applies to the current response: `bodyLimit`, or `errorBodyLimit` for
    /// an error status.
    private var keepLimit = 0

    @inline(__always)
    private mutating func keepBody(_ start: UnsafeRawPointer, _ count: Int) {
        guard keepLimit > body.count, count > 0 else { return }
        body.append(contentsOf: UnsafeRawBufferPointer(start: start, count: min(count, keepLimit - body.count)))
    }

    /// Largest response head accepted; a server that sends more is not speaking HTTP.
    public static let maxHeadBytes = 1 << 20

    public init() {}

    /// Prepares for the next response on the same connection; `isHEAD` because a response
    /// to HEAD has framing headers but no body.
    public mutating func reset(isHEAD: Bool = false) {
        state = .statusLine
        status = 0
        keepAlive = true
        bytesReceived = 0
        bodyBytes = 0
        isHTTP10 = false
        contentLength = nil
        chunked = false
        connectionClose = false
        connectionKeepAlive = false
        headBytes = 0
        partialLine.removeAll(keepingCapacity: true)
        expectsNoBody = isHEAD
        if !headers.isEmpty { headers.removeAll(keepingCapacity: true) }
        if !body.isEmpty { body.removeAll(keepingCapacity: true) }
    }

    // MARK: HTTP/2 streams

    /// HTTP/2: the stream's response head, decoded by the frame layer; kept as an HTTP/1.1
    /// head would be (the same retention rules, the same error-body limit), so owners read a
    /// response alike whichever protocol carried it. `headBytes` is what the head cost on the
    /// wire (its frames).
    public mutating func h2Head(status: Int, headers: some Sequence<(String, String)>, headBytes: Int) {
        self.status = status
        bytesReceived &+= headBytes
        keepLimit = status >= 400 ? max(bodyLimit, errorBodyLimit) : bodyLimit
        switch keepsHeaders {
        case .none:
            break
        case .all:
            for (name, value) in headers where !name.hasPrefix(":") { self.headers.append((name, value)) }
        case .cookiesAndLocation:
            for (name, value) in headers where name == "set-cookie" || name == "location" || name == "content-encoding"
            {
                self.headers.append((name, value))
            }
        }
    }

    /// HTTP/2: body bytes of the stream (a DATA frame's payload); `frameBytes` is the frame's
    /// cost on the wire (header and padding included).
    public mutating func h2Body(_ bytes: UnsafeRawBufferPointer, frameBytes: Int) {
        bodyBytes &+= bytes.count
        bytesReceived &+= frameBytes
        if let base = bytes.baseAddress { keepBody(base, bytes.count) }
    }

    /// True while the body runs until the connection closes (no length, not chunked).
    public var readsUntilClose: Bool { state == .untilClose }

    /// True once any byte of the response arrived.
    public var hasStarted: Bool { bytesReceived > 0 }

    /// The connection closed: completes a read-until-close body.
    public mutating func connectionClosed() -> Bool {
        if state == .untilClose {
            state = .done
            keepAlive = false
            return true
        }
        return state == .done
    }

    /// Feeds received bytes.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Progress {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return .needMore }
        var i = 0
        while i < n {
            switch state {
            case .fixedBody(let remaining):
                let take = min(remaining, n - i)
                keepBody(base + i, take)
                i += take
                bodyBytes += take
                if take == remaining {
                    state = .done
                } else {
                    state = .fixedBody(remaining: remaining - take)
                }
            case .chunkData(let remaining):
                let take = min(remaining, n - i)
                keepBody(base + i, take)
                i += take
                bodyBytes += take
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            case .untilClose:
                keepBody(base + i, n - i)
                bodyBytes += n - i
                i = n
            case .done:
                bytesReceived += i
                return .complete(consumed: i)
            case .statusLine, .headers, .chunkSize, .chunkDataEnd, .trailers:
                let start = base + i
                guard let nl = memchr(start, 0x0A, n - i) else {
                    if case .statusLine = state, partialLine.count + (n - i) > Self.maxHeadBytes {
                        return .malformed("response head larger than \(Self.maxHeadBytes) bytes")
                    }
                    if partialLine.count < Self.maxHeadBytes {
                        partialLine.append(contentsOf: UnsafeRawBufferPointer(start: start, count: n - i))
                    }
                    headBytes += n - i
                    if headBytes > Self.maxHeadBytes {
                        return .malformed("response head larger than \(Self.maxHeadBytes) bytes")
                    }
                    i = n
                    continue
                }
                let lineEnd = UnsafeRawPointer(nl) - UnsafeRawPointer(base)
                let lineLength = lineEnd - i
                headBytes += lineLength + 1
                let error: String?
                if partialLine.isEmpty {
                    error = processLine(UnsafeRawBufferPointer(start: start, count: lineLength))
                } else {
                    partialLine.append(contentsOf: UnsafeRawBufferPointer(start: start, count: lineLength))
                    let line = partialLine
                    partialLine.removeAll(keepingCapacity: true)
                    error = line.withUnsafeBytes { processLine($0) }
                }
                if let error { return .malformed(error) }
                if headBytes > Self.maxHeadBytes {
                    return .malformed("response head larger than \(Self.maxHeadBytes) bytes")
                }
                i = lineEnd + 1
            }
        }
        bytesReceived += n
        if state == .done {
            return .complete(consumed: n)
        }
        return .needMore
    }

    // MARK: - Lines

    /// Handles one line without its `\n` (a trailing `\r` is ignored). Returns an error text.
    private mutating func processLine(_ raw: UnsafeRawBufferPointer) -> String? {
        var line = raw
        if let last = line.last, last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        switch state {
        case .statusLine:
            return parseStatusLine(line)
        case .headers:
            if line.isEmpty { return headEnded() }
            parseHeader(line)
            return nil
        case .chunkSize:
            guard let size = Self.parseHex(line) else {
                return "invalid chunk size line"
            }
            if size == 0 {
                state = .trailers
            } else {
                state = .chunkData(remaining: size)
            }
            return nil
        case .chunkDataEnd:
            guard line.isEmpty else { return "missing CRLF after chunk data" }
            state = .chunkSize
            return nil
        case .trailers:
            if line.isEmpty { state = .done }
            return nil
        default:
            return nil
        }
    }

    private mutating func parseStatusLine(_ line: UnsafeRawBufferPointer) -> String? {
        // "HTTP/1.1 200 OK": 12 bytes at least up to the status code.
        guard line.count >= 12,
            line[0] == 0x48, line[1] == 0x54, line[2] == 0x54, line[3] == 0x50,  // HTTP
            line[4] == 0x2F, line[5] == 0x31, line[6] == 0x2E,  // /1.
            line[8] == 0x20
        else {
            return "invalid status line"
        }
        let d0 = Int(line[9]) - 48
        let d1 = Int(line[10]) - 48
        let d2 = Int(line[11]) - 48
        guard (1...5).contains(d0), (0...9).contains(d1), (0...9).contains(d2),
            line.count == 12 || line[12] == 0x20
        else {
            return "invalid status code"
        }
        isHTTP10 = line[7] == 0x30
        status = d0 * 100 + d1 * 10 + d2
        state = .headers
        return nil
    }

    private mutating func parseHeader(_ line: UnsafeRawBufferPointer) {
        // Keeping no headers, only Content-Length, Connection and Transfer-Encoding matter:
        // any other name is skipped on its first letter, before looking for its colon.
        if keepsHeaders == .none, let first = line.first {
            let lower = first | 0x20
            guard lower == UInt8(ascii: "c") || lower == UInt8(ascii: "t") else { return }
        }
        guard let base = line.baseAddress, let found = memchr(base, 0x3A, line.count) else { return }
        let colon = UnsafeRawPointer(found) - base
        let name = UnsafeRawBufferPointer(rebasing: line[0..<colon])
        var vs = colon + 1
        var ve = line.count
        while vs < ve && (line[vs] == 0x20 || line[vs] == 0x09) { vs += 1 }
        while ve > vs && (line[ve - 1] == 0x20 || line[ve - 1] == 0x09) { ve -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: line[vs..<ve])
        switch keepsHeaders {
        case .none:
            break
        case .all:
            headers.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        case .cookiesAndLocation:
            if Self.equalsLowercased(name, "set-cookie") || Self.equalsLowercased(name, "location")
                || Self.equalsLowercased(name, "content-encoding")
            {
                headers.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
            }
        }
        switch name.count {
        case 14 where Self.equalsLowercased(name, "content-length"):
            var n = 0
            var valid = !value.isEmpty
            for b in value {
                guard b >= 0x30 && b <= 0x39 else {
                    valid = false
                    break
                }
                n = n &* 10 &+ Int(b - 0x30)
                if n > Int.max / 16 { valid = false }
            }
            contentLength = valid ? n : -1
        case 17 where Self.equalsLowercased(name, "transfer-encoding"):
            chunked = Self.containsLowercased(value, "chunked")
        case 10 where Self.equalsLowercased(name, "connection"):
            if Self.containsLowercased(value, "close") { connectionClose = true }
            if Self.containsLowercased(value, "keep-alive") { connectionKeepAlive = true }
        default:
            break
        }
    }

    private mutating func headEnded() -> String? {
        if status >= 100 && status < 200 && status != 101 {
            // Interim response (100 Continue, 103 Early Hints): the real one follows.
            let keepHead = expectsNoBody
            let received = bytesReceived
            reset(isHEAD: keepHead)
            bytesReceived = received
            return nil
        }
        keepAlive = isHTTP10 ? (connectionKeepAlive && !connectionClose) : !connectionClose
        keepLimit = status >= 400 ? max(bodyLimit, errorBodyLimit) : bodyLimit
        if expectsNoBody || status == 204 || status == 304 || status == 101 {
            state = .done
        } else if chunked {
            state = .chunkSize
        } else if let contentLength {
            guard contentLength >= 0 else { return "invalid Content-Length" }
            state = contentLength == 0 ? .done : .fixedBody(remaining: contentLength)
        } else {
            keepAlive = false
            state = .untilClose
        }
        return nil
    }

    // MARK: - Byte helpers

    static func parseHex(_ line: UnsafeRawBufferPointer) -> Int? {
        var n = 0
        var digits = 0
        for b in line {
            let v: Int
            switch b {
            case 0x30...0x39: v = Int(b) - 0x30
            case 0x41...0x46: v = Int(b) - 0x41 + 10
            case 0x61...0x66: v = Int(b) - 0x61 + 10
            case 0x3B, 0x20, 0x09:  // chunk extension or padding: the size has ended
                return digits > 0 ? n : nil
            default: return nil
            }
            digits += 1
            if digits > 15 { return nil }
            n = n * 16 + v
        }
        return digits > 0 ? n : nil
    }

    static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        let p = lower.utf8Start
        for i in 0..<bytes.count where bytes[i] | 0x20 != p[i] {
            // `| 0x20` lowers ASCII letters; '-' (0x2D) is unchanged by it.
            return false
        }
        return true
    }

    static func containsLowercased(_ bytes: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        let m = lower.utf8CodeUnitCount
        guard bytes.count >= m else { return false }
        let p = lower.utf8Start
        outer: for start in 0...(bytes.count - m) {
            for j in 0..<m where bytes[start + j] | 0x20 != p[j] {
                continue outer
            }
            return true
        }
        return false
    }
}
