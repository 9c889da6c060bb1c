/// The proxy's side of a SCRAM-SHA-256 login to a PostgreSQL server, as libpq runs it (RFC 5802, RFC 7677): no
/// channel binding (`n,,`) unless `channelBinding` is given (SCRAM-SHA-256-PLUS, `p=tls-server-end-point`), and, by
/// default, an empty username (PostgreSQL takes the user from the startup message).
///
/// Send ``clientFirstMessage()`` in `SASLInitialResponse`, pass the `AuthenticationSASLContinue` data to
/// ``receiveServerFirst(_:)`` and send what it returns in `SASLResponse`, then check the `AuthenticationSASLFinal`
/// data with ``verifyServerFinal(_:)`` — that last step proves the server knows the password too.
public struct SCRAMClientExchange: Sendable {
    private let password: String
    private let clientNonce: String
    private let username: String
    /// The server signature we expect in the server-final-message, once the client-final was made.
    private var expectedServerSignature: [UInt8]?
    /// The TLS connection's `tls-server-end-point` data when binding (SCRAM-SHA-256-PLUS).
    private let channelBinding: [UInt8]?
    private var gs2Header: String { self.channelBinding == nil ? "n,," : "p=tls-server-end-point,," }

    /// - Parameters:
    ///   - password: the backend password (plain text; SASLprep is applied).
    ///   - clientNonce: the client's nonce; random by default, injectable for tests.
    ///   - username: the `n=` attribute; PostgreSQL ignores it, so libpq (and the proxy) leave it empty.
    ///   - channelBinding: the server certificate's hash (`tls-server-end-point`) to bind to; nil for none.
    public init(password: String, clientNonce: String = SCRAM.makeNonce(), username: String = "",
                channelBinding: [UInt8]? = nil) {
        self.channelBinding = channelBinding
        precondition(SCRAM.isValidNonce(clientNonce[...]), "a SCRAM nonce must be printable ASCII without commas")
        self.password = password
        self.clientNonce = clientNonce
        // RFC 5802 saslname: "=" and "," are escaped as =3D and =2C.
        self.username = username.replacing("=", with: "=3D").replacing(",", with: "=2C")
    }

    /// `n,,n=,r=<client nonce>`.
    public func clientFirstMessage() -> [UInt8] {
        Array("\(gs2Header)\(clientFirstBare)".utf8)
    }

    private var clientFirstBare: String { "n=\(username),r=\(clientNonce)" }

    /// Takes the server-first-message and returns the client-final-message with the proof, computing the salted
    /// password with ``SCRAM/saltedPassword(password:salt:iterations:)``.
    public mutating func receiveServerFirst(_ message: [UInt8]) throws(AuthError) -> [UInt8] {
        let password = self.password
        return try receiveServerFirst(message) { salt, iterations in
            SCRAM.saltedPassword(password: password, salt: salt, iterations: iterations)
        }
    }

    /// Like ``receiveServerFirst(_:)``, but the salted password comes from `saltedPassword(salt, iterations)`, so
    /// the caller can cache it per (password, salt, iterations): it must return
    /// `SCRAM.saltedPassword(password:salt:iterations:)` for this exchange's password.
    public mutating func receiveServerFirst(
        _ message: [UInt8], saltedPassword: (_ salt: [UInt8], _ iterations: Int) -> [UInt8]
    ) throws(AuthError) -> [UInt8] {
        guard expectedServerSignature == nil else {
            throw .malformed("unexpected second SCRAM server-first-message")
        }
        let text = try message.scramText("server-first-message")
        let attributes = try SCRAMAttributes(parsing: text[...], what: "server-first-message")
        if attributes.pairs.first?.name == "m" {
            throw AuthError(.unsupported, "the server requires a SCRAM extension the proxy does not support")
        }
        let nonce = try attributes.require("r", at: 0, in: "server-first-message")
        let saltText = try attributes.require("s", at: 1, in: "server-first-message")
        let iterationText = try attributes.require("i", at: 2, in: "server-first-message")
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count, SCRAM.isValidNonce(nonce) else {
            throw .malformed("the server's SCRAM nonce does not extend the client nonce")
        }
        guard let salt = Base64.decode(saltText), !salt.isEmpty else {
            throw .malformed("malformed SCRAM salt from the server")
        }
        guard iterationText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let iterations = Int(iterationText), iterations >= 1 else {
            throw .malformed("malformed SCRAM iteration count from the server")
        }
        let salted = saltedPassword(salt, iterations)
        let clientKey = SCRAM.clientKey(saltedPassword: salted)
        let withoutProof = "c=\(Base64.encode(Array(gs2Header.utf8) + (channelBinding ?? []))),r=\(nonce)"
        let authMessage = Array("\(clientFirstBare),\(text),\(withoutProof)".utf8)
        let clientSignature = SCRAM.hmac(key: SCRAM.hash(clientKey), authMessage)
        let proof = SCRAM.xor(clientKey, clientSignature)
        expectedServerSignature = SCRAM.hmac(key: SCRAM.serverKey(saltedPassword: salted), authMessage)
        return Array("\(withoutProof),p=\(Base64.encode(proof))".utf8)
    }

    /// Checks the server-final-message: `v=<signature>` must match, `e=<error>` is the server refusing us.
    public func verifyServerFinal(_ message: [UInt8]) throws(AuthError) {
        guard let expectedServerSignature else {
            throw .malformed("unexpected SCRAM server-final-message before the client-final-message")
        }
        let text = try message.scramText("server-final-message")
        let attributes = try SCRAMAttributes(parsing: text[...], what: "server-final-message")
        guard let first = attributes.pairs.first else {
            throw .malformed("empty SCRAM server-final-message")
        }
        switch first.name {
        case "e":
            throw AuthError(.serverError, "the server rejected the SCRAM exchange: \(first.value)")
        case "v":
            guard let signature = Base64.decode(first.value),
                  ConstantTime.equals(signature, expectedServerSignature) else {
                throw AuthError(
                    .invalidCredentials, "the server's SCRAM signature is wrong: it does not know the password"
                )
            }
        default:
            throw .malformed("malformed SCRAM server-final-message: expected v= or e=")
        }
    }
}
