/// The knobs of one service's pool, in the units the state machine works with (nanoseconds of a
/// monotonic clock). Zero for a timeout means "off".
public struct PoolConfiguration: Sendable, Equatable {
    public var maxConnections: Int
    public var minConnections: Int
    public var checkoutTimeout: UInt64
    public var idleTimeout: UInt64
    public var maxLifetime: UInt64
    public var retryAttempts: Int
    public var initialBackoff: UInt64
    public var maxBackoff: UInt64
    /// `server_check_delay`: an idle connection lent after sitting idle this long is checked first (0 = every
    /// time). nil = never checked.
    public var checkDelay: UInt64?

    public init(
        maxConnections: Int, minConnections: Int = 0, checkoutTimeout: UInt64 = 5_000_000_000,
        idleTimeout: UInt64 = 600_000_000_000, maxLifetime: UInt64 = 3_600_000_000_000,
        retryAttempts: Int = 5, initialBackoff: UInt64 = 100_000_000, maxBackoff: UInt64 = 5_000_000_000,
        checkDelay: UInt64? = nil
    ) {
        self.maxConnections = maxConnections
        self.minConnections = minConnections
        self.checkoutTimeout = checkoutTimeout
        self.idleTimeout = idleTimeout
        self.maxLifetime = maxLifetime
        self.retryAttempts = retryAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.checkDelay = checkDelay
    }
}
