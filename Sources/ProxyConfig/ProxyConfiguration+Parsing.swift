import Yams

extension ProxyConfiguration {
    static let topLevelKeys = [
        "listen", "metrics_listen", "shutdown_timeout", "max_client_connections", "max_pending_logins", "workers",
        "login_timeout",
        "log_level", "admin", "auth", "client_tls", "defaults", "services",
    ]
    static let serviceOnlyKeys = ["backend", "schemas"]

    /// Parses and validates a configuration. The first problem found is thrown, naming its full key path.
    /// `unusedSecrets` names the sections a command does not use: an unset `${NAME}` there is not an error.
    public static func parse(
        yaml: String, environment: [String: String], unusedSecrets: UnusedSecrets = .none
    ) throws(ConfigError) -> ProxyConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(key: "", message: "not valid YAML: \(yamlProblem(error))")
        }
        guard let root, !ConfigReader.isNull(root) else {
            throw ConfigError(key: "", message: "the configuration is empty")
        }
        let reader = ConfigReader(environment: environment)
        let top = try reader.mapping(root, path: "", allowed: topLevelKeys)

        var config = ProxyConfiguration(auth: AuthSettings(method: .trust), services: [:])
        if let node = top["listen"] {
            config.listen = try reader.listenAddresses(node, path: "listen")
        }
        // Empty (also "" or `${METRICS_LISTEN:-}` substituting to nothing) turns the endpoint off, like absent.
        if let node = top["metrics_listen"], !ConfigReader.isNull(node),
           try !reader.string(node, path: "metrics_listen").isEmpty {
            config.metricsListen = try reader.hostAndPort(node, path: "metrics_listen")
        }
        if let node = top["shutdown_timeout"] {
            config.shutdownTimeout = try reader.duration(node, path: "shutdown_timeout")
        }
        if let node = top["max_client_connections"] {
            config.maxClientConnections = try reader.integer(node, path: "max_client_connections", minimum: 1)
        }
        if let node = top["max_pending_logins"] {
            config.maxPendingLogins = try reader.integer(node, path: "max_pending_logins", minimum: 1)
        }
        if let node = top["workers"] {
            config.workers = node.scalar?.string == "auto" ? nil : try reader.integer(node, path: "workers", minimum: 1)
        }
        if let node = top["login_timeout"] {
            config.loginTimeout = try reader.duration(node, path: "login_timeout")
        }
        if let node = top["log_level"] {
            config.logLevel = try reader.choice(node, path: "log_level", as: LogLevel.self)
        }
        var authReader = reader
        if unusedSecrets != .none {
            authReader.unsetPlaceholder = UnusedSecrets.placeholder
        }
        config.auth = try parseAuth(top["auth"], reader: authReader)
        config.admin = try parseAdmin(top["admin"], auth: config.auth, reader: reader)
        config.clientTLS = try parseClientTLS(top["client_tls"], auth: config.auth, reader: reader)

        var inherited = InheritedSettings()
        if let node = top["defaults"] {
            let defaults = try reader.mapping(node, path: "defaults", allowed: InheritedSettings.keys)
            try inherited.apply(defaults, reader: reader)
        }
        guard let servicesNode = top["services"], !ConfigReader.isNull(servicesNode) else {
            throw ConfigError(key: "services", message: "at least one service is needed")
        }
        let services = try reader.mapping(servicesNode, path: "services", allowed: nil)
        guard !services.keys.isEmpty else {
            throw ConfigError(key: "services", message: "at least one service is needed")
        }
        for name in services.keys {
            let path = services.path(name)
            if name == config.admin.database {
                throw ConfigError(
                    key: path,
                    message: "the service name is also admin.database; clients could not reach one of them"
                )
            }
            var serviceReader = reader
            if unusedSecrets == .authAndBackends {
                serviceReader.unsetPlaceholder = UnusedSecrets.placeholder
            }
            config.services[name] = try parseService(
                name: name, node: services[name]!, path: path, inherited: inherited, reader: serviceReader
            )
        }
        return config
    }

    private static func parseAuth(_ node: Node?, reader: ConfigReader) throws(ConfigError) -> AuthSettings {
        guard let node else {
            throw ConfigError(key: "auth", message: "is required (auth.method: scram-sha-256 | md5 | trust)")
        }
        let mapping = try reader.mapping(node, path: "auth", allowed: ["method", "users"])
        guard let methodNode = mapping["method"] else {
            throw ConfigError(key: "auth.method", message: "is required: scram-sha-256 | md5 | trust")
        }
        var auth = AuthSettings(method: try reader.choice(methodNode, path: "auth.method", as: ClientAuthMethod.self))
        if let usersNode = mapping["users"], !ConfigReader.isNull(usersNode) {
            let users = try reader.mapping(usersNode, path: "auth.users", allowed: nil)
            for user in users.keys {
                let path = users.path(user)
                guard !user.isEmpty else { throw ConfigError(key: path, message: "user names must not be empty") }
                let credential = try reader.nonEmptyString(users[user]!, path: path)
                if credential.hasPrefix("SCRAM-SHA-256$"), !looksLikeSCRAMVerifier(credential) {
                    throw ConfigError(
                        key: path,
                        message: "malformed SCRAM-SHA-256 verifier: expected "
                            + "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (as hash-password prints it)"
                    )
                }
                auth.users[user] = credential
            }
        }
        if auth.method != .trust, auth.users.isEmpty {
            throw ConfigError(
                key: "auth.users", message: "at least one user is needed when auth.method is \(auth.method.rawValue)"
            )
        }
        return auth
    }

    /// The verifier's shape, checked here so `schemaproxy check` catches a broken paste (ProxyAuth parses it fully).
    private static func looksLikeSCRAMVerifier(_ text: String) -> Bool {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return false }
        let parameters = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        let keys = parts[2].split(separator: ":", omittingEmptySubsequences: false)
        let base64 = { (part: Substring) in
            !part.isEmpty && part.count % 4 == 0
                && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+/=".contains($0)) }
        }
        return parameters.count == 2 && keys.count == 2 && (Int(parameters[0]) ?? 0) >= 1
            && base64(parameters[1]) && keys[0].count == 44 && base64(keys[0]) && keys[1].count == 44 && base64(keys[1])
    }

    private static func parseAdmin(
        _ node: Node?, auth: AuthSettings, reader: ConfigReader
    ) throws(ConfigError) -> AdminSettings {
        var admin = AdminSettings()
        guard let node, !ConfigReader.isNull(node) else { return admin }
        let mapping = try reader.mapping(node, path: "admin", allowed: ["database", "users"])
        if let value = mapping["database"] {
            admin.database = try reader.nonEmptyString(value, path: "admin.database")
        }
        if let value = mapping["users"] {
            admin.users = try reader.stringList(value, path: "admin.users")
            // With trust any user name logs in, so there is nothing to check against.
            if auth.method != .trust {
                for (index, user) in admin.users.enumerated() where auth.users[user] == nil {
                    throw ConfigError(
                        key: "admin.users[\(index)]",
                        message: "user \"\(user)\" is not in auth.users, so it could never log in"
                    )
                }
            }
        }
        return admin
    }

    private static func parseService(
        name: String, node: Node, path: String, inherited: InheritedSettings, reader: ConfigReader
    ) throws(ConfigError) -> ServiceSettings {
        guard !name.isEmpty else { throw ConfigError(key: path, message: "service names must not be empty") }
        let mapping = try reader.mapping(node, path: path, allowed: serviceOnlyKeys + InheritedSettings.keys)
        var settings = inherited
        try settings.apply(mapping, reader: reader)

        guard let backendNode = mapping["backend"] else {
            throw ConfigError(key: mapping.path("backend"), message: "is required (postgresql://user:password@host/db)")
        }
        let backendPath = mapping.path("backend")
        let backendText = try reader.nonEmptyString(backendNode, path: backendPath)
        let backend: BackendURL
        do {
            backend = try BackendURL.parse(backendText)
        } catch {
            // An unset variable the command does not need (a port, say) may leave a URL that cannot be parsed; the
            // command never connects to it.
            guard let unused = reader.unsetPlaceholder, backendText.contains(unused),
                  let standIn = try? BackendURL.parse(UnusedSecrets.unusedBackend)
            else {
                throw ConfigError(key: backendPath, message: error.message)
            }
            backend = standIn
        }

        if settings.minPoolSize > settings.poolSize {
            throw ConfigError(
                key: mapping.path("min_pool_size"),
                message: "must not exceed pool_size (\(settings.minPoolSize) > \(settings.poolSize))"
            )
        }
        if settings.retry.maxBackoff < settings.retry.initialBackoff {
            throw ConfigError(key: mapping.path("retry.max_backoff"), message: "must be at least retry.initial_backoff")
        }

        var schemas: [String: [String]] = [:]
        var schemaOrder: [String] = []
        if let node = mapping["schemas"], !ConfigReader.isNull(node) {
            (schemas, schemaOrder) = try parseSchemas(node, path: mapping.path("schemas"), reader: reader)
        }

        return ServiceSettings(
            name: name, backend: backend, poolMode: settings.poolMode, poolSize: settings.poolSize,
            minPoolSize: settings.minPoolSize, checkoutTimeout: settings.checkoutTimeout,
            serverIdleTimeout: settings.serverIdleTimeout, serverLifetime: settings.serverLifetime,
            idleTransactionTimeout: settings.idleTransactionTimeout, connectTimeout: settings.connectTimeout,
            serverCheckDelay: settings.serverCheckDelay, healthCheck: settings.healthCheck, retry: settings.retry,
            maxPreparedStatements: settings.maxPreparedStatements, searchPath: settings.searchPath, schemas: schemas,
            schemaOrder: schemaOrder, legacySchemas: settings.legacySchemas
        )
    }

    /// `schemas`: schema -> [table], and the schemas in file order. Names follow PostgreSQL's identifier rules; a
    /// table may be routed to one schema.
    private static func parseSchemas(
        _ node: Node, path: String, reader: ConfigReader
    ) throws(ConfigError) -> (schemas: [String: [String]], order: [String]) {
        let mapping = try reader.mapping(node, path: path, allowed: nil)
        var schemas: [String: [String]] = [:]
        var schemaByFoldedName: [String: String] = [:]
        var owner: [String: (schema: String, written: String)] = [:]
        for schema in mapping.keys {
            let schemaPath = mapping.path(schema)
            guard let foldedSchema = SQLIdentifier.normalize(schema) else {
                throw ConfigError(key: schemaPath, message: "\"\(schema)\" is not a valid schema name")
            }
            if let other = schemaByFoldedName[foldedSchema] {
                throw ConfigError(
                    key: schemaPath, message: "the same schema as \"\(other)\" (names fold to lower case)"
                )
            }
            schemaByFoldedName[foldedSchema] = schema
            let tables = ConfigReader.isNull(mapping[schema]!)
                ? [] : try reader.stringList(mapping[schema]!, path: schemaPath)
            for (index, table) in tables.enumerated() {
                guard let folded = SQLIdentifier.normalize(table) else {
                    throw ConfigError(
                        key: "\(schemaPath)[\(index)]",
                        message: "\"\(table)\" is not a valid unqualified table name"
                            + (table.contains(".") ? " (list it without the schema)" : "")
                    )
                }
                if let previous = owner[folded] {
                    let message = previous.schema == schema
                        ? "table \"\(table)\" is listed twice under schema \(schema)"
                        : "table \"\(table)\" is listed under both schema \(previous.schema)"
                            + " (as \"\(previous.written)\") and schema \(schema);"
                            + " a table can be routed to one schema only"
                    throw ConfigError(key: "\(schemaPath)[\(index)]", message: message)
                }
                owner[folded] = (schema, table)
            }
            schemas[schema] = tables
        }
        return (schemas, mapping.keys)
    }

    /// Yams' error text, without the snippet lines it appends.
    private static func yamlProblem(_ error: any Error) -> String {
        String(describing: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    }
}
