import ProxyAuth

/// One entry of `auth.users`, prepared once at config load: deriving a SCRAM verifier from a plain-text
/// password costs thousands of HMAC rounds, too much to repeat at every login.
public struct UserCredential: Sendable, Equatable {
    public var stored: StoredCredential
    /// nil when the stored secret is an md5 hash (md5 logins only).
    public var scramVerifier: SCRAMVerifier?

    public init(stored: StoredCredential) {
        self.stored = stored
        self.scramVerifier = stored.scramVerifier()
    }
}
