import ConnectionPool
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The shell around one service's `PoolStateMachine`: it owns the connection objects and the waiting
/// clients, takes the lock to feed events to the state machine, and carries out the actions it returns
/// outside the lock.
final class ServicePool: @unchecked Sendable {
    private let lock = NIOLock()
    private var state: PoolStateMachine
    private var servers: [PoolStateMachine.ConnectionID: ServerConnection] = [:]
    private var waiters: [PoolStateMachine.WaiterID: ClientConnectionHandler] = [:]
    unowned let service: Service
    private let loops: [RelayLoop]
    private let logger: Logger

    init(service: Service, configuration: PoolConfiguration, loops: [RelayLoop], logger: Logger) {
        self.service = service
        self.state = PoolStateMachine(configuration: configuration, seed: UInt64.random(in: 1...UInt64.max))
        self.loops = loops
        self.logger = logger
    }

    var statistics: PoolStatistics { self.lock.withLock { self.state.statistics } }

    /// All server connections, for the admin console: the pool's, and the service's listener connection (outside
    /// the pool's bound).
    var serverConnections: [ServerConnection] {
        let pooled = self.lock.withLock { Array(self.servers.values) }
        guard let listener = self.service.notifications?.connection else { return pooled }
        return pooled + [listener]
    }

    // MARK: Clients

    /// Returns a leased connection at once when one is idle on the client's loop; otherwise the client is
    /// queued and later gets `serverAssigned` or `serverCheckoutFailed` on its own event loop.
    func checkout(for client: ClientConnectionHandler) -> ServerConnection? {
        let now = MonotonicClock.now()
        let (result, server, closing): (PoolStateMachine.CheckoutResult, ServerConnection?, ServerConnection?) =
            self.lock.withLock {
                let result = self.state.checkout(waiter: client.waiterID, loop: client.loopIndex, now: now)
                switch result {
                case .leased(let id), .check(let id):
                    return (result, self.servers[id], nil)
                case .queued(_, let close):
                    self.waiters[client.waiterID] = client
                    return (result, nil, close.flatMap { self.servers[$0] })
                case .failed:
                    return (result, nil, nil)
                }
            }
        switch result {
        case .leased:
            return server
        case .check:
            if let server { self.lendAfterCheck(server, to: client) }
            return nil
        case .queued(let open, _):
            closing?.close()
            if let open { self.openConnection(open, loop: client.loopIndex) }
            return nil
        case .failed(let error):
            client.eventLoop.execute { client.serverCheckoutFailed(error) }
            return nil
        }
    }

    /// Runs the empty query on a connection that sat idle longer than `server_check_delay` before the client gets
    /// it (the client keeps waiting meanwhile). A broken one is discarded and the client checks out again, so it
    /// never sees the failure. Runs on the client's loop, which is the connection's.
    private func lendAfterCheck(_ server: ServerConnection, to client: ClientConnectionHandler) {
        server.check(query: "", timeout: self.service.settings.healthCheck.timeout.timeAmount).whenComplete { result in
            switch result {
            case .success:
                self.hand(server, to: client)
            case .failure(let error):
                self.logger.info("discarding a broken idle server connection", metadata: [
                    "service": "\(self.service.name)", "host": "\(server.host)", "error": "\(error)",
                ])
                self.release(server, reusable: false)
                guard client.waitingForServer else { return }  // the client left meanwhile
                if let next = self.checkout(for: client) { self.hand(next, to: client) }
            }
        }
    }

    /// Clients per event loop decide how a full pool is split between the loops.
    func clientJoined(loop: Int) {
        self.lock.withLock { self.state.clientJoined(loop: loop) }
    }

    func clientLeft(loop: Int) {
        self.lock.withLock { self.state.clientLeft(loop: loop) }
    }

    func cancelWaiter(_ client: ClientConnectionHandler) {
        self.lock.withLock {
            if self.state.cancelWaiter(client.waiterID) { self.waiters[client.waiterID] = nil }
        }
    }

    /// A client is done with a server connection. Not reusable means: close it. A connection with a cancel in
    /// flight comes back when the cancel is done (see `CancelHold`).
    func release(_ server: ServerConnection, reusable: Bool) {
        guard server.eventLoop.inEventLoop else {
            return server.eventLoop.execute { self.release(server, reusable: reusable) }
        }
        if server.holdsReleaseForCancel(reusable: reusable) { return }
        let now = MonotonicClock.now()
        let (result, waiter) = self.lock.withLock { () -> (PoolStateMachine.ReleaseResult, ClientConnectionHandler?) in
            let result = self.state.release(server.poolID, reusable: reusable && server.isUsable, now: now)
            if case .lease(_, let waiterID) = result { return (result, self.waiters.removeValue(forKey: waiterID)) }
            return (result, nil)
        }
        switch result {
        case .parked:
            break  // the pool knows since when it is idle
        case .lease:
            guard let waiter else { return self.release(server, reusable: true) }
            self.hand(server, to: waiter)
        case .close(_, let open):
            server.close()
            if let open { self.openConnection(open, loop: server.loopIndex) }
        }
    }

    // MARK: Connections

    private func openConnection(_ id: PoolStateMachine.ConnectionID, loop: Int) {
        let loop = self.loops[loop % self.loops.count]
        ServerConnector(service: self.service, poolID: id, eventLoop: loop, loopIndex: self.loopIndex(of: loop))
            .connect()
    }

    private func loopIndex(of loop: RelayLoop) -> Int {
        self.loops.firstIndex(where: { $0 === loop }) ?? 0
    }

    /// A new connection finished its startup.
    func connectionOpened(_ server: ServerConnection) {
        let now = MonotonicClock.now()
        let (action, waiter) = self.lock.withLock { () -> (PoolAction?, ClientConnectionHandler?) in
            self.servers[server.poolID] = server
            let action = self.state.connectionOpened(server.poolID, now: now)
            if case .lease(_, let waiterID) = action { return (action, self.waiters.removeValue(forKey: waiterID)) }
            return (action, nil)
        }
        switch action {
        case .lease:
            if let waiter { self.hand(server, to: waiter) } else { self.release(server, reusable: true) }
        case .closeConnection:
            server.close()
        default:
            break
        }
    }

    func connectionFailed(poolID: PoolStateMachine.ConnectionID, error: String) {
        let now = MonotonicClock.now()
        self.service.metrics.serverConnectErrors.increment()
        self.logger.warning("server connection failed", metadata: ["service": "\(self.service.name)", "error": "\(error)"])
        let actions = self.lock.withLock { self.state.connectionFailed(poolID, error: error, now: now) }
        self.run(actions)
    }

    /// A connection is gone, for whatever reason. Idempotent.
    func connectionClosed(_ server: ServerConnection) {
        let now = MonotonicClock.now()
        let action = self.lock.withLock { () -> PoolAction? in
            guard self.servers[server.poolID] === server else { return nil }
            self.servers[server.poolID] = nil
            return self.state.connectionClosed(server.poolID, now: now)
        }
        if let action { self.run([action]) }
    }

    // MARK: Housekeeping

    func tick() {
        let now = MonotonicClock.now()
        let actions = self.lock.withLock { self.state.tick(now: now) }
        if !actions.isEmpty { self.run(actions) }
    }

    // MARK: Health probes

    /// A place in the pool for a health probe's own connection; false when the pool is full or clients wait.
    func reserveProbe() -> Bool {
        self.lock.withLock { self.state.reserveProbe() }
    }

    func probeFinished() {
        let now = MonotonicClock.now()
        let action = self.lock.withLock { self.state.probeFinished(now: now) }
        if let action { self.run([action]) }
    }

    /// A host came back: clients connect at once again (see `PoolStateMachine.backendRecovered`).
    func backendRecovered() {
        self.lock.withLock { self.state.backendRecovered() }
    }

    func updateConfiguration(_ configuration: PoolConfiguration) {
        self.lock.withLock { self.state.updateConfiguration(configuration) }
    }

    func retireAllConnections() {
        let actions = self.lock.withLock { self.state.retireAllConnections() }
        self.run(actions)
    }

    func close() {
        self.service.notifications?.close()
        let actions = self.lock.withLock { self.state.close() }
        self.run(actions)
    }

    var isEmpty: Bool { self.lock.withLock { self.state.isEmpty } }

    private func run(_ actions: [PoolAction]) {
        for action in actions {
            switch action {
            case .lease(let id, let waiterID):
                let (server, waiter) = self.lock.withLock { (self.servers[id], self.waiters.removeValue(forKey: waiterID)) }
                if let server, let waiter { self.hand(server, to: waiter) }
            case .openConnection(let id):
                // Waiting clients decide the loop; without any, spread over the loops.
                let loop = self.lock.withLock { self.state.loop(of: id) } ?? 0
                self.openConnection(id, loop: loop)
            case .closeConnection(let id):
                let server = self.lock.withLock { self.servers[id] }
                server?.close()
            case .failWaiter(let waiterID, let error):
                let waiter = self.lock.withLock { self.waiters.removeValue(forKey: waiterID) }
                if let waiter { waiter.eventLoop.execute { waiter.serverCheckoutFailed(error) } }
            }
        }
    }

    /// Gives a connection to a client that waited for it, on their (shared) event loop.
    private func hand(_ server: ServerConnection, to client: ClientConnectionHandler) {
        client.eventLoop.execute { client.serverAssigned(server) }
    }
}
