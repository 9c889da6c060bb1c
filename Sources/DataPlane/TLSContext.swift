#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// Which side of the handshake a `TLSContext` makes sessions for.
public enum TLSRole: Sendable {
    /// We accept the handshake (towards clients).
    case server
    /// We start the handshake (towards servers).
    case client
}

/// What a `TLSContext` checks of the peer's certificate.
public enum TLSPeerVerification: Sendable, Equatable {
    /// Nothing (encryption only).
    case none
    /// A certificate signed by the CA file is required (client certificates; backend `verify-ca`).
    case chain
    /// The chain, and the host name (or IP address) given to `makeSession` must be in the certificate
    /// (backend `verify-full`).
    case chainAndHost
}

/// TLS protocol versions by name, as the configuration spells them.
public enum TLSProtocolVersion: String, Sendable, CaseIterable, Comparable {
    case tls12 = "TLSv1.2"
    case tls13 = "TLSv1.3"

    var openSSLValue: CInt { self == .tls12 ? SPX_TLS1_2_VERSION : SPX_TLS1_3_VERSION }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.openSSLValue < rhs.openSSLValue }
}

/// A failure to build a context or a session; `description` is OpenSSL's reason.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An OpenSSL SSL_CTX: certificates, key, CA, protocol range and ciphers, loaded once and shared by every
/// session made from it (OpenSSL reference-counts it, so a replaced context lives on in the sessions that use it).
public final class TLSContext: @unchecked Sendable {  // SSL_CTX is safe to share once configured
    let context: OpaquePointer
    public let role: TLSRole
    public let verification: TLSPeerVerification

    /// Loads the files now: a missing or unreadable file, a key that does not match its certificate (or that is
    /// encrypted and `keyPassword` does not open), or an unknown cipher list throws with OpenSSL's reason.
    public init(
        role: TLSRole, certificateFile: String? = nil, keyFile: String? = nil, caFile: String? = nil,
        verification: TLSPeerVerification = .none, protocols: ClosedRange<TLSProtocolVersion> = .tls12 ... .tls13,
        ciphers: String? = nil, keyPassword: String? = nil, crlFile: String? = nil, crlDirectory: String? = nil
    ) throws(TLSError) {
        _ = Self.ignoreBrokenPipes
        guard let context = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError("cannot create a TLS context: \(Self.lastError())")
        }
        self.context = context
        self.role = role
        self.verification = verification
        spx_ssl_ctx_set_relay_modes(context)
        guard spx_ssl_ctx_set_protocol_range(context, protocols.lowerBound.openSSLValue,
                                             protocols.upperBound.openSSLValue) == 1 else {
            throw TLSError("cannot set the TLS protocol versions: \(Self.lastError())")
        }
        if let ciphers, SSL_CTX_set_cipher_list(context, ciphers) != 1 {
            throw TLSError("invalid cipher list \"\(ciphers)\": \(Self.lastError())")
        }
        if let certificateFile {
            guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
                throw TLSError("cannot load certificate \"\(certificateFile)\": \(Self.lastError())")
            }
        }
        if let keyFile {
            guard spx_ssl_ctx_use_private_key_file(context, keyFile, keyPassword) == 1 else {
                throw TLSError("cannot load private key \"\(keyFile)\": \(Self.lastError())")
            }
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw TLSError("private key \"\(keyFile)\" does not match the certificate: \(Self.lastError())")
            }
        }
        if let caFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                throw TLSError("cannot load CA file \"\(caFile)\": \(Self.lastError())")
            }
            if role == .server {
                // Tell clients which CAs we accept, so they pick the right certificate.
                if let names = SSL_load_client_CA_file(caFile) { SSL_CTX_set_client_CA_list(context, names) }
            }
        }
        if crlFile != nil || crlDirectory != nil {
            guard caFile != nil, verification != .none else {
                throw TLSError("a certificate revocation list needs the peer's certificate verified (a CA file)")
            }
            guard spx_ssl_ctx_load_crls(context, crlFile, crlDirectory) == 1 else {
                throw TLSError("cannot load certificate revocation list \"\(crlFile ?? crlDirectory ?? "")\": "
                               + Self.lastError())
            }
        }
        switch verification {
        case .none:
            SSL_CTX_set_verify(context, SPX_SSL_VERIFY_NONE, nil)
        case .chain, .chainAndHost:
            guard caFile != nil else { throw TLSError("verifying the peer needs a CA file") }
            let failWithout = role == .server ? SPX_SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0
            SSL_CTX_set_verify(context, SPX_SSL_VERIFY_PEER | failWithout, nil)
        }
        if role == .client {
            // As libpq 17: a server doing direct TLS (sslnegotiation=direct) must agree to it.
            guard spx_ssl_ctx_offer_alpn_postgresql(context) == 1 else {
                throw TLSError("cannot offer ALPN postgresql: \(Self.lastError())")
            }
        }
        if role == .server {
            // Session tickets would need a key shared and rotated across processes; full handshakes are simpler.
            SSL_CTX_set_num_tickets(context, 0)
            spx_ssl_ctx_select_alpn_postgresql(context)
        }
    }

    deinit { SSL_CTX_free(self.context) }

    /// OpenSSL writes with write(2), which raises SIGPIPE when the peer is gone (plaintext sends use MSG_NOSIGNAL):
    /// the signal is ignored for the process once TLS is used, so a vanished peer is an EPIPE for its connection
    /// only, never the end of the process.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// A session on `descriptor` (not owned: the `SocketConnection` closes it). `hostName` is what `.chainAndHost`
    /// checks and what a client sends as SNI.
    public func makeSession(descriptor: CInt, hostName: String? = nil) throws(TLSError) -> TLSSession {
        guard let ssl = SSL_new(self.context) else { throw TLSError("cannot create a TLS session: \(Self.lastError())") }
        let session = TLSSession(ssl: ssl, role: self.role)
        guard SSL_set_fd(ssl, descriptor) == 1 else { throw TLSError("cannot attach TLS: \(Self.lastError())") }
        if self.role == .client, let hostName {
            let isAddress = Self.isIPAddress(hostName)
            if !isAddress { _ = spx_ssl_set_sni(ssl, hostName) }
            if self.verification == .chainAndHost {
                let param = SSL_get0_param(ssl)
                let ok = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(param, hostName)
                                   : X509_VERIFY_PARAM_set1_host(param, hostName, 0)
                guard ok == 1 else { throw TLSError("cannot check host name \"\(hostName)\"") }
            }
        }
        return session
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    static func lastError() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        spx_ssl_last_error(&buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "unknown error" : text
    }
}
