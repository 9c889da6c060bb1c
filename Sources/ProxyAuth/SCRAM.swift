import Crypto

/// The SCRAM-SHA-256 primitives of RFC 5802 / RFC 7677, shared by both sides of the proxy.
///
/// Kept public and separate from the exchanges so that callers can cache the expensive part:
/// ``saltedPassword(password:salt:iterations:)`` runs `iterations` HMACs, everything else is a handful of hashes.
public enum SCRAM {
    /// The SASL mechanism name PostgreSQL advertises in `AuthenticationSASL`.
    public static let mechanism = "SCRAM-SHA-256"

    /// Iteration count PostgreSQL uses by default (`scram_iterations`), and so do we for new verifiers.
    public static let defaultIterations = 4096

    /// Salt length PostgreSQL uses for new verifiers.
    public static let defaultSaltLength = 16

    /// `SaltedPassword := Hi(Normalize(password), salt, i)`: PBKDF2-HMAC-SHA-256 with one 32-byte block.
    ///
    /// The password is prepared with ``SASLprep`` as PostgreSQL does. This is the costly step; cache its result per
    /// (password, salt, iterations) when the same backend credentials are used for many connections.
    public static func saltedPassword(password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        saltedPassword(preparedPassword: SASLprep.prepare(password), salt: salt, iterations: iterations)
    }

    /// `Hi()` over already prepared password bytes.
    public static func saltedPassword(preparedPassword: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        precondition(iterations >= 1, "SCRAM iteration count must be at least 1")
        // The keyed HMAC state is computed once and copied for every iteration (the digest state is copy-on-write).
        let keyed = HMAC<SHA256>(key: SymmetricKey(data: preparedPassword))
        var first = keyed
        first.update(data: salt)
        first.update(data: [0, 0, 0, 1])
        var block = Array(first.finalize())
        var result = block
        if iterations > 1 {
            for _ in 2...iterations {
                var next = keyed
                next.update(data: block)
                block = Array(next.finalize())
                for index in result.indices {
                    result[index] ^= block[index]
                }
            }
        }
        return result
    }

    /// `HMAC(key, message)` with SHA-256.
    public static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// `H(data)` with SHA-256.
    public static func hash(_ data: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: data))
    }

    /// `ClientKey := HMAC(SaltedPassword, "Client Key")`.
    public static func clientKey(saltedPassword: [UInt8]) -> [UInt8] {
        hmac(key: saltedPassword, Array("Client Key".utf8))
    }

    /// `ServerKey := HMAC(SaltedPassword, "Server Key")`.
    public static func serverKey(saltedPassword: [UInt8]) -> [UInt8] {
        hmac(key: saltedPassword, Array("Server Key".utf8))
    }

    /// A fresh nonce: `byteCount` bytes from the system CSPRNG, base64 encoded (printable, never a comma).
    public static func makeNonce(byteCount: Int = 18) -> String {
        Base64.encode(randomBytes(count: byteCount))
    }

    /// `count` bytes from `SystemRandomNumberGenerator` (a CSPRNG on every platform Swift supports).
    public static func randomBytes(count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func xor(_ lhs: [UInt8], _ rhs: [UInt8]) -> [UInt8] {
        zip(lhs, rhs).map { $0 ^ $1 }
    }

    /// A nonce is printable ASCII except `,` (RFC 5802 `printable`).
    static func isValidNonce(_ nonce: Substring) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }
    }
}
