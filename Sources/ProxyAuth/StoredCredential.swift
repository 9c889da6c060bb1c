/// What `auth.users` holds for one user, classified the way PostgreSQL classifies `rolpassword`.
///
/// - `plain`: a plain-text password. Works with every method; for SCRAM derive a verifier once at config load with
///   ``scramVerifier()``.
/// - `md5`: `"md5"` + 32 hex digits, i.e. `md5(password + username)`. Works for md5; for SCRAM it cannot work (the
///   password is unknown), so ``scramVerifier()`` returns `nil`.
/// - `scram`: a `SCRAM-SHA-256$...` verifier. Works for SCRAM only: ``supportsMD5`` is `false`, and the proxy then
///   asks the client for SCRAM even when `auth.method` is md5, as PostgreSQL does.
public enum StoredCredential: Sendable, Equatable, CustomStringConvertible {
    case plain(String)
    case md5(String)
    case scram(SCRAMVerifier)

    /// Classifies `text`. Unlike PostgreSQL, a value that starts with `SCRAM-SHA-256$` but is not a valid verifier is
    /// an error, not silently a plain-text password: in a config file it is almost certainly a copy-and-paste mistake.
    public init(parsing text: String) throws(AuthError) {
        if MD5Password.isStoredHash(text) {
            self = .md5(text)
        } else if text.hasPrefix(SCRAM.mechanism + "$") {
            guard let verifier = SCRAMVerifier(parsing: text) else {
                throw AuthError(
                    .malformedMessage,
                    "malformed SCRAM-SHA-256 verifier: expected "
                        + "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (as hash-password prints it)"
                )
            }
            self = .scram(verifier)
        } else {
            self = .plain(text)
        }
    }

    /// Whether the md5 method can check a client against this credential.
    public var supportsMD5: Bool {
        if case .scram = self { return false }
        return true
    }

    /// The verifier to use for a SCRAM exchange: the stored one, or for a plain-text password one derived with a
    /// fresh random salt (costly: call it once per user, at config load). `nil` for an md5 hash.
    public func scramVerifier(iterations: Int = SCRAM.defaultIterations) -> SCRAMVerifier? {
        switch self {
        case .plain(let password): return SCRAMVerifier.make(password: password, iterations: iterations)
        case .md5: return nil
        case .scram(let verifier): return verifier
        }
    }

    /// Checks a client's md5 `response` (the PasswordMessage text, `"md5..."`) for `user` and the `salt` the proxy
    /// sent. Always `false` for a SCRAM verifier. The comparison is constant-time.
    public func verifyMD5(response: String, user: String, salt: [UInt8]) -> Bool {
        let expected: String
        switch self {
        case .plain(let password): expected = MD5Password.response(user: user, password: password, salt: salt)
        case .md5(let storedHash): expected = MD5Password.response(storedHash: storedHash, salt: salt)
        case .scram: return false
        }
        return ConstantTime.equals(Array(expected.utf8), Array(response.utf8))
    }

    /// Checks a clear-text `password` (for a future `password` method or an admin tool) against this credential.
    public func verify(password: String, user: String) -> Bool {
        switch self {
        case .plain(let stored):
            return ConstantTime.equals(Array(stored.utf8), Array(password.utf8))
        case .md5(let storedHash):
            let candidate = MD5Password.hash(user: user, password: password)
            return ConstantTime.equals(Array(storedHash.utf8), Array(candidate.utf8))
        case .scram(let verifier):
            let candidate = SCRAMVerifier.make(password: password, salt: verifier.salt, iterations: verifier.iterations)
            return ConstantTime.equals(candidate.storedKey, verifier.storedKey)
                && ConstantTime.equals(candidate.serverKey, verifier.serverKey)
        }
    }

    /// Names the kind only; never shows the secret.
    public var description: String {
        switch self {
        case .plain: return "plain-text password"
        case .md5: return "md5 hash"
        case .scram(let verifier): return verifier.description
        }
    }
}
