/// Why an authentication exchange failed.
///
/// The proxy maps every `AuthError` to SQLSTATE `28P01` (wrong password) or `08P01` (malformed exchange) at its
/// edge; `kind` tells which, `message` says what happened in words a user or operator can act on. Messages never
/// contain a password, a proof or a key.
public struct AuthError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The broad reason, so the caller can pick a SQLSTATE without reading the message.
    public enum Kind: Sendable, Equatable {
        /// The peer proved it does not know the password (client proof or server signature mismatch).
        case invalidCredentials
        /// The peer sent a message that does not follow the SCRAM / md5 grammar, or out of order.
        case malformedMessage
        /// The peer asked for something the proxy does not do (channel binding, authzid, unknown mechanism).
        case unsupported
        /// The server side reported an error of its own (SCRAM `e=` attribute).
        case serverError
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func malformed(_ message: String) -> AuthError { AuthError(.malformedMessage, message) }
}
