import NIOCore
import NIOHPACK

/// What we announce in our SETTINGS (RFC 9113 §6.5.2) and the receive windows we keep.
///
/// Windows default to 2^30 − 1 for each stream and for the connection, h2load's defaults
/// (`-w 30 -W 30`): a load generator must never be why the server waits, and the two tools
/// then make nginx do the same work. A large window costs us nothing: bodies are counted and
/// dropped, never buffered, so the window bounds no memory of ours. WINDOW_UPDATE goes out
/// when half a window is used (a 1 GB download costs a handful of frames).
public struct H2LocalSettings: Sendable, Equatable {
    /// SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window.
    public var initialWindowSize: Int
    /// The connection's receive window, raised from 65,535 by a WINDOW_UPDATE after the preface.
    public var connectionWindow: Int
    /// SETTINGS_MAX_FRAME_SIZE: the longest frame payload we accept (16,384, the minimum).
    public var maxFrameSize: Int
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table our decoder keeps for the server.
    public var headerTableSize: Int

    /// Our defaults, or smaller windows (tests); values outside the RFC's ranges are a bug.
    public init(
        initialWindowSize: Int = (1 << 30) - 1,
        connectionWindow: Int = (1 << 30) - 1,
        maxFrameSize: Int = H2.defaultMaxFrameSize,
        headerTableSize: Int = 4096
    ) {
        precondition((1...H2.maxWindow).contains(initialWindowSize), "Invalid initial window \(initialWindowSize)")
        precondition((H2.defaultWindow...H2.maxWindow).contains(connectionWindow), "Invalid window \(connectionWindow)")
        precondition((H2.defaultMaxFrameSize...H2.maxMaxFrameSize).contains(maxFrameSize), "Invalid frame size")
        self.initialWindowSize = initialWindowSize
        self.connectionWindow = connectionWindow
        self.maxFrameSize = maxFrameSize
        self.headerTableSize = headerTableSize
    }

    /// The SETTINGS frame's parameters: push off (we would only refuse the streams), and the
    /// values that differ from the protocol's defaults.
    var wire: [H2Setting] {
        var s = [H2Setting(H2.Setting.enablePush, 0)]
        if initialWindowSize != H2.defaultWindow {
            s.append(H2Setting(H2.Setting.initialWindowSize, UInt32(initialWindowSize)))
        }
        if maxFrameSize != H2.defaultMaxFrameSize { s.append(H2Setting(H2.Setting.maxFrameSize, UInt32(maxFrameSize))) }
        if headerTableSize != 4096 { s.append(H2Setting(H2.Setting.headerTableSize, UInt32(headerTableSize))) }
        return s
    }
}

/// A response's head as the owner needs it: the status and the few headers Volley acts on,
/// taken once from the decoded block, plus the other fields when the owner keeps them
/// (``H2Connection/keepsAllHeaders``: checks and captures).
public struct H2ResponseHead: Sendable {
    /// `:status`, three digits.
    public var status: Int
    /// `content-length`, when present and a number.
    public var contentLength: Int?
    /// `content-encoding` as sent (lower-case decoding is the content decoder's business).
    public var contentEncoding: String?
    /// `location`, for redirects.
    public var location: String?
    /// Every regular field in order (no pseudo-headers), when the connection keeps them.
    public var headers: [(name: String, value: String)]
    /// The header block's size on the wire (its HEADERS and CONTINUATION payloads).
    public var blockBytes: Int

    /// The head of a decoded block; nil when `:status` is missing or not 3 digits (a
    /// malformed response, RFC 9113 §8.3.2).
    init?(_ head: H2HeaderDecoder.Head, blockBytes: Int) {
        guard let status = head.status else { return nil }
        self.status = status
        contentLength = head.contentLength
        contentEncoding = head.contentEncoding
        location = head.location
        headers = head.fields
        self.blockBytes = blockBytes
    }
}

/// Who hears what a connection's bytes say while ``H2Connection/receive(_:into:sink:)`` runs.
/// A response's head and body go straight to their stream's reader (no event value holding
/// a copy of the head or a slice of the read buffer); everything else comes as an event.
protocol H2ResponseSink {
    /// A stream's final response head (1xx heads are skipped).
    mutating func responseHead(stream: UInt32, _ head: H2ResponseHead)
    /// Body bytes of a stream, valid only during the call; `frameBytes` is the DATA frame's
    /// size on the wire (its header and any padding included).
    mutating func responseData(stream: UInt32, _ bytes: UnsafeRawBufferPointer, frameBytes: Int)
    /// Anything else, in the order it happened.
    mutating func event(_ event: H2Event)
}

/// Collects everything as events (``H2Connection/receive(_:into:events:)``).
struct H2EventCollector: H2ResponseSink {
    var events: [H2Event]

    mutating func responseHead(stream: UInt32, _ head: H2ResponseHead) {
        events.append(.responseHead(stream: stream, head: head))
    }

    mutating func responseData(stream: UInt32, _ bytes: UnsafeRawBufferPointer, frameBytes: Int) {
        events.append(.data(stream: stream, bytes: ByteBuffer(bytes: bytes)))
    }

    mutating func event(_ event: H2Event) {
        events.append(event)
    }
}

/// What the state machine tells its owner, in the order it happened.
public enum H2Event: Sendable {
    /// A stream's final response head (1xx heads are skipped).
    case responseHead(stream: UInt32, head: H2ResponseHead)
    /// Body bytes of a stream (a copy).
    case data(stream: UInt32, bytes: ByteBuffer)
    /// The stream's response is complete (END_STREAM, after the head, body and any trailers).
    case responseComplete(stream: UInt32)
    /// The server reset the stream (RST_STREAM). REFUSED_STREAM means it was not processed.
    case streamReset(stream: UInt32, code: H2ErrorCode)
    /// We reset the stream: its response broke the protocol (`message` says how).
    case streamError(stream: UInt32, code: H2ErrorCode, message: String)
    /// The server will process no stream above `lastStreamID`. `refused` are our streams above
    /// it, now closed: the server did not process them, so they are safe to send again
    /// elsewhere (RFC 9113 §8.7). Streams at or below it go on until they complete.
    case goAway(lastStreamID: UInt32, code: H2ErrorCode, refused: [UInt32], debug: String)
    /// The connection broke the protocol: GOAWAY was written; every open stream is lost
    /// (they are listed in `open`), and the owner closes after writing.
    case connectionError(H2ConnectionError, open: [UInt32])
}
