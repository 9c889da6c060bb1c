/// Makes the values `schemaproxy hash-password` prints for `auth.users`, so plain-text passwords need not be stored.
public enum PasswordHasher {
    /// The stored formats `hash-password` can produce; raw values are the CLI's `--method` spellings.
    public enum Method: String, Sendable, CaseIterable {
        case scramSHA256 = "scram-sha-256"
        case md5
    }

    /// The stored form of `password`: a `SCRAM-SHA-256$...` verifier (random 16-byte salt, `iterations`) or an
    /// `md5...` hash, which depends on the user name and so needs `user`.
    public static func hash(
        password: String, method: Method, user: String? = nil, iterations: Int = SCRAM.defaultIterations
    ) throws(AuthError) -> String {
        switch method {
        case .scramSHA256:
            guard iterations >= 1 else {
                throw AuthError(.unsupported, "the SCRAM iteration count must be at least 1")
            }
            return SCRAMVerifier.make(password: password, iterations: iterations).stringValue
        case .md5:
            guard let user, !user.isEmpty else {
                throw AuthError(.unsupported, "an md5 hash depends on the user name: pass --user NAME")
            }
            return MD5Password.hash(user: user, password: password)
        }
    }
}
