/// TEMPORARY (lead's branch): replaced by the phases helper's file at merge.
public struct PhaseSample: Sendable {
    public var dnsNanos: UInt64?
    public var connectNanos: UInt64?
    public var tlsNanos: UInt64?
    public var sendNanos: UInt64
    public var waitNanos: UInt64
    public var receiveNanos: UInt64

    public init(
        dnsNanos: UInt64? = nil,
        connectNanos: UInt64? = nil,
        tlsNanos: UInt64? = nil,
        sendNanos: UInt64,
        waitNanos: UInt64,
        receiveNanos: UInt64
    ) {
        self.dnsNanos = dnsNanos
        self.connectNanos = connectNanos
        self.tlsNanos = tlsNanos
        self.sendNanos = sendNanos
        self.waitNanos = waitNanos
        self.receiveNanos = receiveNanos
    }
}

extension Recorder {
    /// TEMPORARY (lead's branch): replaced by the phases helper's recorder at merge.
    public mutating func recordPhases(_ s: PhaseSample) {}
}
