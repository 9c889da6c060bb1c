/// One service: a database name clients connect to, the backend it is pooled onto, and its schema mapping.
///
/// Every key of `defaults` is resolved here (the service's own value, else `defaults`, else the built-in default in
/// brackets), so consumers never look at `defaults` themselves. Keys only a service can have: `backend`, `schemas`.
public struct ServiceSettings: Sendable, Equatable {
    /// The key under `services`, which is the database name clients use.
    public var name: String
    /// `backend`: the PostgreSQL server(s) and the credentials for server connections. Required.
    public var backend: BackendURL
    /// `pool_mode` [transaction].
    public var poolMode: PoolMode
    /// `pool_size` [20]: the most server connections the service opens.
    public var poolSize: Int
    /// `min_pool_size` [0]: server connections kept open even when idle; at most `pool_size`.
    public var minPoolSize: Int
    /// `checkout_timeout` [5s]: how long a client may wait for a server connection (`57P03` after). 0 = no limit.
    public var checkoutTimeout: Duration
    /// `server_idle_timeout` [10m]: an idle server connection above `min_pool_size` is closed after it. 0 = never.
    public var serverIdleTimeout: Duration
    /// `server_lifetime` [1h]: a server connection is closed when it goes idle after living this long. 0 = never.
    public var serverLifetime: Duration
    /// `idle_transaction_timeout` [0s]: a client idle inside a transaction this long is disconnected. 0 = off.
    public var idleTransactionTimeout: Duration
    /// `connect_timeout` [5s]: one TCP connect + startup + authentication attempt to the backend. More than 0.
    public var connectTimeout: Duration
    /// `server_check_delay` [30s]: a server connection idle longer than this is health-checked before it is lent.
    /// 0 = check every time.
    public var serverCheckDelay: Duration
    /// `health_check` (query [SELECT 1], interval [10s], timeout [2s]).
    public var healthCheck: HealthCheckSettings
    /// `retry` (attempts [5], initial_backoff [100ms], max_backoff [5s]).
    public var retry: RetrySettings
    /// `max_prepared_statements` [100]: named prepared statements cached per server connection (least recently used
    /// ones are closed beyond it). At least 1.
    public var maxPreparedStatements: Int
    /// `search_path` [the server's own]: a list as written, or `auto`.
    public var searchPath: SearchPathSetting
    /// `legacy_schemas` [none]: schemas whose qualifier is replaced like a missing one for mapped names
    /// (`public.users` is routed like `users`), as written.
    public var legacySchemas: [String]
    /// `schemas`: schema -> table names routed to it, as written (quotes kept). Validated: each name is a valid
    /// identifier and no table (after PostgreSQL's case folding) is listed under two schemas.
    public var schemas: [String: [String]]
    /// The keys of `schemas` in the order the file lists them (`search_path: auto` follows it), schemas that list no
    /// names included.
    public var schemaOrder: [String]

    public init(
        name: String, backend: BackendURL, poolMode: PoolMode = .transaction, poolSize: Int = 20,
        minPoolSize: Int = 0, checkoutTimeout: Duration = .seconds(5), serverIdleTimeout: Duration = .seconds(600),
        serverLifetime: Duration = .seconds(3600), idleTransactionTimeout: Duration = .zero,
        connectTimeout: Duration = .seconds(5), serverCheckDelay: Duration = .seconds(30),
        healthCheck: HealthCheckSettings = HealthCheckSettings(), retry: RetrySettings = RetrySettings(),
        maxPreparedStatements: Int = 100, searchPath: SearchPathSetting = .server, schemas: [String: [String]] = [:],
        schemaOrder: [String]? = nil, legacySchemas: [String] = []
    ) {
        self.name = name
        self.backend = backend
        self.poolMode = poolMode
        self.poolSize = poolSize
        self.minPoolSize = minPoolSize
        self.checkoutTimeout = checkoutTimeout
        self.serverIdleTimeout = serverIdleTimeout
        self.serverLifetime = serverLifetime
        self.idleTransactionTimeout = idleTransactionTimeout
        self.connectTimeout = connectTimeout
        self.serverCheckDelay = serverCheckDelay
        self.healthCheck = healthCheck
        self.retry = retry
        self.maxPreparedStatements = maxPreparedStatements
        self.searchPath = searchPath
        self.schemas = schemas
        // Built in code rather than read from a file, the mapping has no order of its own: sorted, to be stable.
        self.schemaOrder = schemaOrder ?? schemas.keys.sorted()
        self.legacySchemas = legacySchemas
    }

    /// The mapping table with PostgreSQL's identifier rules applied: folded table name -> folded schema name
    /// (`Users` -> `users`, `"Users"` -> `Users`). Valid configurations never have a conflict here.
    public var normalizedTableSchemas: [String: String] {
        var result: [String: String] = [:]
        for (schema, tables) in schemas {
            let folded = SQLIdentifier.normalize(schema) ?? schema
            for table in tables {
                result[SQLIdentifier.normalize(table) ?? table] = folded
            }
        }
        return result
    }
}
