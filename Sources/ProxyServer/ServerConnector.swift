import NIOCore
import DataPlane
import ProxyConfig
import ProxySession

/// Opens one pool connection: tries the backend's hosts in order (libpq's multi-host URLs), hosts the health
/// checks found down last, logs in, and keeps the first one whose role matches `target_session_attrs`.
/// Reports the outcome to the pool, and what it learnt about each host to the health prober.
struct ServerConnector {
    let service: Service
    let poolID: Int
    let eventLoop: RelayLoop
    let loopIndex: Int

    func connect() {
        // search_path: auto, before the server's own search_path is known: one connection learns it while the
        // others wait for it, so a burst of connects (min_pool_size, many clients) costs one extra login.
        let resume: @Sendable () -> Void = { self.eventLoop.execute { self.start(learning: false) } }
        switch self.service.joinSearchPathLearning(resume: resume) {
        case .proceed: self.start(learning: false)
        case .learn: self.start(learning: true)
        case .wait: break
        }
    }

    private func start(learning: Bool) {
        let backend = self.service.settings.backend
        self.attempt(hosts: self.service.prober.connectOrder(backend.hosts), index: 0, pass: .first, errors: [],
                     learning: learning)
    }

    private enum Pass { case first, fallback }

    /// `learning`: this connector's first login learns the server's search_path for the connectors waiting for it;
    /// when it is done, learnt or not, they go on (and learn it themselves while it is still unknown).
    private func attempt(hosts: [HostAndPort], index: Int, pass: Pass, errors: [String], learning: Bool = false) {
        guard index < hosts.count else {
            // prefer-standby takes any server when no standby answered.
            if pass == .first, self.service.settings.backend.targetSessionAttrs == .preferStandby {
                return self.attempt(hosts: hosts, index: 0, pass: .fallback, errors: errors)
            }
            self.service.pool.connectionFailed(poolID: self.poolID, error: errors.joined(separator: "; "))
            return
        }
        let host = hosts[index]
        let attrs = self.service.settings.backend.targetSessionAttrs
        Self.open(service: self.service, host: host, poolID: self.poolID, eventLoop: self.eventLoop,
                  loopIndex: self.loopIndex, mayLearnSearchPath: true)
            .whenComplete { result in
                if case .success(let server) = result, self.accepts(server, pass: pass),
                   let searchPath = server.learntSearchPath {
                    self.service.learntServerSearchPath(searchPath, from: server.backend)
                }
                if learning { self.service.searchPathLearningEnded() }
                switch result {
                case .success(let server):
                    self.service.prober.connectResult(host, reachable: true)
                    if self.accepts(server, pass: pass), server.learntSearchPath != nil {
                        // search_path: auto learnt the server's own search_path on a connection started without
                        // one; it makes way for a connection to the same host that starts with the full value.
                        server.close()
                        self.attempt(hosts: hosts, index: index, pass: pass, errors: errors)
                    } else if self.accepts(server, pass: pass) {
                        self.service.pool.connectionOpened(server)
                    } else {
                        server.close()
                        self.attempt(hosts: hosts, index: index + 1, pass: pass,
                                     errors: errors + ["\(host): not a \(attrs.rawValue) server"])
                    }
                case .failure(let error):
                    self.service.prober.connectResult(host, reachable: false)
                    self.attempt(hosts: hosts, index: index + 1, pass: pass, errors: errors + ["\(host): \(error)"])
                }
            }
    }

    /// Connects to one host and logs in, all within `connect_timeout`: a server that accepts the TCP connection
    /// but never finishes the login counts as failed too. On failure the connection is closed. The backend's
    /// sslmode may make it two attempts (libpq's `allow` and `prefer`), both within the same time.
    /// `mayLearnSearchPath`: see `ServerConnection.init`.
    static func open(
        service: Service, host: HostAndPort, poolID: Int, eventLoop: RelayLoop, loopIndex: Int,
        mayLearnSearchPath: Bool = false
    ) -> EventLoopFuture<ServerConnection> {
        eventLoop.flatSubmit {
            let deadline = NIODeadline.now() + service.settings.connectTimeout.timeAmount
            return Self.open(service: service, host: host, poolID: poolID, eventLoop: eventLoop, loopIndex: loopIndex,
                             mayLearnSearchPath: mayLearnSearchPath, attempt: nil, isRetry: false, deadline: deadline)
        }
    }

    /// `attempt`: nil for the first, which the backend settings the connection logs in with decide.
    private static func open(
        service: Service, host: HostAndPort, poolID: Int, eventLoop: RelayLoop, loopIndex: Int,
        mayLearnSearchPath: Bool, attempt: ServerTLSAttempt?, isRetry: Bool, deadline: NIODeadline
    ) -> EventLoopFuture<ServerConnection> {
        let timeout = service.settings.connectTimeout
        let server = ServerConnection(service: service, poolID: poolID, host: host, eventLoop: eventLoop,
                                      loopIndex: loopIndex, mayLearnSearchPath: mayLearnSearchPath)
        // One reading of the settings for the whole attempt (a reload may change the service's meanwhile).
        let tls = server.backend.tls
        let attempt = attempt ?? tls.policy.firstAttempt(overUnixSocket: host.isSocketDirectory)
        server.tlsNegotiation = ServerTLSNegotiation(attempt: attempt, settingText: "sslmode=\(tls.mode.rawValue)")
        let promise = eventLoop.makePromise(of: ServerConnection.self)
        let timer = eventLoop.scheduleTask(deadline: deadline) {
            promise.fail(ServerConnectTimeout(timeout: timeout))
            server.close()  // cancels a connect still in progress, or closes the socket mid-login
        }
        let connected: Connector.Completion = { result in
            server.connector = nil
            switch result {
            case .success(let descriptor):
                server.attach(descriptor: descriptor)
            case .failure(let error):
                server.close()
                promise.fail(error)
            }
        }
        server.connector = Connector.connect(to: host, on: eventLoop, completion: connected)
        server.startupFuture.whenComplete { result in
            timer.cancel()
            switch result {
            case .success:
                promise.succeed(server)  // ignored when the timeout came first (it closed the server)
            case .failure(let error):
                let failure = server.tlsAttemptFailure(error)
                server.close()
                guard !isRetry, NIODeadline.now() < deadline, let failure,
                      let next = tls.policy.retry(after: failure, of: attempt) else {
                    return promise.fail(error)
                }
                service.logger.debug("server login failed, trying again", metadata: [
                    "service": "\(service.name)", "host": "\(host)", "error": "\(error)",
                    "sslmode": "\(tls.mode.rawValue)", "tls": "\(next != .plaintext)",
                ])
                Self.open(service: service, host: host, poolID: poolID, eventLoop: eventLoop, loopIndex: loopIndex,
                          mayLearnSearchPath: mayLearnSearchPath, attempt: next, isRetry: true, deadline: deadline)
                    .cascade(to: promise)
            }
        }
        return promise.futureResult
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

struct ServerConnectTimeout: Error, CustomStringConvertible {
    let timeout: Duration
    var description: String { "no connection and login within connect_timeout (\(timeout))" }
}
