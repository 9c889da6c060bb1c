import NIOCore
import NIOPosix
import ProxyConfig

/// Opens one pool connection: tries the backend's hosts in order (libpq's multi-host URLs), logs in,
/// and keeps the first one whose role matches `target_session_attrs`. Reports the outcome to the pool.
struct ServerConnector {
    let service: Service
    let poolID: Int
    let eventLoop: EventLoop
    let loopIndex: Int

    func connect() {
        let backend = self.service.settings.backend
        self.attempt(hosts: backend.hosts, index: 0, pass: .first, errors: [])
    }

    private enum Pass { case first, fallback }

    private func attempt(hosts: [HostAndPort], index: Int, pass: Pass, errors: [String]) {
        guard index < hosts.count else {
            // prefer-standby takes any server when no standby answered.
            if pass == .first, self.service.settings.backend.targetSessionAttrs == .preferStandby {
                return self.attempt(hosts: hosts, index: 0, pass: .fallback, errors: errors)
            }
            self.service.pool.connectionFailed(poolID: self.poolID, error: errors.joined(separator: "; "))
            return
        }
        let host = hosts[index]
        let server = ServerConnection(service: self.service, poolID: self.poolID, host: host,
                                      eventLoop: self.eventLoop, loopIndex: self.loopIndex)
        let settings = self.service.settings
        ClientBootstrap(group: self.eventLoop)
            .connectTimeout(settings.connectTimeout.timeAmount)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(server) }
            }
            .connect(host: host.host, port: host.port)
            .flatMap { _ in server.startupFuture }
            .whenComplete { result in
                switch result {
                case .success:
                    if self.accepts(server, pass: pass) {
                        self.service.pool.connectionOpened(server)
                    } else {
                        server.close()
                        self.attempt(hosts: hosts, index: index + 1, pass: pass,
                                     errors: errors + ["\(host): not a \(settings.backend.targetSessionAttrs.rawValue) server"])
                    }
                case .failure(let error):
                    self.service.backendReachable(host, false)
                    server.close()
                    self.attempt(hosts: hosts, index: index + 1, pass: pass, errors: errors + ["\(host): \(error)"])
                }
            }
    }

    /// PostgreSQL 14+ reports `in_hot_standby` and `default_transaction_read_only` at login, which is all
    /// target_session_attrs needs; an older server that reports neither counts as a primary.
    private func accepts(_ server: ServerConnection, pass: Pass) -> Bool {
        let standby = server.parameter("in_hot_standby") == "on"
        let readOnly = standby || server.parameter("default_transaction_read_only") == "on"
        switch self.service.settings.backend.targetSessionAttrs {
        case .any: return true
        case .readWrite: return !readOnly
        case .readOnly: return readOnly
        case .primary: return !standby
        case .standby: return standby
        case .preferStandby: return pass == .fallback || standby
        }
    }
}
