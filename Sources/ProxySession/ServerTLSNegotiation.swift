import NIOCore

/// The SSLRequest exchange that opens a connection to a server (a login or a cancel): whether to send one, and what
/// the server's one-byte answer means for this attempt. The handshake itself is the I/O shell's.
public struct ServerTLSNegotiation: Sendable {
    public enum Action: Sendable, Equatable {
        /// Send the 8-byte SSLRequest and wait for the answer.
        case sendSSLRequest
        /// The server said `S`: start the TLS handshake; what follows goes over TLS.
        case startHandshake
        /// No TLS on this connection: go on in plaintext (send the StartupMessage or CancelRequest).
        case proceedInPlaintext
        /// The attempt is over: the reason.
        case fail(String)
    }

    private enum State: Sendable {
        case initial
        case awaitingAnswer
        case handshaking
        case established
        case plaintext
        case failed
    }

    public let attempt: ServerTLSAttempt
    /// The setting as written (`sslmode=require`), for messages.
    private let settingText: String
    private var state = State.initial

    public init(attempt: ServerTLSAttempt, settingText: String = "sslmode") {
        self.attempt = attempt
        self.settingText = settingText
    }

    /// The connection is open.
    public mutating func connected() -> Action {
        guard case .initial = self.state else { return self.fail("connected twice") }
        if self.attempt == .plaintext {
            self.state = .plaintext
            return .proceedInPlaintext
        }
        if self.attempt == .directTLS {
            self.state = .handshaking
            return .startHandshake
        }
        self.state = .awaitingAnswer
        return .sendSSLRequest
    }

    /// Whether the next bytes from the server are the answer to the SSLRequest.
    public var isAwaitingAnswer: Bool {
        if case .awaitingAnswer = self.state { return true }
        return false
    }

    /// The handshake started and has not finished: a failure now is the handshake's.
    public var isHandshaking: Bool {
        if case .handshaking = self.state { return true }
        return false
    }

    /// The handshake is done: the connection is encrypted.
    public var isEstablished: Bool {
        if case .established = self.state { return true }
        return false
    }

    /// The server's first bytes after the SSLRequest (everything one receive gave).
    public mutating func received(_ bytes: ByteBuffer) -> Action {
        guard case .awaitingAnswer = self.state, let answer = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self)
        else { return self.fail("unexpected data from the server") }
        switch answer {
        case UInt8(ascii: "S"):
            // Bytes after the 'S' came before the handshake: a man in the middle's (CVE-2021-23222).
            guard bytes.readableBytes == 1 else {
                return self.fail("the server sent unencrypted data after accepting SSL")
            }
            self.state = .handshaking
            return .startHandshake
        case UInt8(ascii: "N"):
            guard self.attempt == .tlsIfOffered else {
                return self.fail("the server does not support SSL, but \(self.settingText) requires it")
            }
            guard bytes.readableBytes == 1 else { return self.fail("unexpected data after the server refused SSL") }
            self.state = .plaintext
            return .proceedInPlaintext
        case UInt8(ascii: "E"):
            // A server from before SSLRequest existed answers with an ErrorResponse.
            return self.fail("the server answered the SSLRequest with an error (it does not support SSL)")
        default:
            return self.fail("the server answered the SSLRequest with \(answer) (not S or N)")
        }
    }

    /// The shell saw the handshake finish; `negotiatedALPN`: it agreed on ALPN `postgresql`. Returns why the
    /// connection must not go on: direct TLS without that agreement (libpq 17 refuses it too, as it would be
    /// TLS to something that may not be PostgreSQL).
    public mutating func handshakeCompleted(negotiatedALPN: Bool) -> String? {
        guard case .handshaking = self.state else { return nil }
        if self.attempt == .directTLS, !negotiatedALPN {
            self.state = .failed
            return "the server did not agree to ALPN \"postgresql\" on a direct TLS connection"
        }
        self.state = .established
        return nil
    }

    private mutating func fail(_ reason: String) -> Action {
        self.state = .failed
        return .fail(reason)
    }
}
