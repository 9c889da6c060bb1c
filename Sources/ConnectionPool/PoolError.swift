/// Why a waiting client did not get a server connection.
public enum PoolError: Error, Sendable, Equatable {
    /// `checkout_timeout` ran out while the client waited.
    case checkoutTimeout
    /// Connecting to the backend failed `attempts` times in a row.
    case backendUnavailable(attempts: Int, lastError: String)
    /// The pool is shutting down or its service was removed.
    case poolClosed
}
