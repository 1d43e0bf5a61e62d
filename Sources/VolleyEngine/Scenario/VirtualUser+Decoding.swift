import VolleyCore

/// What decoding compressed bodies leaves in the recorders: the decoded size beside the wire
/// size, and the bodies that could not be decoded, counted per request name and sampled with
/// their reason, as capture failures are. Kept out of `VirtualUser.swift` so that the
/// connection layer can change there without touching this.
extension VirtualUser {
    /// After a step's checks and captures read (or did not read) the body.
    func recordDecoding(_ inspector: ResponseInspector, _ compiled: CompiledRequest, status: Int) {
        if let count = inspector.decodedByteCount {
            runner.recorder.overall.bytesDecoded &+= UInt64(count)
            runner.recorder.withName(compiled.nameID) { $0.bytesDecoded &+= UInt64(count) }
        } else if let message = inspector.decodeFailure {
            runner.recorder.overall.decodeFailures += 1
            runner.recorder.withName(compiled.nameID) { $0.decodeFailures += 1 }
            let name = runner.requestNames[compiled.nameID]
            runner.recorder.overall.responseSamples.recordDecodeFailure(
                request: name,
                status: status,
                message: message
            )
        }
    }

    /// Samples an error response's body (status >= 400) for the run and for its request name,
    /// decoded when it is compressed: a gzip error page sampled as it came would be binary.
    /// Decoded only when one of the two still wants a sample of this status.
    func recordErrorBody(_ response: VUResponse, _ compiled: CompiledRequest) {
        let status = response.status
        let wantedByName = runner.recorder.byName[compiled.nameID]?.responseSamples.wants(status: status) ?? true
        guard runner.recorder.overall.responseSamples.wants(status: status) || wantedByName else { return }
        let body = response.sampleBody
        runner.recorder.overall.responseSamples.recordError(status: status, body: body)
        runner.recorder.withName(compiled.nameID) { $0.responseSamples.recordError(status: status, body: body) }
    }
}

extension VUResponse {
    /// The start of the body as an error sample shows it: decoded when the response is
    /// compressed and decodes, as it came otherwise.
    var sampleBody: [UInt8] {
        ContentDecoder.sample(
            body,
            contentEncoding: headers.first(where: { $0.name.equalsIgnoringASCIICase("content-encoding") })?.value,
            rawTruncated: body.count >= ResponseInspector.decodedLimit
        )
    }
}
