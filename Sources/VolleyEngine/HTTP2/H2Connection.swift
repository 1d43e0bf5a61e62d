import NIOCore
import NIOHPACK

/// One HTTP/2 client connection's protocol, without I/O (RFC 9113): the owner feeds it the
/// bytes it reads and writes the bytes it appends to `out`; what happened comes back as
/// ``H2Event``s. Streams, flow control in both directions, SETTINGS, PING, GOAWAY and the
/// protocol's errors are handled here, so the channel handler only moves bytes and times.
///
/// Requests go out as a precomputed HPACK block (``H2RequestTemplate``); responses' header
/// blocks go through one NIOHPACK decoder per connection, since servers use its dynamic table
/// and Huffman coding. Lives on one event loop, like the connection that owns it.
public struct H2Connection {
    /// What we announced, and the receive windows kept.
    public let local: H2LocalSettings
    var frames: H2FrameDecoder
    var hpack: H2HeaderDecoder
    /// Keep every response field (checks, captures, cookies); false: only `:status` and the
    /// three headers Volley acts on become strings (``H2HeaderDecoder``).
    public var keepsAllHeaders = true
    /// Our open streams (a request sent, its response not yet complete). A short array: a
    /// connection carries at most a few hundred, and linear search beats hashing at `-m 10`.
    var streams: [H2Stream] = []
    /// The next stream id we use: odd, increasing (§5.1.1).
    var nextStreamID: UInt32 = 1

    // MARK: The peer's settings
    /// SETTINGS_MAX_CONCURRENT_STREAMS. Until the server's first SETTINGS arrives, the
    /// `streamsBeforeSettings` given at init (by default 100: the least the RFC recommends a
    /// server allow, §6.5.2, and what nghttp2 assumes); once it arrives, its value, or 100
    /// when it names none. A server with a lower limit may refuse the streams of a first
    /// burst above it (REFUSED_STREAM, safe to retry).
    public internal(set) var peerMaxConcurrentStreams: Int
    /// The server's first SETTINGS has arrived (its limits are known, not assumed).
    public internal(set) var receivedPeerSettings = false
    var peerInitialWindow = H2.defaultWindow
    /// SETTINGS_MAX_FRAME_SIZE: how we cut HEADERS and DATA.
    public internal(set) var peerMaxFrameSize = H2.defaultMaxFrameSize
    /// The HPACK table size our blocks were encoded against; once the server lowers it, our
    /// next block starts with a size update to 0 (we never use the table).
    var encoderTableSize = 4096
    var tableSizeUpdatePending = false

    // MARK: Flow control (§6.9)
    var connectionSendWindow = H2.defaultWindow
    var connectionReceiveWindow: Int

    /// A header block continued by CONTINUATION frames (§6.10): nothing else may come between.
    var continuing: (stream: UInt32, block: ByteBuffer, endStream: Bool)?
    /// Streams we reset (or that GOAWAY refused): frames still in flight for them are ignored
    /// (§5.1, closed). Bounded: ids far below the newest are pruned.
    var resetByUs: Set<UInt32> = []

    /// The server's GOAWAY, once received: no stream above its last-stream-id is processed.
    public internal(set) var goAwayLastStreamID: UInt32?
    /// The protocol error that ended the connection, once one did.
    public internal(set) var failure: H2ConnectionError?
    var closing = false

    /// The largest decoded response head accepted (NIOHPACK's default is 16 KB; servers with
    /// many cookies exceed it, and a head we refuse is a lost response, not a saved byte).
    static let maxResponseHeaderListSize = 256 * 1024

    /// What is assumed of SETTINGS_MAX_CONCURRENT_STREAMS when the server's SETTINGS leaves
    /// it out (or before they arrive, by default).
    public static let assumedMaxConcurrentStreams = 100

    /// A connection before its first byte; call ``start(into:)`` once the socket is up.
    /// `streamsBeforeSettings`: how many streams may open before the server's first SETTINGS
    /// says how many it allows (``H2Session`` passes 1, so a lower limit holds from the first
    /// request at the cost of one round trip for the streams after the first).
    public init(
        settings: H2LocalSettings = H2LocalSettings(),
        allocator: ByteBufferAllocator = ByteBufferAllocator(),
        streamsBeforeSettings: Int = H2Connection.assumedMaxConcurrentStreams
    ) {
        peerMaxConcurrentStreams = streamsBeforeSettings
        local = settings
        frames = H2FrameDecoder(maxFrameSize: settings.maxFrameSize)
        hpack = H2HeaderDecoder(maxTableSize: settings.headerTableSize)
        connectionReceiveWindow = settings.connectionWindow
    }

    /// Writes the client preface, our SETTINGS and the connection window's raise: the first
    /// bytes on the connection. Requests may follow at once (§3.4).
    public func start(into out: inout ByteBuffer) {
        H2FrameEncoder.writePreface(local, into: &out)
    }

    // MARK: - Opening streams

    /// Streams open now (requests whose response is not complete).
    public var openStreams: Int { streams.count }

    /// No new stream will ever open on this connection: the server sent GOAWAY, the stream ids
    /// ran out (§5.1.1), the connection failed or we are closing it. Close it once
    /// `openStreams` is 0 and open a new one.
    public var isUsedUp: Bool {
        goAwayLastStreamID != nil || nextStreamID > H2.maxStreamID || failure != nil || closing
    }

    /// A request may be sent now: not used up, and below the server's concurrent-stream limit.
    public var canOpenStream: Bool { !isUsedUp && streams.count < peerMaxConcurrentStreams }

    /// Sends `template` on a new stream with request id `requestID` and returns the stream's
    /// id. Its body goes as far as the send windows allow; the rest follows WINDOW_UPDATEs.
    /// Calling it when `canOpenStream` is false is the owner's bug.
    public mutating func sendRequest(
        _ template: H2RequestTemplate,
        requestID: UInt64 = 0,
        into out: inout ByteBuffer
    ) -> UInt32 {
        guard canOpenStream else { preconditionFailure("Invalid state: sendRequest when no stream may open") }
        let id = nextStreamID
        nextStreamID += 2
        template.write(
            stream: id,
            requestID: requestID,
            tableSizeUpdate: tableSizeUpdatePending,
            maxFrameSize: peerMaxFrameSize,
            into: &out
        )
        tableSizeUpdatePending = false
        streams.append(
            H2Stream(
                id: id,
                sendWindow: peerInitialWindow,
                receiveWindow: local.initialWindowSize,
                pendingBody: template.body
            )
        )
        if template.body != nil { sendBody(at: streams.count - 1, into: &out) }
        return id
    }

    /// Gives up on an open stream (a timeout): RST_STREAM with `code`; frames still coming
    /// for it are ignored. Returns false when the stream was not open (already complete).
    @discardableResult
    public mutating func cancelStream(_ id: UInt32, code: H2ErrorCode = .cancel, into out: inout ByteBuffer) -> Bool {
        guard let i = index(of: id) else { return false }
        H2FrameEncoder.writeRSTStream(stream: id, code: code, into: &out)
        forget(at: i)
        return true
    }

    /// Ends the connection politely: GOAWAY with NO_ERROR (no server stream was accepted).
    /// No request opens after it; the owner closes once its streams are done (or at once).
    public mutating func close(into out: inout ByteBuffer) {
        guard !closing, failure == nil else { return }
        closing = true
        H2FrameEncoder.writeGoAway(code: .noError, into: &out)
    }

    // MARK: - Streams

    @inline(__always)
    func index(of id: UInt32) -> Int? {
        streams.firstIndex { $0.id == id }
    }

    /// A stream id we never opened: even (the server's), or at or above our next one (§5.1).
    func isIdle(_ id: UInt32) -> Bool {
        id & 1 == 0 || id >= nextStreamID
    }

    /// Removes the stream at `i`, remembering that frames for it are to be ignored.
    mutating func forget(at i: Int) {
        let id = streams[i].id
        streams.remove(at: i)
        // Amortised: pruned at 2,048 entries down to the last 1,024 streams' ids (a timeout
        // storm once cost 28 µs per cancel when every insertion pruned).
        if resetByUs.count >= 2048 {
            let floor = nextStreamID > 2048 ? nextStreamID - 2048 : 0
            resetByUs = resetByUs.filter { $0 >= floor }
        }
        resetByUs.insert(id)
    }

    /// Writes as much of the stream's pending body as the windows and the frame size allow;
    /// the last DATA frame ends the stream.
    mutating func sendBody(at i: Int, into out: inout ByteBuffer) {
        while var body = streams[i].pendingBody {
            let n = min(body.readableBytes, connectionSendWindow, streams[i].sendWindow, peerMaxFrameSize)
            if n <= 0 && body.readableBytes > 0 { return }
            let chunk = body.readSlice(length: n)!
            let last = body.readableBytes == 0
            H2FrameEncoder.writeData(stream: streams[i].id, payload: chunk, endStream: last, into: &out)
            connectionSendWindow -= n
            streams[i].sendWindow -= n
            streams[i].pendingBody = last ? nil : body
        }
    }

    /// After a window grew: every stream with a body waiting sends what now fits.
    mutating func sendPendingBodies(into out: inout ByteBuffer) {
        for i in streams.indices where streams[i].pendingBody != nil {
            if connectionSendWindow <= 0 { return }
            sendBody(at: i, into: &out)
        }
    }
}

/// An open stream's state: its windows and what of its request body is still to go.
struct H2Stream {
    let id: UInt32
    /// What we may still send on it (the peer's window for it).
    var sendWindow: Int
    /// What the peer may still send on it before our next WINDOW_UPDATE.
    var receiveWindow: Int
    var pendingBody: ByteBuffer?
    /// The final response head was seen: a further HEADERS is the trailers.
    var gotHead = false
}
