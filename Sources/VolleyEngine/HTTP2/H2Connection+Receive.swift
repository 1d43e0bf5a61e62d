import NIOCore
import NIOHPACK

extension H2Connection {
    /// Takes the bytes just read: every whole frame in them is handled, replies (SETTINGS
    /// ack, PING ack, WINDOW_UPDATE, request body DATA that now fits, RST_STREAM, GOAWAY) are
    /// appended to `out`, and what the owner must know is appended to `events`. After a
    /// connection error, nothing more is read.
    public mutating func receive(_ bytes: ByteBuffer, into out: inout ByteBuffer, events: inout [H2Event]) {
        var collector = H2EventCollector(events: events)
        events = []
        receive(bytes, into: &out, sink: &collector)
        events = collector.events
    }

    /// What ``receive(_:into:events:)`` does, telling `sink` as it goes: response heads and
    /// body bytes straight from the read buffer, the rest as events.
    mutating func receive<Sink: H2ResponseSink>(_ bytes: ByteBuffer, into out: inout ByteBuffer, sink: inout Sink) {
        guard failure == nil else { return }
        // Out of `self` while it hands frames to `handle` (which changes `self`).
        var frames = self.frames
        self.frames = H2FrameDecoder(maxFrameSize: frames.maxFrameSize)
        defer { self.frames = frames }
        do {
            try frames.frames(in: bytes) { (frame: H2RawFrame) throws(H2ConnectionError) in
                try handle(frame, into: &out, sink: &sink)
            }
        } catch {
            fail(error, into: &out, sink: &sink)
        }
    }

    mutating func fail<Sink: H2ResponseSink>(_ error: H2ConnectionError, into out: inout ByteBuffer, sink: inout Sink) {
        failure = error
        H2FrameEncoder.writeGoAway(code: error.code, debug: error.message, into: &out)
        sink.event(.connectionError(error, open: streams.map(\.id)))
        streams.removeAll()
    }

    mutating func handle<Sink: H2ResponseSink>(
        _ frame: H2RawFrame,
        into out: inout ByteBuffer,
        sink: inout Sink
    ) throws(H2ConnectionError) {
        if let continuing {
            guard case .continuation(let stream, _, _) = frame, stream == continuing.stream else {
                throw H2ConnectionError(
                    .protocolError,
                    "a frame other than CONTINUATION for stream \(continuing.stream) inside its header block"
                )
            }
        }
        switch frame {
        case .data(let stream, let payload, let endStream, let flowLength):
            try receiveData(stream, payload, endStream: endStream, flowLength: flowLength, into: &out, sink: &sink)
        case .headers(let stream, let block, let endStream, let endHeaders):
            if endHeaders {
                try receiveHeaderBlock(stream, block, endStream: endStream, into: &out, sink: &sink)
            } else {
                continuing = (stream, ByteBuffer(bytes: block), endStream)
            }
        case .continuation(let stream, let block, let endHeaders):
            guard var c = continuing else {
                throw H2ConnectionError(.protocolError, "a CONTINUATION frame for stream \(stream) after no HEADERS")
            }
            continuing = nil
            c.block.writeBytes(block)
            if endHeaders {
                try c.block.withUnsafeReadableBytes { (block: UnsafeRawBufferPointer) throws(H2ConnectionError) in
                    try receiveHeaderBlock(stream, block, endStream: c.endStream, into: &out, sink: &sink)
                }
            } else {
                continuing = c
            }
        case .rstStream(let stream, let code):
            if let i = index(of: stream) {
                streams.remove(at: i)
                sink.event(.streamReset(stream: stream, code: code))
            } else if isIdle(stream) {
                throw H2ConnectionError(.protocolError, "RST_STREAM on stream \(stream), which was never opened")
            }
        case .settings(let ack, let settings):
            if !ack {
                // The first SETTINGS replaces what was assumed before it, even when it names
                // no stream limit.
                if !receivedPeerSettings { peerMaxConcurrentStreams = Self.assumedMaxConcurrentStreams }
                try apply(settings)
                receivedPeerSettings = true
                H2FrameEncoder.writeSettingsAck(into: &out)
                sendPendingBodies(into: &out)
            }
        case .ping(let ack, let opaque):
            if !ack { H2FrameEncoder.writePing(opaque: opaque, ack: true, into: &out) }
        case .goAway(let last, let code, let debug):
            receiveGoAway(last, code, debug: debug, sink: &sink)
        case .windowUpdate(let stream, let increment):
            try receiveWindowUpdate(stream, increment, into: &out, sink: &sink)
        case .pushPromise(let stream, _):
            throw H2ConnectionError(.protocolError, "PUSH_PROMISE on stream \(stream), though push is disabled")
        case .priority, .unknown:
            break
        }
    }

    // MARK: - Streams' frames

    mutating func receiveData<Sink: H2ResponseSink>(
        _ stream: UInt32,
        _ payload: UnsafeRawBufferPointer,
        endStream: Bool,
        flowLength: Int,
        into out: inout ByteBuffer,
        sink: inout Sink
    ) throws(H2ConnectionError) {
        connectionReceiveWindow -= flowLength
        if connectionReceiveWindow < 0 {
            throw H2ConnectionError(.flowControlError, "DATA beyond the connection's receive window")
        }
        // Half the connection window used: give it back, whatever the stream's state.
        if local.connectionWindow - connectionReceiveWindow >= local.connectionWindow / 2 {
            H2FrameEncoder.writeWindowUpdate(
                stream: 0,
                increment: UInt32(local.connectionWindow - connectionReceiveWindow),
                into: &out
            )
            connectionReceiveWindow = local.connectionWindow
        }
        guard let i = index(of: stream) else { return try notOpen(stream, "DATA") }
        guard streams[i].gotHead else {
            return streamError(at: i, .protocolError, "DATA before the response's HEADERS", into: &out, sink: &sink)
        }
        streams[i].receiveWindow -= flowLength
        if streams[i].receiveWindow < 0 {
            throw H2ConnectionError(.flowControlError, "DATA beyond stream \(stream)'s receive window")
        }
        if payload.count > 0 {
            sink.responseData(stream: stream, payload, frameBytes: H2.frameHeaderLength + flowLength)
        }
        if endStream {
            complete(at: i, into: &out, sink: &sink)
        } else if local.initialWindowSize - streams[i].receiveWindow >= local.initialWindowSize / 2 {
            let increment = local.initialWindowSize - streams[i].receiveWindow
            H2FrameEncoder.writeWindowUpdate(stream: stream, increment: UInt32(increment), into: &out)
            streams[i].receiveWindow = local.initialWindowSize
        }
    }

    /// A complete header block: decoded in every case (the HPACK table must stay in step with
    /// the server's), then a response head, an informational head, or trailers.
    mutating func receiveHeaderBlock<Sink: H2ResponseSink>(
        _ stream: UInt32,
        _ block: UnsafeRawBufferPointer,
        endStream: Bool,
        into out: inout ByteBuffer,
        sink: inout Sink
    ) throws(H2ConnectionError) {
        let decoded: H2HeaderDecoder.Head
        do {
            decoded = try hpack.decode(block, keepAll: keepsAllHeaders)
        } catch {
            throw H2ConnectionError(.compressionError, "the header block of stream \(stream) did not decode: \(error)")
        }
        guard let i = index(of: stream) else { return try notOpen(stream, "HEADERS") }
        if streams[i].gotHead {
            guard endStream else {
                return streamError(at: i, .protocolError, "trailers without END_STREAM", into: &out, sink: &sink)
            }
            return complete(at: i, into: &out, sink: &sink)
        }
        guard let head = H2ResponseHead(decoded, blockBytes: block.count) else {
            return streamError(at: i, .protocolError, "a response without a valid :status", into: &out, sink: &sink)
        }
        if head.status < 200 {
            // 1xx: informational; the final head follows (§8.1).
            if endStream {
                streamError(
                    at: i,
                    .protocolError,
                    "an informational response ending the stream",
                    into: &out,
                    sink: &sink
                )
            }
            return
        }
        streams[i].gotHead = true
        sink.responseHead(stream: stream, head)
        if endStream { complete(at: i, into: &out, sink: &sink) }
    }

    /// A frame for a stream that is not open: ignored when we reset it or it ended; a
    /// connection error when it was never opened (§5.1, idle) or ended normally before.
    func notOpen(_ stream: UInt32, _ type: String) throws(H2ConnectionError) {
        if isIdle(stream) {
            throw H2ConnectionError(.protocolError, "\(type) on stream \(stream), which was never opened")
        }
        if !resetByUs.contains(stream) {
            throw H2ConnectionError(.streamClosed, "\(type) on stream \(stream) after it ended")
        }
    }

    mutating func complete<Sink: H2ResponseSink>(at i: Int, into out: inout ByteBuffer, sink: inout Sink) {
        let stream = streams[i]
        // The server answered before our body was all sent: stop sending it (§8.1).
        if stream.pendingBody != nil { H2FrameEncoder.writeRSTStream(stream: stream.id, code: .noError, into: &out) }
        streams.remove(at: i)
        sink.event(.responseComplete(stream: stream.id))
    }

    /// A stream error (§5.4.2): RST_STREAM, the stream forgotten, the owner told.
    mutating func streamError<Sink: H2ResponseSink>(
        at i: Int,
        _ code: H2ErrorCode,
        _ message: String,
        into out: inout ByteBuffer,
        sink: inout Sink
    ) {
        let id = streams[i].id
        H2FrameEncoder.writeRSTStream(stream: id, code: code, into: &out)
        forget(at: i)
        sink.event(.streamError(stream: id, code: code, message: message))
    }

    // MARK: - Connection frames

    mutating func apply(_ settings: [H2Setting]) throws(H2ConnectionError) {
        for s in settings {
            switch s.id {
            case H2.Setting.headerTableSize:
                if Int(s.value) < encoderTableSize {
                    encoderTableSize = 0
                    tableSizeUpdatePending = true
                }
            case H2.Setting.enablePush:
                guard s.value == 0 else {
                    throw H2ConnectionError(.protocolError, "a server's SETTINGS_ENABLE_PUSH of \(s.value)")
                }
            case H2.Setting.maxConcurrentStreams:
                peerMaxConcurrentStreams = Int(min(s.value, UInt32(Int32.max)))
            case H2.Setting.initialWindowSize:
                guard s.value <= UInt32(H2.maxWindow) else {
                    throw H2ConnectionError(.flowControlError, "SETTINGS_INITIAL_WINDOW_SIZE of \(s.value)")
                }
                let delta = Int(s.value) - peerInitialWindow
                peerInitialWindow = Int(s.value)
                for i in streams.indices {
                    streams[i].sendWindow += delta
                    if streams[i].sendWindow > H2.maxWindow {
                        throw H2ConnectionError(.flowControlError, "stream \(streams[i].id)'s window above 2^31-1")
                    }
                }
            case H2.Setting.maxFrameSize:
                guard (H2.defaultMaxFrameSize...H2.maxMaxFrameSize).contains(Int(s.value)) else {
                    throw H2ConnectionError(.protocolError, "SETTINGS_MAX_FRAME_SIZE of \(s.value)")
                }
                peerMaxFrameSize = Int(s.value)
            default:
                break  // unknown settings are ignored (§6.5.2)
            }
        }
    }

    mutating func receiveGoAway<Sink: H2ResponseSink>(
        _ last: UInt32,
        _ code: H2ErrorCode,
        debug: UnsafeRawBufferPointer,
        sink: inout Sink
    ) {
        goAwayLastStreamID = min(goAwayLastStreamID ?? .max, last)
        var refused: [UInt32] = []
        var i = 0
        while i < streams.count {
            if streams[i].id > last {
                refused.append(streams[i].id)
                forget(at: i)
            } else {
                i += 1
            }
        }
        sink.event(
            .goAway(lastStreamID: last, code: code, refused: refused, debug: String(decoding: debug, as: UTF8.self))
        )
    }

    mutating func receiveWindowUpdate<Sink: H2ResponseSink>(
        _ stream: UInt32,
        _ increment: UInt32,
        into out: inout ByteBuffer,
        sink: inout Sink
    ) throws(H2ConnectionError) {
        if stream == 0 {
            guard increment > 0 else { throw H2ConnectionError(.protocolError, "a connection WINDOW_UPDATE of 0") }
            connectionSendWindow += Int(increment)
            guard connectionSendWindow <= H2.maxWindow else {
                throw H2ConnectionError(.flowControlError, "the connection's send window above 2^31-1")
            }
            return sendPendingBodies(into: &out)
        }
        guard let i = index(of: stream) else {
            if isIdle(stream) {
                throw H2ConnectionError(.protocolError, "WINDOW_UPDATE on stream \(stream), which was never opened")
            }
            return
        }
        guard increment > 0 else {
            return streamError(at: i, .protocolError, "a WINDOW_UPDATE of 0", into: &out, sink: &sink)
        }
        streams[i].sendWindow += Int(increment)
        guard streams[i].sendWindow <= H2.maxWindow else {
            return streamError(at: i, .flowControlError, "a send window above 2^31-1", into: &out, sink: &sink)
        }
        sendBody(at: i, into: &out)
    }
}
