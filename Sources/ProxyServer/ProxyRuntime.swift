import DataPlane
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ProxyConfig
import ProxySession
import SchemaRouting
import Synchronization

/// Everything the connections share: the services, the credentials, the cancel keys, the metrics.
/// The configuration behind them is swapped atomically on reload.
public final class ProxyRuntime: @unchecked Sendable {
    let loops: [RelayLoop]
    let logger: Logger
    let metrics: ProxyMetrics
    let cancelRegistry = CancelRegistry()

    private let lock = NIOLock()
    private var prepared: PreparedConfiguration
    private var services: [String: Service] = [:]
    private let clientCount = Atomic<Int>(0)
    private let clientIDs = Atomic<Int>(0)
    private let pendingLoginCount = Atomic<Int>(0)
    private let shuttingDown = Atomic<Bool>(false)
    /// Set by the server shell: re-read the config file (nil = success, else the error).
    var reloadHandler: (@Sendable () -> String?)?
    var shutdownHandler: (@Sendable () -> Void)?

    init(prepared: PreparedConfiguration, loops: [RelayLoop], logger: Logger, metrics: ProxyMetrics) {
        self.prepared = prepared
        self.loops = loops
        self.logger = logger
        self.metrics = metrics
        BackendTLSContexts.shared.publish(prepared.backendTLS)
        for (name, settings) in prepared.configuration.services {
            self.services[name] = self.makeService(settings, mapping: prepared.mappings[name] ?? .empty)
        }
    }

    private func makeService(_ settings: ServiceSettings, mapping: SchemaMapping) -> Service {
        Service(settings: settings, mapping: mapping, loops: self.loops,
                metrics: self.metrics.makeServiceMetrics(service: settings.name), logger: self.logger)
    }

    var configuration: ProxyConfiguration { self.lock.withLock { self.prepared.configuration } }
    var loginTimeout: TimeAmount { self.configuration.loginTimeout.timeAmount }
    var adminDatabase: String { self.configuration.admin.database }
    func isAdmin(_ user: String) -> Bool { self.configuration.admin.users.contains(user) }

    func makeClientStartupStateMachine() -> ClientStartupStateMachine {
        let prepared = self.lock.withLock { self.prepared }
        let encryption: ClientStartupStateMachine.EncryptionPolicy
        switch prepared.configuration.clientTLS.mode {
        case .disable: encryption = .refuse
        case .allow: encryption = .allow
        case .require, .verifyFull: encryption = .require
        }
        return ClientStartupStateMachine(method: prepared.loginMethod, credentials: prepared.credentials,
                                         encryption: encryption)
    }

    /// The context new client handshakes use (the one the last good load or reload made).
    var clientTLSContext: TLSContext? { self.lock.withLock { self.prepared.clientTLS } }

    /// The service a client's database name picks; nil for unknown, removed or (while shutting down) any.
    func service(named name: String) -> Service? {
        self.lock.withLock {
            guard let service = self.services[name], !service.isRemoved else { return nil }
            return service
        }
    }

    var allServices: [Service] { self.lock.withLock { self.services.values.sorted { $0.name < $1.name } } }

    func nextClientID() -> Int { self.clientIDs.add(1, ordering: .relaxed).newValue }

    /// Counts a logged-in client against `max_client_connections`.
    func admitClient() -> Bool {
        let limit = self.configuration.maxClientConnections
        let now = self.clientCount.add(1, ordering: .relaxed).newValue
        if now > limit {
            self.clientCount.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func releaseClient() { self.clientCount.subtract(1, ordering: .relaxed) }

    /// Counts a new connection against `max_pending_logins` until `endLogin()`; false when it is over the limit.
    func beginLogin() -> Bool {
        let limit = self.configuration.maxPendingLogins
        if self.pendingLoginCount.add(1, ordering: .relaxed).newValue > limit {
            self.pendingLoginCount.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func endLogin() { self.pendingLoginCount.subtract(1, ordering: .relaxed) }
    var connectedClients: Int { self.clientCount.load(ordering: .relaxed) }

    var isShuttingDown: Bool {
        get { self.shuttingDown.load(ordering: .relaxed) }
        set { self.shuttingDown.store(newValue, ordering: .relaxed) }
    }

    // MARK: Housekeeping

    func tick() {
        for service in self.allServices {
            service.pool.tick()
            service.prober.tick()
            if service.retireIfUnused() { service.pool.close() }
            if service.isRetired, service.pool.isEmpty {
                let current = self.lock.withLock { () -> Bool in
                    guard self.services[service.name] === service else { return false }
                    self.services[service.name] = nil
                    return true
                }
                // A service re-added meanwhile registered its own metrics; this one's are already gone.
                if current { service.metrics.unregister() }
            }
        }
    }

    // MARK: Reload

    /// Applies a new, already validated configuration. Returns a line per change, for the log.
    func apply(_ new: PreparedConfiguration) -> [String] {
        var changes: [String] = []
        let old = self.lock.withLock { () -> PreparedConfiguration in
            defer { self.prepared = new }
            BackendTLSContexts.shared.publish(new.backendTLS)
            return self.prepared
        }
        for (name, settings) in new.configuration.services {
            let mapping = new.mappings[name] ?? .empty
            let existing = self.lock.withLock { self.services[name] }
            // A removed service whose clients are still connected comes back as it is: they keep their pool.
            let revived = existing.map { $0.isRemoved && $0.revive() } ?? false
            if let existing, revived || !existing.isRemoved {
                var serviceChanges = existing.update(settings, mapping: mapping)
                if revived { serviceChanges.insert("added again (its connected clients stay)", at: 0) }
                if !serviceChanges.isEmpty { changes.append("service \(name): \(serviceChanges.joined(separator: ", "))") }
            } else {
                // Retired: its pool is closing; the new service registers fresh metrics under the same labels.
                if let existing { existing.pool.close(); existing.metrics.unregister() }
                let service = self.makeService(settings, mapping: mapping)
                self.lock.withLock { self.services[name] = service }
                changes.append("service \(name): added")
            }
        }
        for name in old.configuration.services.keys where new.configuration.services[name] == nil {
            self.lock.withLock { self.services[name] }?.markRemoved()
            changes.append("service \(name): removed (its clients finish first)")
        }
        if old.configuration.auth != new.configuration.auth { changes.append("auth") }
        if old.configuration.maxClientConnections != new.configuration.maxClientConnections {
            changes.append("max_client_connections")
        }
        if old.configuration.maxPendingLogins != new.configuration.maxPendingLogins {
            changes.append("max_pending_logins")
        }
        let (was, now) = (old.configuration, new.configuration)
        if was.listen != now.listen || was.metricsListen != now.metricsListen || was.workers != now.workers
            || was.logLevel != now.logLevel {
            changes.append("listen/metrics_listen/workers/log_level changed: they take effect at the next restart")
        }
        return changes
    }

    func shutdownPools() {
        for service in self.allServices {
            service.prober.stop()
            service.pool.close()
        }
    }
}
