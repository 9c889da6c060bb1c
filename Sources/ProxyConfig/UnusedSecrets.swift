/// Which parts of the config a command does not use, so that an unset `${NAME}` in them does not stop it
/// (`schemaproxy rewrite` never authenticates a client nor connects to a backend).
public enum UnusedSecrets: Sendable, Equatable {
    /// Every value is needed (running the proxy, `check`).
    case none
    /// The client credentials under `auth` are not used (`mapping discover`).
    case auth
    /// Neither `auth` nor the services' `backend` URLs are used (`rewrite`).
    case authAndBackends

    /// What an unset variable reads as in an unused section: no password a client could send matches it.
    static let placeholder = "\u{1}unset\u{1}"
    /// The backend a service gets when its URL is unusable because of such a variable; never connected to.
    static let unusedBackend = "postgresql://unset@unset.invalid/unset"
}
