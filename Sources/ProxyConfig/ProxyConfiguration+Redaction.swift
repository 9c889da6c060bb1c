extension ProxyConfiguration {
    /// What replaces a secret in ``redacted()`` and ``settingsTable()``.
    public static let redactionMarker = "********"

    /// A copy with every secret replaced by ``redactionMarker``: `auth.users` credentials, backend passwords and
    /// `sslpassword`s.
    /// Use it for anything that leaves the process (logs, `SHOW CONFIG`).
    public func redacted() -> ProxyConfiguration {
        var copy = self
        for user in copy.auth.users.keys {
            copy.auth.users[user] = Self.redactionMarker
        }
        for name in copy.services.keys where copy.services[name]!.backend.password != nil {
            copy.services[name]!.backend.password = Self.redactionMarker
        }
        for name in copy.services.keys where copy.services[name]!.backend.tls.keyPassword != nil {
            copy.services[name]!.backend.tls.keyPassword = Self.redactionMarker  // sslpassword
        }
        return copy
    }

    /// Every effective setting as (key path, value text), sorted by key, secrets hidden — the rows of `SHOW CONFIG`.
    /// Services list their resolved values (inherited from `defaults` or not) under `services.<name>.`.
    public func settingsTable() -> [(key: String, value: String)] {
        var rows: [(key: String, value: String)] = [
            ("listen", listen.map(\.description).joined(separator: ", ")),
            ("metrics_listen", metricsListen?.description ?? ""),
            ("shutdown_timeout", ConfigDuration.format(shutdownTimeout)),
            ("max_client_connections", String(maxClientConnections)),
            ("max_pending_logins", String(maxPendingLogins)),
            ("workers", workers.map(String.init) ?? "auto"),
            ("login_timeout", ConfigDuration.format(loginTimeout)),
            ("log_level", logLevel.rawValue),
            ("admin.database", admin.database),
            ("admin.users", admin.users.joined(separator: ", ")),
            ("auth.method", auth.method.rawValue),
            ("auth.users", auth.users.keys.sorted().joined(separator: ", ")),
        ]
        for (name, service) in services {
            let prefix = "services.\(name)."
            var serviceRows: [(String, String)] = [
                ("backend", service.backend.description),
                ("pool_mode", service.poolMode.rawValue),
                ("pool_size", String(service.poolSize)),
                ("min_pool_size", String(service.minPoolSize)),
                ("checkout_timeout", ConfigDuration.format(service.checkoutTimeout)),
                ("server_idle_timeout", ConfigDuration.format(service.serverIdleTimeout)),
                ("server_lifetime", ConfigDuration.format(service.serverLifetime)),
                ("idle_transaction_timeout", ConfigDuration.format(service.idleTransactionTimeout)),
                ("connect_timeout", ConfigDuration.format(service.connectTimeout)),
                ("server_check_delay", ConfigDuration.format(service.serverCheckDelay)),
                ("max_prepared_statements", String(service.maxPreparedStatements)),
                ("health_check.query", service.healthCheck.query),
                ("health_check.interval", ConfigDuration.format(service.healthCheck.interval)),
                ("health_check.timeout", ConfigDuration.format(service.healthCheck.timeout)),
                ("retry.attempts", String(service.retry.attempts)),
                ("retry.initial_backoff", ConfigDuration.format(service.retry.initialBackoff)),
                ("retry.max_backoff", ConfigDuration.format(service.retry.maxBackoff)),
                ("search_path", service.searchPath.written),
                ("legacy_schemas", service.legacySchemas.joined(separator: ", ")),
            ]
            for (schema, tables) in service.schemas {
                serviceRows.append(("schemas.\(schema)", tables.joined(separator: ", ")))
            }
            rows += serviceRows.map { (prefix + $0.0, $0.1) }
        }
        return rows.sorted { $0.key < $1.key }
    }
}
