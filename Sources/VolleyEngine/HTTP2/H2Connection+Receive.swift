import NIOCore
import NIOHPACK

extension H2Connection {
    /// Takes the bytes just read: every whole frame in them is handled, replies (SETTINGS
    /// ack, PING ack, WINDOW_UPDATE, request body DATA that now fits, RST_STREAM, GOAWAY) are
    /// appended to `out`, and what the owner must know is appended to `events`. After a
    /// connection error, nothing more is read.
    public mutating func receive(_ bytes: ByteBuffer, into out: inout ByteBuffer, events: inout [H2Event]) {
        guard failure == nil else { return }
        frames.append(bytes)
        do {
            while let frame = try frames.nextFrame() {
                try handle(frame, into: &out, events: &events)
            }
        } catch {
            fail(error, into: &out, events: &events)
        }
    }

    mutating func fail(_ error: H2ConnectionError, into out: inout ByteBuffer, events: inout [H2Event]) {
        failure = error
        H2FrameEncoder.writeGoAway(code: error.code, debug: error.message, into: &out)
        events.append(.connectionError(error, open: streams.map(\.id)))
        streams.removeAll()
    }

    mutating func handle(
        _ frame: H2Frame,
        into out: inout ByteBuffer,
        events: inout [H2Event]
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
            try receiveData(stream, payload, endStream: endStream, flowLength: flowLength, into: &out, events: &events)
        case .headers(let stream, let block, let endStream, let endHeaders):
            if endHeaders {
                try receiveHeaderBlock(stream, block, endStream: endStream, into: &out, events: &events)
            } else {
                var copy = ByteBuffer()
                var block = block
                copy.writeBuffer(&block)
                continuing = (stream, copy, endStream)
            }
        case .continuation(let stream, var block, let endHeaders):
            guard var c = continuing else {
                throw H2ConnectionError(.protocolError, "a CONTINUATION frame for stream \(stream) after no HEADERS")
            }
            continuing = nil
            c.block.writeBuffer(&block)
            if endHeaders {
                try receiveHeaderBlock(stream, c.block, endStream: c.endStream, into: &out, events: &events)
            } else {
                continuing = c
            }
        case .rstStream(let stream, let code):
            if let i = index(of: stream) {
                streams.remove(at: i)
                events.append(.streamReset(stream: stream, code: code))
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
            receiveGoAway(last, code, debug: debug, events: &events)
        case .windowUpdate(let stream, let increment):
            try receiveWindowUpdate(stream, increment, into: &out, events: &events)
        case .pushPromise(let stream, _):
            throw H2ConnectionError(.protocolError, "PUSH_PROMISE on stream \(stream), though push is disabled")
        case .priority, .unknown:
            break
        }
    }

    // MARK: - Streams' frames

    mutating func receiveData(
        _ stream: UInt32,
        _ payload: ByteBuffer,
        endStream: Bool,
        flowLength: Int,
        into out: inout ByteBuffer,
        events: inout [H2Event]
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
            return streamError(at: i, .protocolError, "DATA before the response's HEADERS", into: &out, events: &events)
        }
        streams[i].receiveWindow -= flowLength
        if streams[i].receiveWindow < 0 {
            throw H2ConnectionError(.flowControlError, "DATA beyond stream \(stream)'s receive window")
        }
        if payload.readableBytes > 0 { events.append(.data(stream: stream, bytes: payload)) }
        if endStream {
            complete(at: i, into: &out, events: &events)
        } else if local.initialWindowSize - streams[i].receiveWindow >= local.initialWindowSize / 2 {
            let increment = local.initialWindowSize - streams[i].receiveWindow
            H2FrameEncoder.writeWindowUpdate(stream: stream, increment: UInt32(increment), into: &out)
            streams[i].receiveWindow = local.initialWindowSize
        }
    }

    /// A complete header block: decoded in every case (the HPACK table must stay in step with
    /// the server's), then a response head, an informational head, or trailers.
    mutating func receiveHeaderBlock(
        _ stream: UInt32,
        _ block: ByteBuffer,
        endStream: Bool,
        into out: inout ByteBuffer,
        events: inout [H2Event]
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
                return streamError(at: i, .protocolError, "trailers without END_STREAM", into: &out, events: &events)
            }
            return complete(at: i, into: &out, events: &events)
        }
        guard let head = H2ResponseHead(decoded, blockBytes: block.readableBytes) else {
            return streamError(at: i, .protocolError, "a response without a valid :status", into: &out, events: &events)
        }
        if head.status < 200 {
            // 1xx: informational; the final head follows (§8.1).
            if endStream {
                streamError(
                    at: i,
                    .protocolError,
                    "an informational response ending the stream",
                    into: &out,
                    events: &events
                )
            }
            return
        }
        streams[i].gotHead = true
        events.append(.responseHead(stream: stream, head: head))
        if endStream { complete(at: i, into: &out, events: &events) }
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

    mutating func complete(at i: Int, into out: inout ByteBuffer, events: inout [H2Event]) {
        let stream = streams[i]
        // The server answered before our body was all sent: stop sending it (§8.1).
        if stream.pendingBody != nil { H2FrameEncoder.writeRSTStream(stream: stream.id, code: .noError, into: &out) }
        streams.remove(at: i)
        events.append(.responseComplete(stream: stream.id))
    }

    /// A stream error (§5.4.2): RST_STREAM, the stream forgotten, the owner told.
    mutating func streamError(
        at i: Int,
        _ code: H2ErrorCode,
        _ message: String,
        into out: inout ByteBuffer,
        events: inout [H2Event]
    ) {
        let id = streams[i].id
        H2FrameEncoder.writeRSTStream(stream: id, code: code, into: &out)
        forget(at: i)
        events.append(.streamError(stream: id, code: code, message: message))
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

    mutating func receiveGoAway(_ last: UInt32, _ code: H2ErrorCode, debug: ByteBuffer, events: inout [H2Event]) {
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
        events.append(.goAway(lastStreamID: last, code: code, refused: refused, debug: String(buffer: debug)))
    }

    mutating func receiveWindowUpdate(
        _ stream: UInt32,
        _ increment: UInt32,
        into out: inout ByteBuffer,
        events: inout [H2Event]
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
            return streamError(at: i, .protocolError, "a WINDOW_UPDATE of 0", into: &out, events: &events)
        }
        streams[i].sendWindow += Int(increment)
        guard streams[i].sendWindow <= H2.maxWindow else {
            return streamError(at: i, .flowControlError, "a send window above 2^31-1", into: &out, events: &events)
        }
        sendBody(at: i, into: &out)
    }
}
