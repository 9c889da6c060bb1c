#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConnectionPool
import ProxyConfig
import Logging
import DataPlane
import NIOCore
import PostgresWire
import ProxySession
import SchemaRouting
import Synchronization

/// The server connection lent to the client (see `ServerLease`): asking the pool, attaching what it lends, and
/// what the lent connection reports back while it relays the server's replies to the client.
extension ClientConnectionHandler {
    /// Asks for a server connection unless one is lent or asked for. True when the pool lent one at once: it
    /// is attached (see `attach`) and the caller goes on relaying on it; nothing runs on behalf of the relay
    /// from in here, so the relay never re-enters itself.
    @discardableResult
    func requestServer() -> Bool {
        guard let service, self.lease.request(now: self.recordsDurations ? .now() : nil) else { return false }
        self.setPublicState(.waiting)
        if service.holdIfPaused(self) { return false }
        guard let server = service.pool.checkout(for: self) else { return false }
        return self.attach(server)
    }

    /// Asks the pool again when a PAUSE of the service ends.
    func checkout() {
        guard let service, self.waitingForServer, let server = service.pool.checkout(for: self) else { return }
        self.serverAssigned(server)
    }

    /// The pool lent us a server connection later (on our event loop): the relay resumes where it stopped.
    func serverAssigned(_ server: ServerConnection) {
        // Messages that waited for a server connection (they depend on which one they land on).
        if self.attach(server), self.inbound != nil, case .ready = self.phase { self.relayClientMessages() }
        if self.serverNeedsFlush, let server = self.server {
            self.serverNeedsFlush = false
            server.flush()
        }
        self.limitQueueWhileWaiting()
    }

    /// Takes `server` as the client's: the lease plan and the messages that waited go first (unflushed). False
    /// when it is not for relaying: nobody waits for it any more (it went back to the pool), or it answered a
    /// login's wait for the server's parameters (the login goes on from here).
    func attach(_ server: ServerConnection) -> Bool {
        guard let service, case .use(let waitedSince) = self.lease.arrived(server) else {
            // We left (or no longer need it) while it was on its way.
            self.service?.pool.release(server, reusable: true)
            return false
        }
        if let waitedSince { service.metrics.observeCheckoutWait(NIODeadline.now() - waitedSince) }
        if case .awaitingParameters = self.phase {
            if service.serverParameters == nil || self.poolMode == .transaction {
                service.serverParameters = server.parameters
            }
            guard self.poolMode == .session else {
                _ = self.lease.end(server)
                service.pool.release(server, reusable: true)
                self.finishStartup()
                return false
            }
            server.lease(to: self)
            if !self.socket.isWritable { server.setReading(false) }
            self.finishStartup(keeping: server)
            self.setPublicState(.active)
            return false
        }
        server.lease(to: self)
        self.setPublicState(.active)
        if !self.socket.isWritable { server.setReading(false) }
        self.prepareLease(on: server)
        if let outbox = self.outbox {
            self.outbox = nil
            server.write(outbox)
        }
        self.serverNeedsFlush = true
        return true
    }

    /// No server connection came: answer what the client sent with the error, as the server would have.
    func serverCheckoutFailed(_ error: PoolError) {
        guard let service, self.lease.checkoutFailed() else { return }
        self.setPublicState(.idle)
        let fields: ErrorFields
        switch error {
        case .checkoutTimeout:
            fields = .error(.cannotConnectNow, "no server connection for service \"\(service.name)\" became available within checkout_timeout (\(service.settings.checkoutTimeout))")
        case .backendUnavailable(let attempts, let lastError):
            fields = .error(.connectionFailure, "could not connect to the backend of service \"\(service.name)\" (\(attempts) attempts): \(lastError)")
        case .poolClosed:
            fields = .error(.adminShutdown, "service \"\(service.name)\" is shutting down")
        }
        service.metrics.checkoutFailures.increment()
        self.runtime.logger.warning("no server connection", metadata: ["service": "\(service.name)", "client": "\(self.remoteAddress)", "sqlstate": "\(fields.sqlState)"])
        // Messages the relay stopped at (they depend on the server connection they land on) are answered with the
        // error too, and dropped: run later, their replies would answer the client's next statements.
        let waiting = Self.syncPoints(in: self.inbound)
        guard case .ready = self.phase, !self.tracker.hasUnsyncedMessages, let waitingSyncPoints = waiting else {
            var fatal = fields
            fatal.severity = "FATAL"
            return self.failAndClose(fatal)
        }
        self.outbox = nil
        self.inbound = nil
        self.endReplayLog()
        var writer = MessageWriter(buffer: self.allocator.buffer(capacity: 256))
        writer.writeError(fields)
        for _ in 0..<max(1, self.tracker.pendingSyncPoints + waitingSyncPoints) { writer.writeReadyForQuery(.idle) }
        self.tracker.reset()
        self.queryStarted = nil
        self.send(writer.buffer)
    }

    /// How many sync points (Query, Sync, FunctionCall) the unread client bytes hold; nil unless they end exactly
    /// after one (a message after the last sync point, or an incomplete or invalid one, cannot be answered now).
    static func syncPoints(in unread: ByteBuffer?) -> Int? {
        guard let unread else { return 0 }
        var scanner = FrontendStreamScanner(startingAt: unread.readerIndex)
        var count = 0
        var endsAtSyncPoint = true
        while let message = try? scanner.next(in: unread) {
            endsAtSyncPoint = message.isSyncPoint
            if endsAtSyncPoint { count += 1 }
        }
        return endsAtSyncPoint && scanner.index == unread.writerIndex ? count : nil
    }

    // MARK: Relay, server -> client (called by the lent ServerConnection, on our loop)

    @inline(__always)
    func serverSentReadyForQuery(_ status: UInt8) {
        if self.tracker.serverReady(status) {
            if let started = self.queryStarted {
                self.service?.metrics.observeQuery(NIODeadline.now() - started)
                self.queryStarted = nil
            }
            self.service?.metrics.countTransaction()
            if self.poolMode == .transaction { self.releaseAfterRelay = true }
        } else if self.tracker.isQuiet {
            if let started = self.queryStarted {
                self.service?.metrics.observeQuery(NIODeadline.now() - started)
                self.queryStarted = nil
            }
            self.armIdleTransactionTimer()
        }
    }

    /// The client holds a server connection inside a transaction and sends nothing: after
    /// `idle_transaction_timeout` it is disconnected (25P03, as PostgreSQL's own timeout does) and its
    /// transaction rolled back, so the pool gets the connection back.
    func armIdleTransactionTimer() {
        guard let service else { return }
        let timeout = service.settings.idleTransactionTimeout
        guard timeout > .zero else { return }
        self.idleTransactionTimer?.cancel()
        self.idleTransactionTimer = self.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.nanoseconds))) { [self] in
            self.idleTransactionTimer = nil
            guard self.server != nil, self.tracker.isQuiet, !self.tracker.isAtTransactionBoundary else { return }
            service.metrics.idleTransactionTimeouts.increment()
            self.runtime.logger.info("idle transaction timeout", metadata: ["service": "\(service.name)", "client": "\(self.remoteAddress)", "user": "\(self.user)", "sqlstate": "25P03"])
            self.failAndClose(.fatal(.idleInTransactionSessionTimeout,
                "terminating connection due to idle-in-transaction timeout (idle_transaction_timeout of service \"\(service.name)\" is \(timeout)); the transaction was rolled back"))
        }
    }

    @inline(__always)
    func relayFromServer(_ buffer: ByteBuffer) {
        self.socket.write(buffer)
        if self.releaseAfterRelay {
            self.releaseAfterRelay = false
            if self.listenConfirmationsPending == 0 { self.socket.flush() }
            self.releaseServer()
        } else if !self.socket.isWritable {
            self.server?.setReading(false)
        }
    }

    @inline(__always)
    func flushToClient() {
        guard self.listenConfirmationsPending == 0 else { return }
        self.socket.flush()
    }

    func listenConfirmed() {
        self.listenConfirmationsPending = max(0, self.listenConfirmationsPending - 1)
        if self.listenConfirmationsPending == 0 { self.socket.flush() }
    }

    /// Sends `buffer`, after whatever was written before it, now.
    func send(_ buffer: ByteBuffer) {
        self.socket.send(buffer)
    }

    func releaseServer() {
        guard let service, let server = self.lease.end() else { return }
        self.clientSession.leaseEnded()
        self.setPublicState(.idle)
        server.setReading(true)
        self.pausedByServer = false
        self.updateReading()
        server.detach()
        service.pool.release(server, reusable: true)
        if !self.pendingNotifications.isEmpty { self.deliverPendingNotifications() }
    }

    /// A notification on a channel the client listens on (transaction pooling): at once when the client is
    /// between transactions, else when its transaction ends, as PostgreSQL delivers them.
    func deliverNotification(_ message: ByteBuffer) {
        guard case .ready = self.phase, self.clientSession.listensForNotifications else { return }
        self.pendingNotifications.append(message)
        if self.lease.isFree { self.deliverPendingNotifications() }
    }

    func deliverPendingNotifications() {
        for message in self.pendingNotifications { self.socket.write(message) }
        self.pendingNotifications.removeAll()
        if self.listenConfirmationsPending == 0 { self.socket.flush() }
    }

    /// The server connection lent to us died.
    /// `afterError`: the server's last word, already relayed, was an error (its FATAL): the client is
    /// told once, not twice.
    func serverConnectionLost(_ server: ServerConnection, afterError: Bool) {
        guard self.lease.end(server) != nil else { return }
        self.pausedByServer = false
        self.updateReading()
        self.clientSession.leaseEnded()
        self.setPublicState(.idle)
        self.releaseAfterRelay = false
        if self.tracker.isAtTransactionBoundary && self.poolMode == .transaction {
            return  // nothing of ours was on it; the next query gets another connection
        }
        if afterError {
            self.phase = .closing
            self.socket.flushAndClose()
            return
        }
        let name = self.service?.name ?? ""
        self.failAndClose(.fatal(.connectionFailure, "server connection of service \"\(name)\" was lost; the current transaction (if any) did not commit"))
    }
}
