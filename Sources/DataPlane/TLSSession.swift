#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// One TLS session on a non-blocking descriptor: the handshake, then SSL_read/SSL_write in place of
/// recv/send. Owned by a `SocketConnection`, which maps WANT_READ/WANT_WRITE onto its loop interest.
public final class TLSSession {
    let ssl: OpaquePointer
    public let role: TLSRole
    public private(set) var isEstablished = false
    /// Why the handshake or a read/write failed (OpenSSL's reason, with the certificate check's when it failed).
    public private(set) var failureReason: String?

    init(ssl: OpaquePointer, role: TLSRole) {
        self.ssl = ssl
        self.role = role
    }

    deinit { SSL_free(self.ssl) }

    /// What a handshake step, or a read or write that could not move bytes, needs next.
    enum Step: Equatable {
        case done
        case wantRead
        case wantWrite
        case closed
        case failed
    }

    /// Advances the handshake as far as the socket allows.
    func handshake() -> Step {
        let result = self.role == .server ? SSL_accept(self.ssl) : SSL_connect(self.ssl)
        if result == 1 {
            self.isEstablished = true
            return .done
        }
        return self.step(after: result)
    }

    /// SSL_read: bytes, or what it waits for.
    @inline(__always)
    func read(into buffer: UnsafeMutableRawBufferPointer) -> (Int, Step) {
        let result = SSL_read(self.ssl, buffer.baseAddress, CInt(clamping: buffer.count))
        if result > 0 { return (Int(result), .done) }
        return (0, self.step(after: result))
    }

    /// SSL_write (partial writes enabled): bytes taken, or what it waits for.
    @inline(__always)
    func write(_ bytes: UnsafeRawBufferPointer) -> (Int, Step) {
        let result = SSL_write(self.ssl, bytes.baseAddress, CInt(clamping: bytes.count))
        if result > 0 { return (Int(result), .done) }
        return (0, self.step(after: result))
    }

    /// Decrypted bytes (or a whole record) OpenSSL holds that the socket will not signal again.
    var hasBufferedInput: Bool { SSL_has_pending(self.ssl) == 1 }

    private func step(after result: CInt) -> Step {
        let error = SSL_get_error(self.ssl, result)
        switch error {
        case SPX_SSL_ERROR_WANT_READ: return .wantRead
        case SPX_SSL_ERROR_WANT_WRITE: return .wantWrite
        case SPX_SSL_ERROR_ZERO_RETURN: return .closed
        case SPX_SSL_ERROR_SYSCALL:
            let saved = errno
            let reason = TLSContext.lastError()
            if reason == "unknown error" {
                if saved == 0 || saved == ECONNRESET || saved == EPIPE {
                    self.failureReason = self.isEstablished ? nil : "connection closed during the TLS handshake"
                    return self.isEstablished ? .closed : .failed
                }
                self.failureReason = String(cString: strerror(saved))
            } else {
                self.failureReason = reason
            }
            return .failed
        default:
            var reason = TLSContext.lastError()
            let verify = SSL_get_verify_result(self.ssl)
            if verify != 0, let text = X509_verify_cert_error_string(verify) {
                reason += " (\(String(cString: text)))"
            }
            self.failureReason = reason
            return .failed
        }
    }

    /// The subject CN of the peer's certificate, if it sent one (checked against the CA when the context verifies).
    public var peerCommonName: String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let length = spx_ssl_peer_common_name(self.ssl, &buffer, CInt(buffer.count))
        guard length >= 0 else { return nil }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The `tls-server-end-point` channel binding (RFC 5929): the server certificate's hash. The server's own
    /// certificate on the server side, the peer's on the client side.
    public var serverEndPoint: [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 64)
        let length = spx_ssl_server_end_point(self.ssl, self.role == .server ? 1 : 0, &buffer, CInt(buffer.count))
        guard length > 0 else { return nil }
        return Array(buffer.prefix(Int(length)))
    }

    /// Whether the handshake agreed on ALPN `postgresql` (required for direct TLS).
    public var negotiatedPostgresALPN: Bool { spx_ssl_alpn_is_postgresql(self.ssl) == 1 }

    /// The negotiated protocol (e.g. "TLSv1.3"), for logs.
    public var protocolVersion: String { String(cString: SSL_get_version(self.ssl)) }

    /// Sends close_notify if the socket takes it now; never waits.
    func shutdown() {
        guard self.isEstablished else { return }
        _ = SSL_shutdown(self.ssl)
    }
}
