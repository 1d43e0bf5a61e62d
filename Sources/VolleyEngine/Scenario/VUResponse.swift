/// What a virtual user gets back for one request.
struct VUResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    /// The first `bodyLimit` bytes of the body.
    var body: [UInt8]
    var bytesIn: Int
    var keepAlive: Bool
}
