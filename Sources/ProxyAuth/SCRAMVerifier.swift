/// What a server stores instead of a SCRAM-SHA-256 password, in PostgreSQL's `pg_authid.rolpassword` format:
/// `SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>`.
///
/// It is enough to verify a client's proof but not to log in as the user elsewhere, which is why `auth.users` may
/// hold it instead of a plain-text password.
public struct SCRAMVerifier: Sendable, Equatable, CustomStringConvertible {
    public var iterations: Int
    public var salt: [UInt8]
    /// `H(ClientKey)`.
    public var storedKey: [UInt8]
    /// `HMAC(SaltedPassword, "Server Key")`.
    public var serverKey: [UInt8]

    public init(iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Parses PostgreSQL's text form; `nil` unless it is exactly that form with 32-byte keys and iterations >= 1.
    public init?(parsing text: String) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == SCRAM.mechanism else { return nil }
        let parameters = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        let keys = parts[2].split(separator: ":", omittingEmptySubsequences: false)
        guard parameters.count == 2, keys.count == 2,
              parameters[0].allSatisfy(\.isASCII), let iterations = Int(parameters[0]), iterations >= 1,
              let salt = Base64.decode(parameters[1]), !salt.isEmpty,
              let storedKey = Base64.decode(keys[0]), storedKey.count == 32,
              let serverKey = Base64.decode(keys[1]), serverKey.count == 32 else {
            return nil
        }
        self.init(iterations: iterations, salt: salt, storedKey: storedKey, serverKey: serverKey)
    }

    /// Derives the verifier of `password` (the same one PostgreSQL would store for this salt and iteration count).
    public static func make(
        password: String, salt: [UInt8], iterations: Int = SCRAM.defaultIterations
    ) -> SCRAMVerifier {
        let salted = SCRAM.saltedPassword(password: password, salt: salt, iterations: iterations)
        return SCRAMVerifier(
            iterations: iterations,
            salt: salt,
            storedKey: SCRAM.hash(SCRAM.clientKey(saltedPassword: salted)),
            serverKey: SCRAM.serverKey(saltedPassword: salted)
        )
    }

    /// Derives a verifier of `password` with a fresh random 16-byte salt. Call it once per plain-text user at config
    /// load, not per connection: it runs `iterations` HMACs.
    public static func make(password: String, iterations: Int = SCRAM.defaultIterations) -> SCRAMVerifier {
        make(password: password, salt: SCRAM.randomBytes(count: SCRAM.defaultSaltLength), iterations: iterations)
    }

    /// A verifier for a user that does not exist, so the proxy can run the whole exchange and fail only at the proof,
    /// without telling the client whether the user exists (what PostgreSQL calls a mock exchange).
    ///
    /// The salt is derived from `user` and `secret` (a random value the proxy picks once at start), so repeated
    /// attempts for the same name see the same salt; the keys are random, so no proof can match.
    public static func unknownUser(_ user: String, secret: [UInt8]) -> SCRAMVerifier {
        SCRAMVerifier(
            iterations: SCRAM.defaultIterations,
            salt: Array(SCRAM.hmac(key: secret, Array(user.utf8)).prefix(SCRAM.defaultSaltLength)),
            storedKey: SCRAM.randomBytes(count: 32),
            serverKey: SCRAM.randomBytes(count: 32)
        )
    }

    /// PostgreSQL's text form, as `hash-password` prints it and `auth.users` accepts it.
    public var stringValue: String {
        let keys = "\(Base64.encode(storedKey)):\(Base64.encode(serverKey))"
        return "\(SCRAM.mechanism)$\(iterations):\(Base64.encode(salt))$\(keys)"
    }

    /// Shows only the mechanism and iteration count, never the keys (safe for logs).
    public var description: String { "SCRAM-SHA-256 verifier (\(iterations) iterations)" }
}
