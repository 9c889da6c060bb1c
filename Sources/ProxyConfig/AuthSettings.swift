/// How clients authenticate to the proxy (`auth`).
public struct AuthSettings: Sendable, Equatable {
    public var method: ClientAuthMethod
    /// User name -> stored credential, exactly as written (after `${...}` substitution): a plain-text password,
    /// an `md5...` hash, or a `SCRAM-SHA-256$...` verifier. ProxyAuth's `StoredCredential(parsing:)` classifies it.
    public var users: [String: String]

    public init(method: ClientAuthMethod, users: [String: String] = [:]) {
        self.method = method
        self.users = users
    }
}
