/// When a server connection goes back to the pool (`pool_mode`).
public enum PoolMode: String, Sendable, Equatable, CaseIterable {
    /// Lent for one transaction; the default, and what makes a small pool serve many clients.
    case transaction
    /// Lent for the whole client session and cleaned before reuse.
    case session
}
