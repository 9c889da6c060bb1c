import Testing
@testable import ProxyConfig

/// The PRODUCT.md example, verbatim.
let productExample = """
    listen: 127.0.0.1:6432              # PostgreSQL protocol
    metrics_listen: 127.0.0.1:9930      # HTTP: GET /metrics (Prometheus text 0.0.4), GET /health
    shutdown_timeout: 30s
    max_client_connections: 5000

    admin:
      database: schemaproxy             # virtual database name of the admin console
      users: [admin]                    # which authenticated users may use it

    auth:
      method: scram-sha-256             # scram-sha-256 | md5 | trust — what clients must use
      users:                            # client credentials: plain text, "md5..." or "SCRAM-SHA-256$..." verifiers
        app: ${APP_PASSWORD}
        admin: adminpw

    defaults:                           # every service inherits these unless it overrides them
      pool_mode: transaction            # transaction | session
      pool_size: 20                     # max server connections per service
      min_pool_size: 0
      checkout_timeout: 5s              # how long a client may wait for a server connection
      server_idle_timeout: 10m
      server_lifetime: 1h
      idle_transaction_timeout: 0s      # 0 = off
      health_check:
        query: "SELECT 1"
        interval: 10s
        timeout: 2s
      retry:
        attempts: 5
        initial_backoff: 100ms
        max_backoff: 5s

    services:                           # the client's database name picks the service
      saju_service:
        # libpq-style URL; several hosts = failover candidates; credentials used for server connections
        backend: postgresql://heal7_app:${DB_PASSWORD}@db1:5432,db2:5432/heal7?target_session_attrs=read-write
        pool_size: 10                   # any key of `defaults` may be overridden here
        search_path: [saju_service, shared_common, public]   # optional; absent = the server's own search_path
        schemas:                        # the mapping table: schema -> unqualified table names routed to it
          shared_common: [users, attachments]
          saju_service: [saju_charts, kasi_cache]
    """

let productEnvironment = ["APP_PASSWORD": "app-secret", "DB_PASSWORD": "db-secret"]

/// The smallest valid configuration; tests append or replace lines to break one rule at a time.
let minimalConfig = """
    auth:
      method: trust
    services:
      s:
        backend: postgresql://u@h/db
    """

/// Parses `yaml` and expects it to fail on `key` with a message containing `fragment`.
func expectConfigError(
    _ yaml: String, key: String, _ fragment: String, environment: [String: String] = [:],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        let config = try ProxyConfiguration.parse(yaml: yaml, environment: environment)
        Issue.record("expected an error on \(key), got a configuration with \(config.services.count) services",
                     sourceLocation: sourceLocation)
    } catch {
        #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix(key.isEmpty ? "" : "\(key): "), sourceLocation: sourceLocation)
    }
}

/// A service block `s` with `lines` added under it (each indented for the service mapping).
func serviceConfig(_ lines: String...) -> String {
    minimalConfig + "\n" + lines.map { "    " + $0 }.joined(separator: "\n")
}
