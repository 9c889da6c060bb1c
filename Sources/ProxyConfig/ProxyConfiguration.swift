import Foundation

/// The whole proxy configuration, read from the YAML file described in PRODUCT.md and conf/README.md.
///
/// Top-level keys and their defaults (in brackets): `listen` [127.0.0.1:6432], `metrics_listen` [none: no metrics
/// endpoint], `shutdown_timeout` [30s], `max_client_connections` [1000],
/// `max_pending_logins` [1000], `workers` [auto] (event-loop threads, see ``eventLoopCount(coreCount:)``),
/// `login_timeout` [15s] (a client must finish startup and authentication within it; 0 = no limit), `log_level`
/// [info], `admin`, `auth` (required), `defaults`, `services` (required, at least one). Services inherit every
/// `defaults` key they do not set; see ``ServiceSettings``.
///
/// Values are fully validated by ``parse(yaml:environment:)``; a configuration that exists is usable.
public struct ProxyConfiguration: Sendable, Equatable {
    /// `listen`: where clients connect (PostgreSQL protocol): TCP addresses (port 0 picks a free port) and socket
    /// directories, one or a list.
    public var listen: [ListenAddress]
    /// `metrics_listen`: HTTP `GET /metrics` and `GET /health`; `nil` when not configured.
    public var metricsListen: HostAndPort?
    /// `shutdown_timeout`: how long SIGTERM waits for open transactions. 0 = do not wait.
    public var shutdownTimeout: Duration
    /// `max_client_connections`: more clients are refused with `53300`.
    public var maxClientConnections: Int
    /// `max_pending_logins`: connections still in startup or authentication; more are refused with `53300` at once,
    /// before they cost more than a socket. Separate from `max_client_connections`, which counts logged-in clients.
    public var maxPendingLogins: Int
    /// `workers`: event-loop threads; nil (`auto`, the default) lets ``eventLoopCount(coreCount:)`` choose.
    public var workers: Int?

    /// Server connections each event loop should have of every service's pool under `workers: auto`. A server
    /// connection is only lent to clients of its own loop; a pool split too thin makes the loops trade connections
    /// (each trade a backend start) or leaves one loop's clients queueing behind a single connection.
    public static let serverConnectionsPerLoop = 4

    /// The event-loop threads to run: `workers` when set; otherwise one per core, but no more than the smallest
    /// pool gives `serverConnectionsPerLoop` connections each (at least one).
    public func eventLoopCount(coreCount: Int) -> Int {
        if let workers { return workers }
        let smallestPool = self.services.values.map(\.poolSize).min() ?? 1
        return max(1, min(coreCount, smallestPool / Self.serverConnectionsPerLoop))
    }
    /// `login_timeout`: limit for a client's startup and authentication. 0 = no limit.
    public var loginTimeout: Duration
    /// `log_level`.
    public var logLevel: LogLevel
    /// `admin`.
    public var admin: AdminSettings
    /// `auth`.
    public var auth: AuthSettings
    /// `client_tls` [mode disable].
    public var clientTLS = ClientTLSSettings()
    /// `services`, by name (= the database name clients connect to).
    public var services: [String: ServiceSettings]

    public init(
        listen: [ListenAddress] = [.tcp(HostAndPort(host: "127.0.0.1", port: 6432))], metricsListen: HostAndPort? = nil,
        shutdownTimeout: Duration = .seconds(30), maxClientConnections: Int = 1000, maxPendingLogins: Int = 1000,
        workers: Int? = nil,
        loginTimeout: Duration = .seconds(15), logLevel: LogLevel = .info, admin: AdminSettings = AdminSettings(),
        auth: AuthSettings, services: [String: ServiceSettings]
    ) {
        self.listen = listen
        self.metricsListen = metricsListen
        self.shutdownTimeout = shutdownTimeout
        self.maxClientConnections = maxClientConnections
        self.maxPendingLogins = maxPendingLogins
        self.workers = workers
        self.loginTimeout = loginTimeout
        self.logLevel = logLevel
        self.admin = admin
        self.auth = auth
        self.services = services
    }

    /// Reads and validates the file at `path`. `${NAME}` references are resolved from `environment`.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        unusedSecrets: UnusedSecrets = .none
    ) throws(ConfigError) -> ProxyConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError(key: "", message: "cannot read config file \(path): \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(key: "", message: "config file \(path) is not UTF-8 text")
        }
        return try parse(yaml: text, environment: environment, unusedSecrets: unusedSecrets)
    }
}
