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
        // ALPN is part of the handshake: a server refusing h2 is a TLS-level refusal.
        if error is HandshakeClosed || error is ALPNRefused { return .tls }
        if error is HostResolutionError { return .dns }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLCloseTimedOutError
            || error is NIOSSLExtraError
        {
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
        if let tls = TLSFailure.message(error) { return tls }
        return String(describing: error)
    }
}

/// TLS failures in words. NIOSSL describes them as BoringSSL's error stack, e.g. `Error:
/// 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at
/// /home/build/.../handshake.cc:393`: a number, a build path, and a reason code. The reason
/// code is kept, in words, and the path dropped; a verification failure says what to do.
enum TLSFailure {
    static let insecureHint = "for a test server with its own certificate, --insecure accepts it"

    static func message(_ error: any Error) -> String? {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "TLS certificate hostname mismatch: the certificate does not name the host in the URL; "
                + insecureHint
        }
        let stack: NIOBoringSSLErrorStack
        switch error {
        case NIOSSLError.handshakeFailed(let e), NIOSSLError.shutdownFailed(let e):
            guard case .sslError(let s) = e else { return "TLS handshake failed (\(e))" }
            stack = s
        case let e as BoringSSLError:
            guard case .sslError(let s) = e else { return "TLS error (\(e))" }
            stack = s
        case NIOSSLError.unableToValidateCertificate, NIOSSLError.noCertificateToValidate:
            return "TLS certificate verify failed: the server sent no certificate that could be checked; "
                + insecureHint
        default:
            return nil
        }
        let reasons = stack.map { reason(String(describing: $0)) }
        if reasons.contains("CERTIFICATE_VERIFY_FAILED") {
            return "TLS certificate verify failed: the server's certificate is not trusted "
                + "(self-signed, issued by an unknown authority, expired, or for another name); " + insecureHint
        }
        let words = reasons.map { $0.lowercased().replacingOccurrences(of: "_", with: " ") }
        guard !words.isEmpty else { return "TLS handshake failed" }
        var text = "TLS handshake failed: " + words.joined(separator: "; ")
        if reasons.contains("WRONG_VERSION_NUMBER") { text += " (does the port speak plain HTTP?)" }
        return text
    }

    /// `…:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at /path/file.cc:393` → the reason code
    /// (`CERTIFICATE_VERIFY_FAILED`); any other text without its ` at /path` tail.
    static func reason(_ description: String) -> String {
        let head = description.range(of: " at /").map { String(description[..<$0.lowerBound]) } ?? description
        guard let colon = head.lastIndex(of: ":") else { return head }
        let code = head[head.index(after: colon)...]
        return code.isEmpty ? head : String(code)
    }
}
