/// How a connection to a server uses TLS, by libpq's `sslmode` rules (the verification itself is the TLS context's
/// business, so `verify-ca` and `verify-full` are `require` here). Each attempt is one TCP connection; some modes
/// make a second attempt when the first fails in a particular way, as libpq does.
public enum ServerTLSPolicy: Sendable, Equatable {
    /// `disable`: plaintext only.
    case disable
    /// `allow`: plaintext first; if the server refuses that login, once more with TLS.
    case allow
    /// `prefer` (libpq's default): TLS if the server offers it; if the handshake fails, or the server refuses the
    /// login over TLS, once more in plaintext.
    case prefer
    /// `require`, `verify-ca`, `verify-full`: TLS or nothing.
    case require
    /// `require` (or stronger) with libpq 17's `sslnegotiation=direct`: the ClientHello first, no SSLRequest.
    case requireDirect

    /// The first attempt. Over a Unix-domain socket libpq never asks for TLS, whatever the mode.
    public func firstAttempt(overUnixSocket: Bool) -> ServerTLSAttempt {
        if overUnixSocket { return .plaintext }
        switch self {
        case .disable, .allow: return .plaintext
        case .prefer: return .tlsIfOffered
        case .require: return .tlsRequired
        case .requireDirect: return .directTLS
        }
    }

    /// The second attempt after the first ended as `failure`, or nil when that failure is final.
    public func retry(after failure: ServerTLSAttemptFailure, of attempt: ServerTLSAttempt) -> ServerTLSAttempt? {
        switch (self, attempt, failure) {
        case (.allow, .plaintext, .refusedBeforeAuthentication(overTLS: false)):
            return .tlsRequired
        case (.prefer, .tlsIfOffered, .handshakeFailed),
             (.prefer, .tlsIfOffered, .refusedBeforeAuthentication(overTLS: true)):
            return .plaintext
        default:
            return nil
        }
    }
}

/// What one connection attempt does about TLS.
public enum ServerTLSAttempt: Sendable, Equatable {
    /// No SSLRequest: the StartupMessage (or CancelRequest) goes first, in plaintext.
    case plaintext
    /// SSLRequest; `S` starts the handshake, `N` goes on in plaintext on the same connection.
    case tlsIfOffered
    /// SSLRequest; `S` starts the handshake, `N` ends the attempt.
    case tlsRequired
    /// No SSLRequest: the TLS handshake starts at once, and must agree on ALPN `postgresql`.
    case directTLS
}

/// How an attempt failed, as far as the choice of a second attempt cares.
public enum ServerTLSAttemptFailure: Sendable, Equatable {
    /// The TLS handshake failed (or the server closed during it).
    case handshakeFailed
    /// The server sent an ErrorResponse before authentication was done (pg_hba refusing the connection, a wrong
    /// password, too many connections...).
    case refusedBeforeAuthentication(overTLS: Bool)
}
