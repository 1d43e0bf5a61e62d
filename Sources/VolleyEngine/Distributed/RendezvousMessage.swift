import Foundation
import NIOCore

/// One line of the rendezvous protocol: a JSON object with a `"type"` field, ended by `\n`.
/// docs/distributed.md "Rendezvous protocol" lists them; this enum is the whole vocabulary.
enum RendezvousMessage: Equatable, Sendable {
    /// The protocol version a register carries: a segment of another protocol is refused.
    static let protocolVersion = 1

    /// Client → 0: one clock-offset probe; `sent` is the client's wall clock at sending.
    case ping(id: Int, sent: Int64)
    /// 0 → client: the probe echoed with segment 0's wall clock when it answered.
    case pong(id: Int, sent: Int64, server: Int64)
    /// Client → 0: this segment joins the run.
    case register(RegisterRequest)
    /// 0 → client: accepted; `registered` of `count` are in so far.
    case registered(registered: Int, count: Int)
    /// 0 → client: not accepted; the connection closes after it.
    case refused(reason: String, hint: String)
    /// 0 → every client: start at `at` (segment 0's wall clock) with the setup's variables.
    case start(at: Int64, variables: [String: String])
    /// Both ways: the run stops. From a client: its own request; from 0: relayed or decided.
    case abort(RendezvousAbort)
    /// Client → 0: this segment's result bundle (opaque bytes, base64 in JSON).
    case bundle(segment: Int, data: [UInt8])
    /// 0 → client: the bundle of `segment` was received whole.
    case ack(segment: Int)

    struct RegisterRequest: Equatable, Sendable {
        var segment: Int
        var count: Int
        var runKey: String
        var offsetNanoseconds: Int64
        var rttNanoseconds: Int64
        var protocolVersion: Int
    }

    /// Lines other than bundles and start announcements are small; a longer one is a peer
    /// speaking another protocol, refused before it is trusted.
    static let smallLineLimit = 64 * 1024

    /// The `type` field of each case, for error messages.
    var type: String {
        switch self {
        case .ping: "ping"
        case .pong: "pong"
        case .register: "register"
        case .registered: "registered"
        case .refused: "refused"
        case .start: "start"
        case .abort: "abort"
        case .bundle: "bundle"
        case .ack: "ack"
        }
    }
}

// MARK: - JSON

/// The flat JSON shape of every message: `type` plus the fields that type uses.
private struct Envelope: Codable {
    var type: String
    var id: Int?
    var sent: Int64?
    var server: Int64?
    var segment: Int?
    var count: Int?
    var registered: Int?
    var runKey: String?
    var offsetNs: Int64?
    var rttNs: Int64?
    var protocolVersion: Int?
    var reason: String?
    var hint: String?
    var kind: String?
    var at: Int64?
    var variables: [String: String]?
    var data: String?
}

extension RendezvousMessage {
    /// The message as one line (JSON + `\n`) in a buffer.
    func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var e = Envelope(type: type)
        switch self {
        case .ping(let id, let sent):
            (e.id, e.sent) = (id, sent)
        case .pong(let id, let sent, let server):
            (e.id, e.sent, e.server) = (id, sent, server)
        case .register(let r):
            (e.segment, e.count, e.runKey) = (r.segment, r.count, r.runKey)
            (e.offsetNs, e.rttNs, e.protocolVersion) = (r.offsetNanoseconds, r.rttNanoseconds, r.protocolVersion)
        case .registered(let registered, let count):
            (e.registered, e.count) = (registered, count)
        case .refused(let reason, let hint):
            (e.reason, e.hint) = (reason, hint)
        case .start(let at, let variables):
            (e.at, e.variables) = (at, variables)
        case .abort(let abort):
            (e.reason, e.segment, e.kind) = (abort.reason, abort.segment, abort.kind.rawValue)
        case .bundle(let segment, let data):
            (e.segment, e.data) = (segment, Data(data).base64EncodedString())
        case .ack(let segment):
            e.segment = segment
        }
        // Encoding a struct of strings and integers cannot fail.
        let json = try! JSONEncoder().encode(e)
        var buffer = allocator.buffer(capacity: json.count + 1)
        buffer.writeBytes(json)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }

    /// Decodes one line (without its `\n`); `peer` names the sender in the error.
    init(line: ByteBuffer, peer: String) throws(RendezvousError) {
        func violation(_ what: String) -> RendezvousError {
            RendezvousError(
                .protocolViolation,
                "\(peer) sent \(what)",
                hint: "is every segment the same Volley version, and is that port the rendezvous?"
            )
        }
        let bytes = line.readableBytesView
        let e: Envelope
        do {
            e = try JSONDecoder().decode(Envelope.self, from: Data(bytes))
        } catch {
            throw violation("a line that is not a rendezvous message: \(Self.excerpt(bytes))")
        }
        func need<T>(_ value: T?, _ field: String) throws(RendezvousError) -> T {
            guard let value else { throw violation("a \"\(e.type)\" message without \"\(field)\"") }
            return value
        }
        switch e.type {
        case "ping": self = .ping(id: try need(e.id, "id"), sent: try need(e.sent, "sent"))
        case "pong":
            self = .pong(id: try need(e.id, "id"), sent: try need(e.sent, "sent"), server: try need(e.server, "server"))
        case "register":
            self = .register(
                RegisterRequest(
                    segment: try need(e.segment, "segment"),
                    count: try need(e.count, "count"),
                    runKey: try need(e.runKey, "runKey"),
                    offsetNanoseconds: try need(e.offsetNs, "offsetNs"),
                    rttNanoseconds: try need(e.rttNs, "rttNs"),
                    protocolVersion: try need(e.protocolVersion, "protocolVersion")
                )
            )
        case "registered":
            self = .registered(registered: try need(e.registered, "registered"), count: try need(e.count, "count"))
        case "refused": self = .refused(reason: try need(e.reason, "reason"), hint: e.hint ?? "")
        case "start": self = .start(at: try need(e.at, "at"), variables: e.variables ?? [:])
        case "abort":
            let kind = RendezvousError.Kind(rawValue: e.kind ?? "") ?? .aborted
            self = .abort(RendezvousAbort(reason: try need(e.reason, "reason"), segment: e.segment, kind: kind))
        case "bundle":
            guard let data = Data(base64Encoded: try need(e.data, "data")) else {
                throw violation("a bundle whose data is not base64")
            }
            self = .bundle(segment: try need(e.segment, "segment"), data: [UInt8](data))
        case "ack": self = .ack(segment: try need(e.segment, "segment"))
        default: throw violation("a message of unknown type \"\(e.type)\"")
        }
        if line.readableBytes > Self.smallLineLimit, type != "bundle", type != "start" {
            throw violation("a \"\(type)\" line of \(line.readableBytes) bytes (at most \(Self.smallLineLimit))")
        }
    }

    private static func excerpt(_ bytes: ByteBufferView) -> String {
        let text = String(decoding: bytes.prefix(80), as: UTF8.self)
        return "\"\(text)\(bytes.count > 80 ? "…" : "")\" (\(bytes.count) bytes)"
    }
}

// MARK: - Framing

/// Splits the stream into `\n`-ended lines, refusing a line longer than `limit` bytes so a
/// peer that never sends a newline cannot make this process buffer without bound.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let limit: Int
    private var scanned = 0

    init(limit: Int) { self.limit = limit }

    struct LineTooLong: Error, CustomStringConvertible {
        var limit: Int
        var description: String { "a line longer than \(limit) bytes" }
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        let start = view.startIndex + scanned
        if let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - view.startIndex
            guard length <= limit else { throw LineTooLong(limit: limit) }
            let line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            scanned = 0
            context.fireChannelRead(Self.wrapInboundOut(line))
            return .continue
        }
        scanned = view.count
        guard scanned <= limit else { throw LineTooLong(limit: limit) }
        return .needMoreData
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws
        -> DecodingState
    {
        // A partial last line is dropped: the connection is closing and the peer's last
        // message was not whole.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
