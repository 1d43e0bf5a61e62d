import NIOCore
import NIOPosix
import NIOSSL
import VolleyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Maps the errors SwiftNIO and NIOSSL raise to Volley's closed set of transport classes.
enum ErrorClassifier {
    static func classify(_ error: any Error, connecting: Bool) -> TransportErrorClass {
        if error is HandshakeTimeout { return .connectTimeout }
        if error is HandshakeClosed { return .tls }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLCloseTimedOutError {
            return .tls
        }
        if let channelError = error as? ChannelError {
            switch channelError {
            case .connectTimeout: return .connectTimeout
            case .eof: return connecting ? .connectionRefused : .noResponse
            default: return .other
            }
        }
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return .connectionRefused
            case ECONNRESET, EPIPE, ECONNABORTED: return .reset
            case ETIMEDOUT: return connecting ? .connectTimeout : .timeout
            case EHOSTUNREACH, ENETUNREACH: return .connectionRefused
            default: return .other
            }
        }
        if let connectionError = error as? NIOConnectionError {
            if connectionError.dnsAError != nil || connectionError.dnsAAAAError != nil {
                return .dns
            }
            if let first = connectionError.connectionErrors.first {
                return classify(first.error, connecting: true)
            }
            return .connectionRefused
        }
        return .other
    }

    /// A short, credential-free description for the summary's sample messages.
    static func message(_ error: any Error) -> String {
        if let io = error as? IOError {
            return "\(io.description)"
        }
        return String(describing: error)
    }
}
