import ConnectionPool
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ProxyConfig
import ProxySession
import SchemaRouting

/// One service (a virtual database name clients connect to): its settings, its pool of server
/// connections, its schema rewriter and the server parameters reported to its clients.
/// Settings change in place on reload; clients keep their connections.
final class Service: @unchecked Sendable {
    let name: String
    let logger: Logger
    let metrics: ServiceMetrics
    /// Shared by every rewriter the service gets over reloads, so counts survive a mapping change.
    let rewriteStatistics = RewriteStatistics()
    /// The unqualified table names the rewriter left alone because the mapping does not name them (SHOW UNMAPPED,
    /// `schemaproxy_unmapped_references_total`); kept across reloads like the statistics.
    let unmappedReport = UnmappedNameReport()
    /// Proxy-side numbers of the clients' named prepared statements (transaction pooling).
    let statementCatalog = PreparedStatementCatalog()
    private(set) var pool: ServicePool!
    private(set) var prober: HealthProber!
    /// LISTEN/NOTIFY for transaction-pooling clients: the listener connection and who listens on what.
    private(set) var notifications: NotificationHub!

    private let lock = NIOLock()
    private var _settings: ServiceSettings
    private var _rewriter: SchemaRewriter?
    private var _mapping: SchemaMapping
    private var _serverParameters: [ServerParameter]?
    /// `search_path: auto`: the server's own search_path as learnt from the backend in `_settings` (nil until a pool
    /// connection learnt it, and again after a reload changes the backend).
    private var _serverSearchPath: String?
    /// A pool connection is learning `_serverSearchPath` now; `searchPathWaiters` go on when it is done.
    private var searchPathLearner = false
    private var searchPathWaiters: [@Sendable () -> Void] = []
    private var _isPaused = false
    private var _isRemoved = false
    /// A removed service whose clients are gone: its pool is closing and it cannot come back.
    private var _isRetired = false
    private var clients: [ObjectIdentifier: ClientConnectionHandler] = [:]
    private var settingsRegistry: [[String: String]: SessionSettings] = [:]

    init(settings: ServiceSettings, mapping: SchemaMapping, loops: [RelayLoop], metrics: ServiceMetrics, logger: Logger) {
        self.name = settings.name
        self._settings = settings
        self._mapping = mapping
        self.metrics = metrics
        self._rewriter = mapping.isEmpty ? nil : SchemaRewriter(mapping: mapping, statistics: self.rewriteStatistics, unmappedReport: self.unmappedReport)
        self.logger = logger
        self.pool = ServicePool(service: self, configuration: Self.poolConfiguration(settings), loops: loops, logger: logger)
        self.prober = HealthProber(service: self, settings: settings, eventLoop: loops[0], loopIndex: 0)
        self.notifications = NotificationHub(service: self, eventLoop: loops[0])
    }

    static func poolConfiguration(_ settings: ServiceSettings) -> PoolConfiguration {
        PoolConfiguration(
            maxConnections: settings.poolSize, minConnections: settings.minPoolSize,
            checkoutTimeout: settings.checkoutTimeout.nanoseconds, idleTimeout: settings.serverIdleTimeout.nanoseconds,
            maxLifetime: settings.serverLifetime.nanoseconds, retryAttempts: settings.retry.attempts,
            initialBackoff: settings.retry.initialBackoff.nanoseconds, maxBackoff: settings.retry.maxBackoff.nanoseconds,
            checkDelay: settings.serverCheckDelay.nanoseconds
        )
    }

    var settings: ServiceSettings { self.lock.withLock { self._settings } }
    var poolMode: PoolMode { self.lock.withLock { self._settings.poolMode } }
    var mapping: SchemaMapping { self.lock.withLock { self._mapping } }

    /// The rewriter for the next statement; nil when the service maps no tables.
    var activeRewriter: SchemaRewriter? { self.lock.withLock { self._rewriter } }

    /// What a new server connection logs in with: the backend, and the search_path for its startup packet. Read
    /// together, so a reload cannot pair a new backend with a search_path learnt from the old one.
    var startupSettings: (backend: BackendURL, searchPath: StartupSearchPath) {
        self.lock.withLock { (self._settings.backend, Self.startupSearchPath(self._settings, self._serverSearchPath)) }
    }

    private static func startupSearchPath(_ settings: ServiceSettings, _ serverDefault: String?) -> StartupSearchPath {
        StartupSearchPath.resolve(settings.searchPath, schemaOrder: settings.schemaOrder, serverDefault: serverDefault)
    }

    /// A pool connection learnt the server's own search_path from `backend`; kept unless a reload changed the
    /// backend meanwhile (then the next connection learns it again).
    func learntServerSearchPath(_ value: String, from backend: BackendURL) {
        let first = self.lock.withLock { () -> Bool in
            guard self._settings.backend == backend, self._serverSearchPath != value else { return false }
            self._serverSearchPath = value
            return true
        }
        if first {
            self.logger.info("learnt the server's search_path", metadata: [
                "service": "\(self.name)", "server_search_path": "\(value)",
            ])
        }
    }

    enum SearchPathLearning { case proceed, learn, wait }

    /// Before a pool connection opens: `.proceed` when no search_path needs learning, `.learn` when this connection
    /// is to learn the server's own (no other is learning it), `.wait` when another one is: `resume` then runs once it
    /// is done, learnt or failed.
    func joinSearchPathLearning(resume: @escaping @Sendable () -> Void) -> SearchPathLearning {
        self.lock.withLock {
            guard Self.startupSearchPath(self._settings, self._serverSearchPath) == .learnServerDefault else {
                return .proceed
            }
            guard self.searchPathLearner else {
                self.searchPathLearner = true
                return .learn
            }
            self.searchPathWaiters.append(resume)
            return .wait
        }
    }

    /// The learning connection logged in (having learnt the value) or failed: the waiting ones go on.
    func searchPathLearningEnded() {
        let waiters = self.lock.withLock { () -> [@Sendable () -> Void] in
            self.searchPathLearner = false
            defer { self.searchPathWaiters = [] }
            return self.searchPathWaiters
        }
        for resume in waiters { resume() }
    }

    /// `search_path` for SHOW SERVICES: as configured, and for `auto` what it became once the server's is known.
    var searchPathDescription: String? {
        self.lock.withLock {
            let auto = self._settings.searchPath == .auto
            switch Self.startupSearchPath(self._settings, self._serverSearchPath) {
            case .serverDefault: return auto ? "auto" : nil
            case .learnServerDefault: return "auto"
            case .value(let value): return auto ? "auto: \(value)" : value
            }
        }
    }

    var serverParameters: [ServerParameter]? {
        get { self.lock.withLock { self._serverParameters } }
        set { self.lock.withLock { self._serverParameters = newValue } }
    }

    // MARK: Clients

    func clientAttached(_ client: ClientConnectionHandler) {
        let isNew = self.lock.withLock { self.clients.updateValue(client, forKey: ObjectIdentifier(client)) == nil }
        if isNew { self.pool.clientJoined(loop: client.loopIndex) }
    }

    func clientDetached(_ client: ClientConnectionHandler) {
        let wasThere = self.lock.withLock { self.clients.removeValue(forKey: ObjectIdentifier(client)) != nil }
        if wasThere { self.pool.clientLeft(loop: client.loopIndex) }
    }

    var connectedClients: [ClientConnectionHandler] { self.lock.withLock { Array(self.clients.values) } }

    /// A client's startup settings, shared with the earlier clients that had the same (see `SessionSettings`).
    func canonicalSettings(_ settings: SessionSettings) -> SessionSettings {
        self.lock.withLock { settings.canonical(in: &self.settingsRegistry) }
    }

    // MARK: Reload

    /// Applies new settings in place: pool limits and timeouts now, the mapping from the next statement,
    /// a changed backend by retiring the old server connections as they go idle.
    func update(_ settings: ServiceSettings, mapping: SchemaMapping) -> [String] {
        var changes: [String] = []
        let old = self.settings
        let searchPathChanged = self.lock.withLock { () -> Bool in
            let before = Self.startupSearchPath(self._settings, self._serverSearchPath)
            // The server's own search_path belongs to the backend (its role, database, server) it was learnt from.
            if settings.backend != self._settings.backend { self._serverSearchPath = nil }
            self._settings = settings
            if mapping != self._mapping {
                self._mapping = mapping
                self._rewriter = mapping.isEmpty ? nil : SchemaRewriter(mapping: mapping, statistics: self.rewriteStatistics, unmappedReport: self.unmappedReport)
                changes.append("mapping")
            }
            return Self.startupSearchPath(settings, self._serverSearchPath) != before
        }
        if old.backend != settings.backend || searchPathChanged {
            self.pool.retireAllConnections()
            if old.backend != settings.backend { self.notifications.backendChanged() }
            self.serverParameters = nil
            changes.append(old.backend != settings.backend ? "backend" : "search_path")
        }
        if Self.poolConfiguration(old) != Self.poolConfiguration(settings) {
            self.pool.updateConfiguration(Self.poolConfiguration(settings))
            changes.append("pool")
        }
        if old.poolMode != settings.poolMode { changes.append("pool_mode (new clients)") }
        if old.backend.hosts != settings.backend.hosts || old.healthCheck != settings.healthCheck {
            changes.append("health_check")
        }
        self.prober.update(settings)
        return changes
    }

    /// The service left the config: new clients are refused, connected ones finish, then the pool closes.
    func markRemoved() {
        self.lock.withLock { self._isRemoved = true }
        self.prober.stop()
    }

    /// A reload brought a removed service back while its clients are still connected: it stays, with its
    /// pool and metrics. False when it was already retired (`retireIfUnused`); then a new service is needed.
    func revive() -> Bool {
        let revived = self.lock.withLock { () -> Bool in
            guard !self._isRetired else { return false }
            self._isRemoved = false
            return true
        }
        if revived { self.prober.resume() }
        return revived
    }

    /// True once for a removed service without clients: the caller closes its pool. Decided under the lock
    /// so a concurrent `revive` either wins (the service stays) or sees it retired.
    func retireIfUnused() -> Bool {
        self.lock.withLock {
            guard self._isRemoved, !self._isRetired, self.clients.isEmpty else { return false }
            self._isRetired = true
            return true
        }
    }

    var isRetired: Bool { self.lock.withLock { self._isRetired } }

    var isRemoved: Bool { self.lock.withLock { self._isRemoved } }

    var isPaused: Bool { self.lock.withLock { self._isPaused } }
    private var heldClients: [ClientConnectionHandler] = []

    /// PAUSE holds clients that need a server connection until RESUME; transactions already running finish.
    func setPaused(_ paused: Bool) {
        let released = self.lock.withLock { () -> [ClientConnectionHandler] in
            self._isPaused = paused
            guard !paused else { return [] }
            defer { self.heldClients = [] }
            return self.heldClients
        }
        self.logger.info(paused ? "service paused" : "service resumed", metadata: ["service": "\(self.name)"])
        for client in released { client.eventLoop.execute { client.checkout() } }
    }

    /// Returns true (and keeps the client) while the service is paused.
    func holdIfPaused(_ client: ClientConnectionHandler) -> Bool {
        self.lock.withLock {
            guard self._isPaused else { return false }
            self.heldClients.append(client)
            return true
        }
    }

    /// Sets the state gauges from the pool and the clients (called before each scrape).
    func updateGauges() {
        self.metrics.syncCounters()
        let stats = self.pool.statistics
        self.metrics.servers["active"]?.set(Int64(stats.leased))
        self.metrics.servers["idle"]?.set(Int64(stats.idle))
        self.metrics.servers["connecting"]?.set(Int64(stats.connecting))
        self.metrics.servers["listening"]?.set(Int64(self.notifications.connection == nil ? 0 : 1))
        var counts = ["active": 0, "waiting": 0, "idle": 0]
        for client in self.connectedClients {
            let state = client.publicState.description
            if counts[state] != nil { counts[state]! += 1 }
        }
        for (state, count) in counts { self.metrics.clients[state]?.set(Int64(count)) }
        self.reportRewriteStatistics()
    }

    private func reportRewriteStatistics() {
        let stats = self.rewriteStatistics
        let now = [stats.rewritten, stats.unchanged, stats.parseErrors, stats.cacheHits, stats.cacheMisses]
        let counters = [self.metrics.rewritesRewritten, self.metrics.rewritesUnchanged, self.metrics.rewritesParseError,
                        self.metrics.rewriteCacheHits, self.metrics.rewriteCacheMisses]
        self.metrics.reportedRewrites.withLockedValue { reported in
            for index in now.indices where now[index] > reported[index] {
                counters[index].increment(by: Int64(now[index] - reported[index]))
                reported[index] = now[index]
            }
        }
        let unmapped = self.unmappedReport.total
        self.metrics.reportedUnmapped.withLockedValue { reported in
            if unmapped > reported {
                self.metrics.unmappedReferences.increment(by: Int64(unmapped - reported))
                reported = unmapped
            }
        }
    }
}
