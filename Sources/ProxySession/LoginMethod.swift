/// How clients must prove who they are (`auth.method`).
public enum LoginMethod: String, Sendable {
    case trust
    case md5
    case scramSHA256 = "scram-sha-256"
    /// The client certificate's CN is the user (checked against the CA during the TLS handshake).
    case cert
}
