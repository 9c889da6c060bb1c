import ConnectionPool
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ProxyConfig

/// Probes each backend host of one service every `health_check.interval` and keeps what the service knows about
/// its hosts (`BackendHealthStateMachine`): `schemaproxy_backend_up{service,host}`, the order `ServerConnector`
/// tries hosts in, and the pool's fast failure while a backend is down.
///
/// A probe is a short-lived connection with the service's backend credentials and startup parameters: connect
/// and log in within `connect_timeout`, run `health_check.query` within `health_check.timeout`, close. So it
/// checks what a new pool connection needs (the server accepts logins) rather than what one old connection
/// still does. It takes a place in the service's pool for its few milliseconds, so `pool_size` stays a hard bound
/// on server connections; when the pool is full or clients wait, the probe is skipped until the next interval.
///
/// Driven by the runtime's housekeeping tick; stopped when the service is removed or the proxy shuts down.
final class HealthProber: @unchecked Sendable {
    /// The pool id of a probe's connection. Pool ids start at 1, so the pool never mistakes it for one of its own.
    static let probeConnectionID = 0

    private let lock = NIOLock()
    private var state: BackendHealthStateMachine<HostAndPort>
    private unowned let service: Service
    private let eventLoop: RelayLoop
    private let loopIndex: Int

    init(service: Service, settings: ServiceSettings, eventLoop: RelayLoop, loopIndex: Int) {
        self.service = service
        self.eventLoop = eventLoop
        self.loopIndex = loopIndex
        self.state = BackendHealthStateMachine(
            hosts: settings.backend.hosts, interval: settings.healthCheck.interval.nanoseconds, now: MonotonicClock.now()
        )
    }

    /// The backend's hosts in the order to try them: those known to be down last.
    func connectOrder(_ hosts: [HostAndPort]) -> [HostAndPort] {
        self.lock.withLock { self.state.connectOrder(hosts) }
    }

    func status(of host: HostAndPort) -> BackendHealthStateMachine<HostAndPort>.Status {
        self.lock.withLock { self.state.status(of: host) }
    }

    func tick() {
        let now = MonotonicClock.now()
        let actions = self.lock.withLock { self.state.tick(now: now) }
        if !actions.isEmpty { self.run(actions, reason: nil) }
    }

    /// What a pool connection attempt learnt about a host (`reachable`: it accepted a login).
    func connectResult(_ host: HostAndPort, reachable: Bool) {
        let actions = self.lock.withLock {
            reachable ? self.state.connectSucceeded(to: host) : self.state.connectFailed(to: host)
        }
        self.run(actions, reason: reachable ? nil : "connection attempt failed")
    }

    /// A reload: follows the new host list and interval.
    func update(_ settings: ServiceSettings) {
        let now = MonotonicClock.now()
        let actions = self.lock.withLock {
            self.state.update(hosts: settings.backend.hosts, interval: settings.healthCheck.interval.nanoseconds, now: now)
        }
        self.run(actions, reason: nil)
    }

    func stop() {
        self.lock.withLock { self.state.stop() }
    }

    func resume() {
        self.lock.withLock { self.state.resume() }
    }

    private func run(_ actions: [BackendHealthStateMachine<HostAndPort>.Action], reason: String?) {
        for action in actions {
            switch action {
            case .probe(let host, let id):
                self.probe(host, id: id)
            case .statusChanged(let host, _):
                // With several event loops two changes may be carried out in the other order than they happened:
                // report the status as it is now, which the last of them sees.
                let up = self.status(of: host) == .up
                self.service.metrics.setBackendUp(host.description, up)
                var metadata: Logger.Metadata = ["service": "\(self.service.name)", "host": "\(host)"]
                if up {
                    self.service.logger.info("backend up", metadata: metadata)
                    self.service.pool.backendRecovered()
                } else {
                    if let reason { metadata["reason"] = "\(reason)" }
                    self.service.logger.warning("backend down", metadata: metadata)
                }
            case .forget(let host):
                self.service.metrics.removeBackend(host.description)
            }
        }
    }

    private func probe(_ host: HostAndPort, id: BackendHealthStateMachine<HostAndPort>.ProbeID) {
        guard self.service.pool.reserveProbe() else {
            let now = MonotonicClock.now()
            return self.lock.withLock { self.state.probeSkipped(id, now: now) }
        }
        let settings = self.service.settings
        ServerConnector.open(service: self.service, host: host, poolID: Self.probeConnectionID,
                             eventLoop: self.eventLoop, loopIndex: self.loopIndex)
            .flatMap { server in
                server.check(query: settings.healthCheck.query, timeout: settings.healthCheck.timeout.timeAmount)
                    .always { _ in server.close() }
            }
            .whenComplete { result in
                self.service.pool.probeFinished()
                let now = MonotonicClock.now()
                let actions = self.lock.withLock {
                    switch result {
                    case .success: return self.state.probeSucceeded(id, now: now)
                    case .failure: return self.state.probeFailed(id, now: now)
                    }
                }
                var reason: String?
                if case .failure(let error) = result {
                    reason = "health check failed: \(error)"
                    self.service.logger.debug("health check failed", metadata: [
                        "service": "\(self.service.name)", "host": "\(host)", "error": "\(error)",
                    ])
                }
                self.run(actions, reason: reason)
            }
    }
}
