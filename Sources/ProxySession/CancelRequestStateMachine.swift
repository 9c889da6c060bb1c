import NIOCore

/// One CancelRequest to a server, on a connection of its own: TLS as the backend's `sslmode` says (an SSLRequest
/// first, then the handshake, or the handshake at once with `sslnegotiation=direct`, as libpq 17's PQcancelConn),
/// the 16-byte request, then a wait for the server to close the connection, which it does once it has signalled
/// the backend. With `prefer`, a failed handshake is followed by a second connection in plaintext. The whole
/// request is bounded by a timer the shell keeps.
public struct CancelRequestStateMachine: Sendable {
    public enum Action: Sendable, Equatable {
        /// Open a connection to the server (again, for a second attempt), then call `connected()`.
        case connect
        case sendSSLRequest
        /// Start the TLS handshake; call `handshakeCompleted(negotiatedALPN:)` once it is done.
        case startHandshake
        /// Send the CancelRequest (over TLS if the handshake was done), then wait for the server to close.
        case sendCancelRequest
        case wait
        /// Close the connection; the request is over. `failure` says why it did not reach the server, nil when it did.
        case finish(failure: String?)
    }

    private enum State: Sendable {
        case connecting
        case negotiating
        case handshaking
        case awaitingClose
        case finished
    }

    private let policy: ServerTLSPolicy
    private let settingText: String
    private var negotiation: ServerTLSNegotiation
    private var state = State.connecting
    /// A second attempt (prefer falling back to plaintext) happens at most once.
    private var retried = false

    public init(policy: ServerTLSPolicy, overUnixSocket: Bool, settingText: String = "sslmode") {
        self.policy = policy
        self.settingText = settingText
        self.negotiation = ServerTLSNegotiation(attempt: policy.firstAttempt(overUnixSocket: overUnixSocket),
                                                settingText: settingText)
    }

    /// The attempt in progress.
    public var attempt: ServerTLSAttempt { self.negotiation.attempt }

    /// What to do first.
    public func start() -> Action { .connect }

    /// The connection is open.
    public mutating func connected() -> Action {
        guard case .connecting = self.state else { return self.finish("connected twice") }
        return self.run(self.negotiation.connected())
    }

    /// The connection could not be opened.
    public mutating func connectFailed(_ reason: String) -> Action {
        self.finish("cannot connect: \(reason)")
    }

    /// Bytes from the server (decrypted, over TLS).
    public mutating func received(_ bytes: ByteBuffer) -> Action {
        switch self.state {
        case .negotiating: return self.run(self.negotiation.received(bytes))
        case .awaitingClose: return .wait  // the server answers nothing; whatever it is, ignore it
        case .connecting, .handshaking: return self.finish("unexpected data from the server")
        case .finished: return .wait
        }
    }

    public mutating func handshakeCompleted(negotiatedALPN: Bool) -> Action {
        guard case .handshaking = self.state else { return .wait }
        if let failure = self.negotiation.handshakeCompleted(negotiatedALPN: negotiatedALPN) {
            return self.finish(failure)
        }
        self.state = .awaitingClose
        return .sendCancelRequest
    }

    /// The handshake failed (or the server closed the connection during it).
    public mutating func handshakeFailed(_ reason: String) -> Action {
        guard case .handshaking = self.state else { return .wait }
        if !self.retried, let next = self.policy.retry(after: .handshakeFailed, of: self.negotiation.attempt) {
            self.retried = true
            self.negotiation = ServerTLSNegotiation(attempt: next, settingText: self.settingText)
            self.state = .connecting
            return .connect
        }
        return self.finish("TLS handshake failed: \(reason)")
    }

    /// The server closed the connection (or it failed).
    public mutating func closed() -> Action {
        switch self.state {
        case .awaitingClose:
            self.state = .finished
            return .finish(failure: nil)
        case .handshaking:
            return self.handshakeFailed("the server closed the connection")
        case .connecting, .negotiating:
            return self.finish("the server closed the connection before the CancelRequest")
        case .finished:
            return .wait
        }
    }

    /// The shell's timer ran out.
    public mutating func timedOut() -> Action {
        switch self.state {
        case .finished: return .wait
        // The request went out: the server may just be slow to close, the cancel may well have worked.
        case .awaitingClose: return self.finish(nil)
        case .connecting, .negotiating, .handshaking: return self.finish("timed out before the CancelRequest went out")
        }
    }

    private mutating func run(_ action: ServerTLSNegotiation.Action) -> Action {
        switch action {
        case .sendSSLRequest:
            self.state = .negotiating
            return .sendSSLRequest
        case .startHandshake:
            self.state = .handshaking
            return .startHandshake
        case .proceedInPlaintext:
            self.state = .awaitingClose
            return .sendCancelRequest
        case .fail(let reason):
            return self.finish(reason)
        }
    }

    private mutating func finish(_ failure: String?) -> Action {
        self.state = .finished
        return .finish(failure: failure)
    }
}
