/// Counts derived from the pool's state, for metrics and the admin console.
public struct PoolStatistics: Sendable, Equatable {
    public var idle: Int
    public var leased: Int
    public var connecting: Int
    public var closing: Int
    public var waiting: Int
    public var consecutiveConnectFailures: Int
    /// Places taken by health probes' own short-lived connections.
    public var probing: Int = 0

    public var total: Int { self.idle + self.leased + self.connecting + self.closing + self.probing }
}
