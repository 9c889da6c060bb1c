/// How a service's backend is probed (`health_check`): a query run on a server connection every `interval`,
/// which fails if it takes longer than `timeout`. Results feed `schemaproxy_backend_up`.
public struct HealthCheckSettings: Sendable, Equatable {
    /// [SELECT 1]
    public var query: String
    /// [10s]; 0 turns periodic checks off.
    public var interval: Duration
    /// [2s]; must be more than 0.
    public var timeout: Duration

    public init(query: String = "SELECT 1", interval: Duration = .seconds(10), timeout: Duration = .seconds(2)) {
        self.query = query
        self.interval = interval
        self.timeout = timeout
    }
}
