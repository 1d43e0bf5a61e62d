import NIOCore
import NIOHPACK

@testable import VolleyEngine

/// The server's side of a connection in unit tests: builds the frames a server sends (with a
/// real HPACK encoder, Huffman and dynamic table included) and reads back what the client
/// wrote. No sockets.
struct H2TestPeer {
    var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
    var client = H2Connection()
    var events: [H2Event] = []
    /// Frames the client wrote, decoded (after the preface).
    var written: [H2Frame] = []
    private var fromClient = H2FrameDecoder(maxFrameSize: H2.maxMaxFrameSize)

    init(settings: H2LocalSettings = H2LocalSettings()) {
        client = H2Connection(settings: settings)
        var out = ByteBuffer()
        client.start(into: &out)
        out.moveReaderIndex(forwardBy: H2.preface.count)
        collect(out)
    }

    private mutating func collect(_ out: ByteBuffer) {
        fromClient.append(out)
        while let frame = try! fromClient.nextFrame() { written.append(frame) }
    }

    /// Feeds server bytes to the client and collects what it writes and reports.
    mutating func send(_ write: (inout ByteBuffer, inout HPACKEncoder) -> Void) {
        var wire = ByteBuffer()
        write(&wire, &encoder)
        var out = ByteBuffer()
        client.receive(wire, into: &out, events: &events)
        collect(out)
    }

    /// The client opens a stream for `template` and its frames are collected.
    mutating func request(_ template: H2RequestTemplate = H2TestPeer.get) -> UInt32 {
        var out = ByteBuffer()
        let id = client.sendRequest(template, requestID: 1, into: &out)
        collect(out)
        return id
    }

    static let get = H2RequestTemplate(method: "GET", scheme: "http", authority: "t", path: "/", headers: [])

    /// Frame writers for `send`.
    static func settings(_ s: [H2Setting]) -> (inout ByteBuffer, inout HPACKEncoder) -> Void {
        { out, _ in H2FrameEncoder.writeSettings(s, into: &out) }
    }

    static func headers(
        _ stream: UInt32,
        _ list: [(String, String)],
        endStream: Bool = false
    ) -> (inout ByteBuffer, inout HPACKEncoder) -> Void {
        { out, encoder in
            var block = ByteBuffer()
            try! encoder.encode(headers: HPACKHeaders(list), to: &block)
            block.withUnsafeReadableBytes {
                _ = H2FrameEncoder.writeHeaders(
                    stream: stream,
                    block: $0,
                    endStream: endStream,
                    maxFrameSize: 16_384,
                    into: &out
                )
            }
        }
    }

    static func data(
        _ stream: UInt32,
        _ bytes: Int,
        endStream: Bool = false
    ) -> (inout ByteBuffer, inout HPACKEncoder) -> Void {
        { out, _ in
            H2FrameEncoder.writeData(
                stream: stream,
                payload: ByteBuffer(repeating: 0x61, count: bytes),
                endStream: endStream,
                into: &out
            )
        }
    }

    static func raw(_ write: @escaping (inout ByteBuffer) -> Void) -> (inout ByteBuffer, inout HPACKEncoder) -> Void {
        { out, _ in write(&out) }
    }

    /// The events as short strings, for comparisons.
    var eventNames: [String] {
        events.map { event in
            switch event {
            case .responseHead(let s, let head): "head \(s) \(head.status)"
            case .data(let s, let bytes): "data \(s) \(bytes.readableBytes)"
            case .responseComplete(let s): "complete \(s)"
            case .streamReset(let s, let code): "reset \(s) \(code)"
            case .streamError(let s, let code, _): "stream error \(s) \(code)"
            case .goAway(let last, let code, let refused, let debug):
                "goaway \(last) \(code) refused \(refused) \(debug)"
            case .connectionError(let error, let open): "connection error \(error.code) open \(open)"
            }
        }
    }

    /// The WINDOW_UPDATE frames the client wrote: (stream, increment).
    var windowUpdates: [(UInt32, UInt32)] {
        written.compactMap { if case .windowUpdate(let s, let i) = $0 { (s, i) } else { nil } }
    }
}
