import Foundation
import Testing
@testable import ProxyConfig

@Suite struct ProxyConfigurationTests {
    @Test func productExampleParses() throws {
        let config = try ProxyConfiguration.parse(yaml: productExample, environment: productEnvironment)
        #expect(config.listen == [.tcp(HostAndPort(host: "127.0.0.1", port: 6432))])
        #expect(config.metricsListen == HostAndPort(host: "127.0.0.1", port: 9930))
        #expect(config.shutdownTimeout == .seconds(30))
        #expect(config.maxClientConnections == 5000)
        #expect(config.workers == nil, "one per core unless set")
        #expect(config.loginTimeout == .seconds(15))
        #expect(config.logLevel == .info)
        #expect(config.admin == AdminSettings(database: "schemaproxy", users: ["admin"]))
        #expect(config.auth == AuthSettings(method: .scramSHA256, users: ["app": "app-secret", "admin": "adminpw"]))
        #expect(config.services.count == 1)

        let service = try #require(config.services["saju_service"])
        #expect(service.name == "saju_service")
        #expect(service.backend == BackendURL(
            hosts: [HostAndPort(host: "db1", port: 5432), HostAndPort(host: "db2", port: 5432)],
            user: "heal7_app", password: "db-secret", database: "heal7", targetSessionAttrs: .readWrite
        ))
        #expect(service.poolMode == .transaction)
        #expect(service.poolSize == 10)
        #expect(service.minPoolSize == 0)
        #expect(service.checkoutTimeout == .seconds(5))
        #expect(service.serverIdleTimeout == .seconds(600))
        #expect(service.serverLifetime == .seconds(3600))
        #expect(service.idleTransactionTimeout == .zero)
        #expect(service.connectTimeout == .seconds(5))
        #expect(service.serverCheckDelay == .seconds(30))
        #expect(service.maxPreparedStatements == 100)
        #expect(service.healthCheck == HealthCheckSettings(query: "SELECT 1", interval: .seconds(10),
                                                           timeout: .seconds(2)))
        #expect(service.retry == RetrySettings(attempts: 5, initialBackoff: .milliseconds(100),
                                               maxBackoff: .seconds(5)))
        #expect(service.searchPath == .schemas(["saju_service", "shared_common", "public"]))
        #expect(service.schemas == ["shared_common": ["users", "attachments"],
                                    "saju_service": ["saju_charts", "kasi_cache"]])
        #expect(service.normalizedTableSchemas["kasi_cache"] == "saju_service")
    }

    @Test func extraKeysParse() throws {
        let yaml = """
            workers: 4
            login_timeout: 1m30s
            log_level: debug
            auth: {method: md5, users: {a: pw}}
            defaults:
              connect_timeout: 2s
              server_check_delay: 0
              max_prepared_statements: 250
            services:
              s:
                backend: postgresql://u@h/db
                connect_timeout: 700ms
            """
        let config = try ProxyConfiguration.parse(yaml: yaml, environment: [:])
        #expect(config.workers == 4)
        #expect(config.loginTimeout == .seconds(90))
        #expect(config.logLevel == .debug)
        #expect(config.auth.method == .md5)
        let service = try #require(config.services["s"])
        #expect(service.connectTimeout == .milliseconds(700))
        #expect(service.serverCheckDelay == .zero)
        #expect(service.maxPreparedStatements == 250)
    }

    @Test func builtInDefaults() throws {
        let config = try ProxyConfiguration.parse(yaml: minimalConfig, environment: [:])
        #expect(config.listen == [.tcp(HostAndPort(host: "127.0.0.1", port: 6432))])
        #expect(config.metricsListen == nil)
        #expect(config.maxClientConnections == 1000)
        #expect(config.maxPendingLogins == 1000)
        #expect(try ProxyConfiguration.parse(yaml: minimalConfig + "\nmax_pending_logins: 20", environment: [:])
            .maxPendingLogins == 20)
        #expect(config.workers == nil)
        #expect(try ProxyConfiguration.parse(yaml: minimalConfig + "\nworkers: auto", environment: [:]).workers == nil)
        #expect(try ProxyConfiguration.parse(yaml: minimalConfig + "\nworkers: 1", environment: [:]).workers == 1)
    }

    @Test func automaticWorkersKeepFourServerConnectionsPerLoop() throws {
        var config = try ProxyConfiguration.parse(yaml: minimalConfig, environment: [:])
        #expect(config.services["s"]?.poolSize == 20)
        #expect(config.eventLoopCount(coreCount: 2) == 2)
        #expect(config.eventLoopCount(coreCount: 16) == 5, "20 connections, 4 per loop")
        config.services["small"] = ServiceSettings(name: "small", backend: config.services["s"]!.backend, poolSize: 3)
        #expect(config.eventLoopCount(coreCount: 16) == 1, "the smallest pool decides")
        config.workers = 7
        #expect(config.eventLoopCount(coreCount: 2) == 7, "an explicit value wins")
        #expect(config.admin == AdminSettings(database: "schemaproxy", users: []))
        let service = try #require(config.services["s"])
        #expect(service == ServiceSettings(name: "s", backend: BackendURL(hosts: [HostAndPort(host: "h", port: 5432)],
                                                                          user: "u", database: "db")))
        #expect(service.searchPath == .server)
    }

    @Test func servicesInheritDefaultsKeyByKey() throws {
        let yaml = """
            auth: {method: trust}
            defaults:
              pool_mode: session
              pool_size: 7
              health_check: {query: "SELECT 2", interval: 1m}
              retry: {attempts: 3, max_backoff: 10s}
            services:
              a:
                backend: postgresql://u@h/db
              b:
                backend: postgresql://u@h/db
                pool_size: 9
                health_check: {timeout: 3s}
                retry: {initial_backoff: 1s}
            """
        let config = try ProxyConfiguration.parse(yaml: yaml, environment: [:])
        let a = try #require(config.services["a"])
        let b = try #require(config.services["b"])
        #expect(a.poolMode == .session && b.poolMode == .session)
        #expect(a.poolSize == 7 && b.poolSize == 9)
        #expect(a.healthCheck == HealthCheckSettings(query: "SELECT 2", interval: .seconds(60), timeout: .seconds(2)))
        #expect(b.healthCheck == HealthCheckSettings(query: "SELECT 2", interval: .seconds(60), timeout: .seconds(3)))
        #expect(a.retry == RetrySettings(attempts: 3, initialBackoff: .milliseconds(100), maxBackoff: .seconds(10)))
        #expect(b.retry == RetrySettings(attempts: 3, initialBackoff: .seconds(1), maxBackoff: .seconds(10)))
    }

    @Test func environmentSubstitutionInValues() throws {
        let yaml = """
            listen: ${HOST}:${PORT}
            auth:
              method: scram-sha-256
              users:
                app: "${APP_PASSWORD}"
                literal: "pa$$word-$${NOT_A_VAR}"
            services:
              s:
                backend: postgresql://u:${DB_PASSWORD}@h:${DB_PORT:-5432}/db
                pool_size: ${POOL}
            """
        let environment = ["HOST": "0.0.0.0", "PORT": "7000", "APP_PASSWORD": "a: b # c", "DB_PASSWORD": "p@ss/w:rd",
                           "POOL": "3"]
        let config = try ProxyConfiguration.parse(yaml: yaml, environment: environment)
        #expect(config.listen == [.tcp(HostAndPort(host: "0.0.0.0", port: 7000))])
        #expect(config.auth.users["app"] == "a: b # c")
        #expect(config.auth.users["literal"] == "pa$$word-${NOT_A_VAR}")
        let service = try #require(config.services["s"])
        #expect(service.backend.password == "p@ss/w:rd")
        #expect(service.backend.hosts == [HostAndPort(host: "h", port: 5432)])
        #expect(service.poolSize == 3)
    }

    @Test func unsetVariableNamesKeyAndVariable() {
        expectConfigError(productExample, key: "auth.users.app", "APP_PASSWORD", environment: ["DB_PASSWORD": "x"])
        expectConfigError(productExample, key: "services.saju_service.backend", "environment variable DB_PASSWORD",
                          environment: ["APP_PASSWORD": "x"])
        expectConfigError(serviceConfig("pool_size: ${1BAD}"), key: "services.s.pool_size", "not a valid variable")
        expectConfigError(serviceConfig("pool_size: ${OPEN"), key: "services.s.pool_size", "closing")
    }

    @Test func unknownKeysNameTheirPath() {
        expectConfigError(minimalConfig + "\nlisten_address: x", key: "listen_address", "unknown key")
        expectConfigError(serviceConfig("pool_sise: 3"), key: "services.s.pool_sise", "did you mean pool_size?")
        expectConfigError(serviceConfig("health_check: {querry: x}"), key: "services.s.health_check.querry",
                          "unknown key")
        expectConfigError(minimalConfig + "\ndefaults: {retry: {attempt: 3}}", key: "defaults.retry.attempt",
                          "unknown key")
        expectConfigError(minimalConfig + "\ndefaults: {backend: x}", key: "defaults.backend", "unknown key")
        expectConfigError(minimalConfig + "\nadmin: {database: x, user: [a]}", key: "admin.user", "unknown key")
        expectConfigError("auth: {method: trust, extra: 1}\n" + "services: {s: {backend: 'postgresql://u@h'}}",
                          key: "auth.extra", "unknown key")
    }

    @Test func structuralErrors() {
        expectConfigError("", key: "", "empty")
        expectConfigError("listen: [unclosed", key: "", "not valid YAML")
        expectConfigError("- a\n- b", key: "", "mapping")
        expectConfigError("auth: {method: trust}", key: "services", "at least one service")
        expectConfigError("auth: {method: trust}\nservices: {}", key: "services", "at least one service")
        expectConfigError("services: {s: {backend: 'postgresql://u@h'}}", key: "auth", "required")
        expectConfigError("auth: {users: {a: b}}\nservices: {s: {backend: 'postgresql://u@h'}}",
                          key: "auth.method", "required")
        expectConfigError(serviceConfig("pool_size: [1]"), key: "services.s.pool_size", "single value")
        expectConfigError(minimalConfig + "\nlisten: 127.0.0.1:1\nlisten: 127.0.0.1:2", key: "listen", "twice")
        expectConfigError("auth: {method: trust}\nservices:\n  s:\n    pool_size: 3", key: "services.s.backend",
                          "required")
    }

    @Test(arguments: ["metrics_listen:", "metrics_listen: ''", "metrics_listen: \"\"", "metrics_listen: ${METRICS:-}"])
    func emptyMetricsListenMeansNone(line: String) throws {
        let config = try ProxyConfiguration.parse(yaml: minimalConfig + "\n" + line, environment: [:])
        #expect(config.metricsListen == nil)
        let set = try ProxyConfiguration.parse(yaml: minimalConfig + "\n" + line, environment: ["METRICS": "[::1]:9"])
        #expect(set.metricsListen == (line.contains("METRICS") ? HostAndPort(host: "::1", port: 9) : nil))
    }

    @Test func listenAddresses() {
        expectConfigError(minimalConfig + "\nlisten: 127.0.0.1:70000", key: "listen", "out of range")
        expectConfigError(minimalConfig + "\nlisten: 127.0.0.1", key: "listen", "needs a port")
        expectConfigError(minimalConfig + "\nmetrics_listen: host:port", key: "metrics_listen", "not a port")
        expectConfigError(minimalConfig + "\nlisten: ::1:5432", key: "listen", "brackets")
    }

    @Test func numbersAndChoices() {
        expectConfigError(serviceConfig("pool_size: 0"), key: "services.s.pool_size", "must be a positive integer")
        expectConfigError(serviceConfig("pool_size: -3"), key: "services.s.pool_size", "positive integer")
        expectConfigError(serviceConfig("pool_size: 2.5"), key: "services.s.pool_size", "positive integer")
        expectConfigError(serviceConfig("min_pool_size: -1"), key: "services.s.min_pool_size", "at least 0")
        expectConfigError(serviceConfig("pool_size: 2", "min_pool_size: 3"), key: "services.s.min_pool_size",
                          "must not exceed pool_size")
        // min_pool_size from defaults, pool_size from the service: the service is named.
        expectConfigError(minimalConfig + "\n    pool_size: 1\ndefaults: {min_pool_size: 2}",
                          key: "services.s.min_pool_size", "must not exceed pool_size")
        expectConfigError(minimalConfig + "\nmax_client_connections: 0", key: "max_client_connections", "positive")
        expectConfigError(minimalConfig + "\nworkers: 0", key: "workers", "positive")
        expectConfigError(minimalConfig + "\nmax_pending_logins: 0", key: "max_pending_logins", "positive")
        expectConfigError(serviceConfig("max_prepared_statements: 0"), key: "services.s.max_prepared_statements",
                          "positive")
        expectConfigError(serviceConfig("retry: {attempts: 0}"), key: "services.s.retry.attempts", "positive")
        expectConfigError(serviceConfig("pool_mode: statement"), key: "services.s.pool_mode", "transaction | session")
        expectConfigError(minimalConfig + "\nlog_level: verbose", key: "log_level", "trace | debug")
        expectConfigError(serviceConfig("health_check: {query: ''}"), key: "services.s.health_check.query", "empty")
    }

    @Test func durations() {
        expectConfigError(serviceConfig("checkout_timeout: 5"), key: "services.s.checkout_timeout", "not a duration")
        expectConfigError(serviceConfig("checkout_timeout: -5s"), key: "services.s.checkout_timeout", "not a duration")
        expectConfigError(minimalConfig + "\nshutdown_timeout: 5 s", key: "shutdown_timeout", "not a duration")
        expectConfigError(minimalConfig + "\ndefaults: {server_lifetime: 1d}", key: "defaults.server_lifetime",
                          "not a duration")
        expectConfigError(serviceConfig("connect_timeout: 0s"), key: "services.s.connect_timeout", "longer than 0")
        expectConfigError(serviceConfig("health_check: {timeout: 0}"), key: "services.s.health_check.timeout",
                          "longer than 0")
        expectConfigError(serviceConfig("retry: {initial_backoff: 2s, max_backoff: 1s}"),
                          key: "services.s.retry.max_backoff", "initial_backoff")
    }

    @Test func authRules() {
        let service = "\nservices: {s: {backend: 'postgresql://u@h'}}"
        expectConfigError("auth: {method: password}" + service, key: "auth.method", "scram-sha-256 | md5 | trust")
        expectConfigError("auth: {method: md5}" + service, key: "auth.users", "at least one user")
        expectConfigError("auth: {method: md5, users: {a: ''}}" + service, key: "auth.users.a", "empty")
        expectConfigError("auth: {method: md5, users: {a: 'SCRAM-SHA-256$4096:abc'}}" + service,
                          key: "auth.users.a", "malformed SCRAM-SHA-256 verifier")
        expectConfigError("auth: {method: md5, users: {a: x}}\nadmin: {users: [a, b]}" + service,
                          key: "admin.users[1]", "\"b\" is not in auth.users")
        expectConfigError("auth: {method: trust}\nadmin: {database: s}" + service, key: "services.s", "admin.database")
    }

    @Test func authAcceptsEveryStoredFormat() throws {
        let verifier = "SCRAM-SHA-256$4096:YhojMrZZ+ZjyGFdTXOIylw==$T7SqHCaz9yg1nyHN6EFq6BfhovWwbGaWiIOmLbjyz5Q="
            + ":JS1C4kN7XEVpVROPflgdycuyF0ubp40OGJV7VD2DuYw="
        let yaml = """
            auth:
              method: scram-sha-256
              users:
                plain: secret
                hashed: md5d18bf5f8eddaae3aed1d69b23a252748
                verifier: \(verifier)
            admin: {users: [verifier]}
            services: {s: {backend: 'postgresql://u@h'}}
            """
        let config = try ProxyConfiguration.parse(yaml: yaml, environment: [:])
        #expect(config.auth.users == ["plain": "secret", "hashed": "md5d18bf5f8eddaae3aed1d69b23a252748",
                                      "verifier": verifier])
        // With trust, admin users need not be listed.
        let trust = try ProxyConfiguration.parse(yaml: minimalConfig + "\nadmin: {users: [root]}", environment: [:])
        #expect(trust.admin.users == ["root"])
    }

    @Test func schemaMappingRules() throws {
        expectConfigError(serviceConfig("schemas: {a: [users], b: [Users]}"), key: "services.s.schemas.b[0]",
                          "\"Users\" is listed under both schema a (as \"users\") and schema b")
        expectConfigError(serviceConfig("schemas: {a: [USERS, orders], b: [items, users]}"),
                          key: "services.s.schemas.b[1]", "schema a")
        expectConfigError(serviceConfig("schemas: {a: [users, users]}"), key: "services.s.schemas.a[1]", "twice")
        expectConfigError(serviceConfig("schemas: {a: [public.users]}"), key: "services.s.schemas.a[0]",
                          "without the schema")
        expectConfigError(serviceConfig("schemas: {a: ['\"unterminated']}"), key: "services.s.schemas.a[0]",
                          "not a valid")
        expectConfigError(serviceConfig("schemas: {a: [x], A: [y]}"), key: "services.s.schemas.A", "same schema")
        expectConfigError(serviceConfig("schemas: {a: x}"), key: "services.s.schemas.a", "must be a list")
        expectConfigError(serviceConfig("search_path: [ok, 'no good']"), key: "services.s.search_path[1]",
                          "not a valid schema name")

        // A quoted name is exact, so "Users" and users are different tables.
        let config = try ProxyConfiguration.parse(
            yaml: serviceConfig("schemas: {a: ['\"Users\"'], b: [users], c: []}"), environment: [:]
        )
        let service = try #require(config.services["s"])
        #expect(service.schemas == ["a": ["\"Users\""], "b": ["users"], "c": []])
        #expect(service.normalizedTableSchemas == ["Users": "a", "users": "b"])
        // The same table in two different services is fine.
        let two = minimalConfig + "\n    schemas: {a: [users]}\n  t:\n    backend: postgresql://u@h\n"
            + "    schemas: {b: [users]}"
        #expect(try ProxyConfiguration.parse(yaml: two, environment: [:]).services.count == 2)
    }

    @Test func backendErrorsNameTheKey() {
        expectConfigError(serviceConfig().replacingBackend("mysql://u@h/db"), key: "services.s.backend",
                          "postgresql://")
        expectConfigError(serviceConfig().replacingBackend("postgresql://h/db"), key: "services.s.backend", "user")
        expectConfigError(serviceConfig().replacingBackend("postgresql://u@h:99999/db"), key: "services.s.backend",
                          "out of range")
        expectConfigError(serviceConfig().replacingBackend("postgresql://u@h/db?target_session_attrs=master"),
                          key: "services.s.backend", "target_session_attrs")
    }

    @Test func redactionHidesSecrets() throws {
        let config = try ProxyConfiguration.parse(yaml: productExample, environment: productEnvironment)
        let redacted = config.redacted()
        #expect(redacted.auth.users == ["app": "********", "admin": "********"])
        #expect(redacted.services["saju_service"]?.backend.password == "********")
        #expect(redacted.services["saju_service"]?.poolSize == 10)
        let table = config.settingsTable()
        let text = table.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        for secret in ["app-secret", "db-secret", "adminpw"] {
            #expect(!text.contains(secret))
        }
        #expect(text.contains("services.saju_service.backend=postgresql://heal7_app:********@db1:5432,db2:5432/heal7"
                              + "?target_session_attrs=read-write"))
        #expect(text.contains("services.saju_service.retry.initial_backoff=100ms"))
        #expect(text.contains("auth.users=admin, app"))
        #expect(!"\(config.services["saju_service"]!.backend)".contains("db-secret"))
    }

    @Test func loadReadsAFileAndReportsMissingOnes() throws {
        let path = "/tmp/schemaproxy-config-test-\(UInt32.random(in: 0...UInt32.max)).yaml"
        try minimalConfig.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try ProxyConfiguration.load(path: path, environment: [:]).services.keys.sorted() == ["s"])
        let error = #expect(throws: ConfigError.self) {
            try ProxyConfiguration.load(path: path + ".missing", environment: [:])
        }
        #expect(error?.message.contains("cannot read config file") == true)
    }
}

extension String {
    fileprivate func replacingBackend(_ url: String) -> String {
        replacing("postgresql://u@h/db", with: url)
    }
}
