/// How clients must prove who they are (`auth.method`).
public enum ClientAuthMethod: String, Sendable, Equatable, CaseIterable {
    /// SASL SCRAM-SHA-256; works with plain-text passwords and SCRAM verifiers in `auth.users`.
    case scramSHA256 = "scram-sha-256"
    /// md5; works with plain-text passwords and md5 hashes. A user stored as a SCRAM verifier is asked for SCRAM
    /// instead, as PostgreSQL does.
    case md5
    /// No password: any user name is accepted. For local development only.
    case trust
    /// A client certificate checked against `client_tls.ca_file` (`client_tls.mode: verify-full`); its CN must be
    /// the user name.
    case cert
}
