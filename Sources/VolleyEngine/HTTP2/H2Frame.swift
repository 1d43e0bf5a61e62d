import NIOCore

/// An HTTP/2 error code (RFC 9113 §7): a struct over the raw value, because a peer may send
/// codes this version does not know and they must still be reported, not dropped.
public struct H2ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as on the wire.
    public let rawValue: UInt32
    /// Any code, known or not.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    // The codes RFC 9113 §7 defines.
    public static let noError = H2ErrorCode(rawValue: 0x0)
    public static let protocolError = H2ErrorCode(rawValue: 0x1)
    public static let internalError = H2ErrorCode(rawValue: 0x2)
    public static let flowControlError = H2ErrorCode(rawValue: 0x3)
    public static let settingsTimeout = H2ErrorCode(rawValue: 0x4)
    public static let streamClosed = H2ErrorCode(rawValue: 0x5)
    public static let frameSizeError = H2ErrorCode(rawValue: 0x6)
    public static let refusedStream = H2ErrorCode(rawValue: 0x7)
    public static let cancel = H2ErrorCode(rawValue: 0x8)
    public static let compressionError = H2ErrorCode(rawValue: 0x9)
    public static let connectError = H2ErrorCode(rawValue: 0xa)
    public static let enhanceYourCalm = H2ErrorCode(rawValue: 0xb)
    public static let inadequateSecurity = H2ErrorCode(rawValue: 0xc)
    public static let http11Required = H2ErrorCode(rawValue: 0xd)

    private static let names = [
        "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
        "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
        "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
    ]

    /// The RFC's name (`REFUSED_STREAM`), or the number for a code it does not define.
    public var description: String {
        rawValue < Self.names.count ? Self.names[Int(rawValue)] : "0x\(String(rawValue, radix: 16))"
    }
}

/// A connection error (RFC 9113 §5.4.1): the connection cannot continue; the state machine
/// sends GOAWAY with `code` and the owner closes. `message` says what the peer did.
public struct H2ConnectionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The code sent in our GOAWAY.
    public var code: H2ErrorCode
    /// What the peer did, for the run's error message (and our GOAWAY's debug data).
    public var message: String
    /// An error with `code`, saying what happened in `message`.
    public init(_ code: H2ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
    /// `HTTP/2 PROTOCOL_ERROR: what happened`.
    public var description: String { "HTTP/2 \(code): \(message)" }
}

/// The wire constants of RFC 9113 that the codec and the state machine share.
public enum H2 {
    /// The client connection preface (§3.4), sent before our SETTINGS.
    public static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// Every frame starts with a 9-byte header (§4.1).
    public static let frameHeaderLength = 9
    /// The initial flow-control window of both directions (§6.9.2).
    public static let defaultWindow = 65_535
    /// The largest window (§6.9.1).
    public static let maxWindow = 0x7FFF_FFFF
    /// The default and minimum SETTINGS_MAX_FRAME_SIZE (§6.5.2).
    public static let defaultMaxFrameSize = 16_384
    /// The largest SETTINGS_MAX_FRAME_SIZE a peer may set (§6.5.2).
    public static let maxMaxFrameSize = 16_777_215
    /// The largest stream identifier: a connection that reached it is used up (§5.1.1).
    public static let maxStreamID: UInt32 = 0x7FFF_FFFF

    /// Frame types (§6); others are ignored (§4.1, §5.5).
    public enum FrameType {
        public static let data: UInt8 = 0x0
        public static let headers: UInt8 = 0x1
        public static let priority: UInt8 = 0x2
        public static let rstStream: UInt8 = 0x3
        public static let settings: UInt8 = 0x4
        public static let pushPromise: UInt8 = 0x5
        public static let ping: UInt8 = 0x6
        public static let goAway: UInt8 = 0x7
        public static let windowUpdate: UInt8 = 0x8
        public static let continuation: UInt8 = 0x9
    }

    /// Frame flags (§6); the same bit means different things per type.
    public enum Flags {
        public static let endStream: UInt8 = 0x1
        public static let ack: UInt8 = 0x1
        public static let endHeaders: UInt8 = 0x4
        public static let padded: UInt8 = 0x8
        public static let priority: UInt8 = 0x20
    }

    /// SETTINGS identifiers (§6.5.2).
    public enum Setting {
        public static let headerTableSize: UInt16 = 0x1
        public static let enablePush: UInt16 = 0x2
        public static let maxConcurrentStreams: UInt16 = 0x3
        public static let initialWindowSize: UInt16 = 0x4
        public static let maxFrameSize: UInt16 = 0x5
        public static let maxHeaderListSize: UInt16 = 0x6
    }
}

/// One decoded frame; padding and the priority fields are already removed. `Payload` is what
/// holds its bytes (`data`, header blocks, GOAWAY debug data): a pointer into the read buffer
/// while the connection handles it (``H2RawFrame``), or a copy (``H2Frame``).
public enum H2FrameOf<Payload> {
    /// `flowLength` is the frame's whole payload length, padding included: what flow control
    /// counts (§6.9.1), which may be more than `payload`'s bytes.
    case data(stream: UInt32, payload: Payload, endStream: Bool, flowLength: Int)
    case headers(stream: UInt32, block: Payload, endStream: Bool, endHeaders: Bool)
    case priority(stream: UInt32)
    case rstStream(stream: UInt32, code: H2ErrorCode)
    case settings(ack: Bool, [H2Setting])
    case pushPromise(stream: UInt32, promised: UInt32)
    case ping(ack: Bool, opaque: UInt64)
    case goAway(lastStreamID: UInt32, code: H2ErrorCode, debug: Payload)
    case windowUpdate(stream: UInt32, increment: UInt32)
    case continuation(stream: UInt32, block: Payload, endHeaders: Bool)
    /// A frame type this codec does not know: ignored by the connection (§5.5).
    case unknown(type: UInt8, stream: UInt32)

    /// The same frame with its payload made by `transform`.
    func map<Other>(_ transform: (Payload) -> Other) -> H2FrameOf<Other> {
        switch self {
        case .data(let stream, let payload, let endStream, let flowLength):
            .data(stream: stream, payload: transform(payload), endStream: endStream, flowLength: flowLength)
        case .headers(let stream, let block, let endStream, let endHeaders):
            .headers(stream: stream, block: transform(block), endStream: endStream, endHeaders: endHeaders)
        case .priority(let stream): .priority(stream: stream)
        case .rstStream(let stream, let code): .rstStream(stream: stream, code: code)
        case .settings(let ack, let settings): .settings(ack: ack, settings)
        case .pushPromise(let stream, let promised): .pushPromise(stream: stream, promised: promised)
        case .ping(let ack, let opaque): .ping(ack: ack, opaque: opaque)
        case .goAway(let last, let code, let debug): .goAway(lastStreamID: last, code: code, debug: transform(debug))
        case .windowUpdate(let stream, let increment): .windowUpdate(stream: stream, increment: increment)
        case .continuation(let stream, let block, let endHeaders):
            .continuation(stream: stream, block: transform(block), endHeaders: endHeaders)
        case .unknown(let type, let stream): .unknown(type: type, stream: stream)
        }
    }
}

extension H2FrameOf: Equatable where Payload: Equatable {}
extension H2FrameOf: Sendable where Payload: Sendable {}

/// A frame as ``H2FrameDecoder/nextFrame()`` returns it to tests and tools: payloads copied.
public typealias H2Frame = H2FrameOf<ByteBuffer>

/// A frame as it lies in the bytes read: payloads point into the read buffer and are valid
/// only while the frame is handled (``H2FrameDecoder/frames(in:_:)``): no slice, no
/// reference count per frame.
typealias H2RawFrame = H2FrameOf<UnsafeRawBufferPointer>

/// One SETTINGS parameter (§6.5.1).
public struct H2Setting: Equatable, Sendable {
    /// The identifier (``H2/Setting``); unknown ones are ignored.
    public var id: UInt16
    public var value: UInt32
    /// The parameter `id` with `value`.
    public init(_ id: UInt16, _ value: UInt32) {
        self.id = id
        self.value = value
    }
}
