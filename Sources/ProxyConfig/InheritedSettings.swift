import Yams

/// The keys a service inherits from `defaults`, with their built-in defaults. Reading a mapping over a copy of it
/// applies only the keys that mapping sets, which is what makes `defaults` (and nested `health_check`/`retry`)
/// merge key by key.
struct InheritedSettings: Equatable {
    static let keys = [
        "pool_mode", "pool_size", "min_pool_size", "checkout_timeout", "server_idle_timeout", "server_lifetime",
        "idle_transaction_timeout", "connect_timeout", "server_check_delay", "health_check", "retry",
        "max_prepared_statements", "legacy_schemas", "search_path",
    ]

    var poolMode = PoolMode.transaction
    var poolSize = 20
    var minPoolSize = 0
    var checkoutTimeout = Duration.seconds(5)
    var serverIdleTimeout = Duration.seconds(600)
    var serverLifetime = Duration.seconds(3600)
    var idleTransactionTimeout = Duration.zero
    var connectTimeout = Duration.seconds(5)
    var serverCheckDelay = Duration.seconds(30)
    var healthCheck = HealthCheckSettings()
    var retry = RetrySettings()
    var maxPreparedStatements = 100
    var legacySchemas: [String] = []
    var searchPath = SearchPathSetting.server

    /// Overrides the fields `mapping` sets. Per-value checks happen here; cross-key checks (min_pool_size <=
    /// pool_size, backoffs) happen once per service, after merging.
    mutating func apply(_ mapping: ConfigReader.Mapping, reader: ConfigReader) throws(ConfigError) {
        for key in mapping.keys {
            let node = mapping[key]!
            let path = mapping.path(key)
            switch key {
            case "pool_mode": poolMode = try reader.choice(node, path: path, as: PoolMode.self)
            case "pool_size": poolSize = try reader.integer(node, path: path, minimum: 1)
            case "min_pool_size": minPoolSize = try reader.integer(node, path: path, minimum: 0)
            case "checkout_timeout": checkoutTimeout = try reader.duration(node, path: path)
            case "server_idle_timeout": serverIdleTimeout = try reader.duration(node, path: path)
            case "server_lifetime": serverLifetime = try reader.duration(node, path: path)
            case "idle_transaction_timeout": idleTransactionTimeout = try reader.duration(node, path: path)
            case "connect_timeout": connectTimeout = try reader.duration(node, path: path, allowZero: false)
            case "server_check_delay": serverCheckDelay = try reader.duration(node, path: path)
            case "max_prepared_statements": maxPreparedStatements = try reader.integer(node, path: path, minimum: 1)
            case "legacy_schemas":
                let list = ConfigReader.isNull(node) ? [] : try reader.stringList(node, path: path)
                for (index, schema) in list.enumerated() where SQLIdentifier.normalize(schema) == nil {
                    throw ConfigError(key: "\(path)[\(index)]", message: "\"\(schema)\" is not a valid schema name")
                }
                legacySchemas = list
            case "search_path": searchPath = try Self.searchPath(node, path: path, reader: reader)
            case "health_check":
                let nested = try reader.mapping(node, path: path, allowed: ["query", "interval", "timeout"])
                if let value = nested["query"] {
                    healthCheck.query = try reader.nonEmptyString(value, path: nested.path("query"))
                }
                if let value = nested["interval"] {
                    healthCheck.interval = try reader.duration(value, path: nested.path("interval"))
                }
                if let value = nested["timeout"] {
                    healthCheck.timeout = try reader.duration(value, path: nested.path("timeout"), allowZero: false)
                }
            case "retry":
                let allowed = ["attempts", "initial_backoff", "max_backoff"]
                let nested = try reader.mapping(node, path: path, allowed: allowed)
                if let value = nested["attempts"] {
                    retry.attempts = try reader.integer(value, path: nested.path("attempts"), minimum: 1)
                }
                if let value = nested["initial_backoff"] {
                    retry.initialBackoff = try reader.duration(value, path: nested.path("initial_backoff"))
                }
                if let value = nested["max_backoff"] {
                    retry.maxBackoff = try reader.duration(value, path: nested.path("max_backoff"))
                }
            default:
                break  // not an inherited key; the caller handles it
            }
        }
    }

    /// `search_path`: a list of schema names, `auto`, or null (the server's own; a service overrides a default so).
    private static func searchPath(
        _ node: Node, path: String, reader: ConfigReader
    ) throws(ConfigError) -> SearchPathSetting {
        if ConfigReader.isNull(node) { return .server }
        guard case .sequence = node else {
            let text = try reader.string(node, path: path)
            guard text == "auto" else {
                throw ConfigError(
                    key: path, message: "must be a list of schema names, like [a, b, public], or auto, not \"\(text)\""
                )
            }
            return .auto
        }
        let list = try reader.stringList(node, path: path)
        for (index, schema) in list.enumerated() where SQLIdentifier.normalize(schema) == nil {
            throw ConfigError(key: "\(path)[\(index)]", message: "\"\(schema)\" is not a valid schema name")
        }
        return .schemas(list)
    }
}
