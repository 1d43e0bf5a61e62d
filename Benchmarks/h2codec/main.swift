// The HTTP/2 codec's CPU per request, without sockets: `H2Connection.sendRequest` of a
// `volley run` request, then `receive` of nginx's HEADERS (NIOHPACK-encoded, dynamic table
// entries referenced, as nginx sends from its second response on) and a 5-byte DATA; plus
// the pieces alone. Not part of the package: to run it, add
//     .executableTarget(name: "h2bench", dependencies: ["VolleyEngine", "VolleyCore",
//         .product(name: "NIOHPACK", package: "swift-nio-http2"), .product(name: "NIOCore", package: "swift-nio")],
//         path: "Benchmarks/h2codec")
// to Package.swift (locally) and `swift build -c release --product h2bench && .build/release/h2bench`.
// Results are in docs/http2.md.
import NIOCore
import NIOHPACK
import VolleyCore
import VolleyEngine

#if canImport(Glibc)
import Glibc
#endif

func cpuNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let spec = RequestSpec(url: try TargetURL(parsing: "http://127.0.0.1:18081/"))
let template = H2RequestTemplate(spec: spec, runPrefix: 0x1234_5678)
// nginx's response head, second time (dynamic table entries referenced), and a 5-byte body.
var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
let head: HPACKHeaders = [
    ":status": "200", "server": "nginx/1.22.1", "date": "Sun, 06 Dec 2026 17:33:10 GMT",
    "content-type": "text/plain", "content-length": "5",
]
var first = ByteBuffer()
try encoder.encode(headers: head, to: &first)
var second = ByteBuffer()
try encoder.encode(headers: head, to: &second)

func response(stream: UInt32, block: ByteBuffer) -> ByteBuffer {
    var out = ByteBuffer()
    block.withUnsafeReadableBytes {
        _ = H2FrameEncoder.writeHeaders(stream: stream, block: $0, endStream: false, maxFrameSize: 16384, into: &out)
    }
    H2FrameEncoder.writeData(stream: stream, payload: ByteBuffer(string: "hello"), endStream: true, into: &out)
    return out
}

for streamsPerRead in [1, 10] {
    var connection = H2Connection()
    var out = ByteBuffer()
    var events: [H2Event] = []
    connection.start(into: &out)
    // Warm the decoder's table with the first block.
    out.clear()
    let s0 = connection.sendRequest(template, requestID: 0, into: &out)
    connection.receive(response(stream: s0, block: first), into: &out, events: &events)
    let rounds = 200_000 / streamsPerRead
    var wire = ByteBuffer()
    var completed = 0
    var bodyBytes = 0
    let t0 = cpuNanos()
    for r in 0..<rounds {
        out.clear()
        wire.clear()
        for k in 0..<streamsPerRead {
            let id = connection.sendRequest(template, requestID: UInt64(r * streamsPerRead + k), into: &out)
            // The server's frames for that stream (built here, as a server would).
            let headerLength = second.readableBytes
            H2FrameEncoder.writeFrameHeader(length: headerLength, type: 1, flags: 4, stream: id, into: &wire)
            wire.writeImmutableBuffer(second)
            H2FrameEncoder.writeFrameHeader(length: 5, type: 0, flags: 1, stream: id, into: &wire)
            wire.writeStaticString("hello")
        }
        events.removeAll(keepingCapacity: true)
        connection.receive(wire, into: &out, events: &events)
        for e in events {
            switch e {
            case .responseComplete: completed += 1
            case .data(_, let b): bodyBytes += b.readableBytes
            default: break
            }
        }
    }
    let ns = Double(cpuNanos() - t0) / Double(rounds * streamsPerRead)
    print(
        "streams per read \(streamsPerRead): \(completed) responses, \(bodyBytes) body bytes, \(String(format: "%.0f", ns)) ns CPU per request (encode + decode)"
    )
}

do {
    // Pieces: sendRequest alone; NIOHPACK's decode of the head alone.
    var connection = H2Connection()
    var out = ByteBuffer()
    var t0 = cpuNanos()
    var ids: UInt64 = 0
    for r in 0..<200_000 {
        out.clear()
        let id = connection.sendRequest(template, requestID: UInt64(r), into: &out)
        var o2 = ByteBuffer()
        _ = connection.cancelStream(id, into: &o2)
        ids &+= UInt64(id)
    }
    print("sendRequest (+cancel): \(Double(cpuNanos() - t0) / 200_000) ns", ids & 1)
    var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
    var b = first
    _ = try decoder.decodeHeaders(from: &b)
    t0 = cpuNanos()
    var n = 0
    for _ in 0..<200_000 {
        var b = second
        n += try decoder.decodeHeaders(from: &b).count
    }
    print("HPACK decode of nginx's head: \(Double(cpuNanos() - t0) / 200_000) ns", n)
    var fd = H2FrameDecoder()
    let resp = response(stream: 1, block: second)
    t0 = cpuNanos()
    for _ in 0..<200_000 {
        fd.append(resp)
        while let f = try fd.nextFrame() { if case .unknown = f { n += 1 } }
    }
    print("frame decode of HEADERS+DATA: \(Double(cpuNanos() - t0) / 200_000) ns", n)
}
