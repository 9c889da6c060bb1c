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

/// One client connection. Before login it drives `ClientStartupStateMachine`; afterwards it relays the
/// client's messages to the server connection lent to it, rewriting table names in Query and Parse, and
/// uses a `TransactionTracker` to give the server connection back at transaction boundaries
/// (transaction pooling) or at the end of the session (session pooling).
///
/// The hot path does not decode or re-encode messages: it walks frame headers, forwards contiguous runs
/// of untouched frames as slices of the buffer they arrived in, and flushes once per read burst.
///
/// This is the I/O shell; the decisions are value types of `ProxySession` that it holds and drives:
/// `ServerLease` (the connection lent, or the wait for one), `TransactionPoolingSession` (what the client's
/// session holds across shared server connections), `ReplayLog` (transparent retry), `RewriteStage` (schema
/// routing) and `FrontendStreamScanner` (the client's frames). By concern: login in `+Login`, the relay towards
/// the server in `+Relay`, the lease and the server's replies in `+Lease`, the admin console in `+Admin`, TLS in
/// `+TLS`; this file has the state, the socket events, backpressure and the end of a connection.
final class ClientConnectionHandler: RelaySocketDelegate, @unchecked Sendable {  // used on its loop only

    enum Phase {
        case startup(ClientStartupStateMachine)
        /// Authenticated; waiting for a server connection: the first one of the service (to learn the server's
        /// parameters), or in session pooling the one the client keeps (its BackendKeyData is the client's).
        case awaitingParameters
        case ready
        case admin(AdminConsole)
        case closing
    }

    let runtime: ProxyRuntime
    let eventLoop: RelayLoop
    let loopIndex: Int
    let waiterID: Int
    let remoteAddress: String

    var phase: Phase
    /// The client's socket; it owns this handler while the loop has it registered.
    var socket: RelaySocket<ClientConnectionHandler>!
    var allocator: ByteBufferAllocator { self.socket.allocator }
    var service: Service?
    /// The server connection lent to the client, or the wait for one: one owner for both.
    var lease = ServerLease<ServerConnection>()
    var server: ServerConnection? { self.lease.server }
    var waitingForServer: Bool { self.lease.isWaiting }
    var user: String = ""
    var database: String = ""
    var startupMessage = StartupMessage(parameters: [])
    var poolMode: PoolMode = .transaction
    /// Whether the service's metrics keep latency histograms (not without `metrics_listen`): no clock reads then.
    var recordsDurations = true

    var tracker = TransactionTracker()
    /// Client bytes not yet consumed (a partial frame, or everything before login).
    var inbound: ByteBuffer?
    /// Client messages waiting for a server connection.
    var outbox: ByteBuffer?
    var serverNeedsFlush = false
    var releaseAfterRelay = false
    var queryStarted: NIODeadline?
    var proxyKey: BackendKey
    var loginTimeout: Scheduled<Void>?
    var countedAsClient = false
    /// Counted against `max_pending_logins` from the accept until authentication ends.
    var countedAsPendingLogin = false
    /// The client's messages since it was last between transactions without a server connection, and its
    /// session as it was then: if the server connection it gets is terminated before answering anything,
    /// they are replayed on another one (see `serverTerminatedBeforeAnswering`). Nil once a server answered.
    var replay: ReplayLog?
    /// The client sent Flush since it was last between transactions: it waits for replies that precede
    /// results (asyncpg's prepare does), so they cannot be held back for a retry.
    var awaitsRepliesBeforeSync = false

    /// Whether the lent server connection may hold back replies that precede results: only while a retry
    /// is possible, and not for a client that waits for them before its Sync.
    var mayHoldReplies: Bool { self.replay != nil && !self.awaitsRepliesBeforeSync }
    /// Armed while the client sits inside a transaction with nothing in flight (`idle_transaction_timeout`).
    var idleTransactionTimer: Scheduled<Void>?

    /// Transaction pooling: what the client believes its session holds, re-created on each server connection.
    var clientSession = TransactionPoolingSession()
    /// LISTENs whose channel the listener connection has not confirmed yet: until then, what the server sends the
    /// client (the LISTEN's answer among it) is gathered but not flushed.
    var listenConfirmationsPending = 0
    /// Notifications that came while the client was inside a transaction: delivered when it ends.
    var pendingNotifications: [ByteBuffer] = []
    /// Schema routing of the client's Query and Parse messages (it remembers the last one: drivers repeat them).
    var rewriteStage = RewriteStage()

    init(runtime: ProxyRuntime, eventLoop: RelayLoop, loopIndex: Int, descriptor: CInt, remoteAddress: String) {
        self.runtime = runtime
        self.eventLoop = eventLoop
        self.loopIndex = loopIndex
        self.waiterID = runtime.nextClientID()
        self.remoteAddress = remoteAddress
        self.proxyKey = runtime.cancelRegistry.makeKey()
        self.phase = .startup(runtime.makeClientStartupStateMachine())
        self.socket = RelaySocket(descriptor: descriptor, loop: eventLoop, delegate: self)
    }

    /// The state other threads (metrics, admin console) may read; updated at each transition.
    enum PublicState: UInt8, CustomStringConvertible {
        case login, idle, waiting, active, admin, closing

        var description: String {
            switch self {
            case .login: return "login"
            case .idle: return "idle"
            case .waiting: return "waiting"
            case .active: return "active"
            case .admin: return "admin"
            case .closing: return "closing"
            }
        }
    }

    let publicStateStorage = Atomic<UInt8>(PublicState.login.rawValue)

    var publicState: PublicState {
        PublicState(rawValue: self.publicStateStorage.load(ordering: .relaxed)) ?? .closing
    }

    @inline(__always)
    func setPublicState(_ state: PublicState) {
        self.publicStateStorage.store(state.rawValue, ordering: .relaxed)
    }

    // MARK: Socket events

    /// Starts the session on the accepted socket (on its loop).
    func start() {
        self.socket.start()
        guard !self.socket.isClosed else { return }
        guard self.runtime.beginLogin() else {
            // Refused before anything is read: a flood of connections that never log in costs sockets, not memory.
            return self.failAndClose(.fatal(.tooManyConnections, "sorry, too many connections are logging in (max_pending_logins)"))
        }
        self.countedAsPendingLogin = true
        self.socket.sniffsDirectTLS = self.runtime.clientTLSContext != nil  // see ClientConnectionHandler+TLS.swift
        let timeout = self.runtime.loginTimeout
        if timeout > .zero {
            self.loginTimeout = self.eventLoop.scheduleTask(in: timeout) { [self] in
                self.failAndClose(.fatal(.protocolViolation, "canceling authentication due to timeout"))
            }
        }
    }

    func socketRead(_ buffer: ByteBuffer) {
        if self.inbound == nil { self.inbound = buffer } else { self.inbound!.writeImmutableBuffer(buffer) }
        switch self.phase {
        case .ready: self.relayClientMessages()
        case .startup: self.continueStartup()
        case .admin(let console): self.runAdmin(console)
        case .awaitingParameters, .closing: break
        }
        self.limitQueueWhileWaiting()
    }

    // MARK: Backpressure towards the client

    /// Client bytes the proxy keeps while no server connection is lent (the outbox and unread input) before it
    /// stops reading the client until one is.
    static let maximumQueuedWhileWaiting = 256 * 1024
    var reading = true
    /// The lent server connection's socket and its queue are full.
    var pausedByServer = false
    /// More than `maximumQueuedWhileWaiting` waits for a server connection.
    var pausedByQueue = false

    /// The lent server connection became (un)writable: a client streaming faster than the server takes its
    /// bytes (COPY FROM STDIN) waits in its own socket, not in the proxy's memory.
    func serverWritabilityChanged(_ writable: Bool) {
        self.pausedByServer = !writable
        self.updateReading()
    }

    func limitQueueWhileWaiting() {
        // With a server connection lent, unread input is at most one incomplete frame: reading must go on.
        let queued = (self.outbox?.readableBytes ?? 0) + (self.inbound?.readableBytes ?? 0)
        self.pausedByQueue = self.server == nil && queued > Self.maximumQueuedWhileWaiting
        self.updateReading()
    }

    func updateReading() {
        let on = !self.pausedByServer && !self.pausedByQueue
        guard on != self.reading else { return }
        self.reading = on
        self.socket.setReading(on)
    }

    func socketReadComplete() {
        if self.serverNeedsFlush {
            self.serverNeedsFlush = false
            self.server?.flush()
        }
    }

    func socketWritabilityChanged(_ writable: Bool) {
        // Backpressure: stop reading from the server while the client cannot keep up.
        self.server?.setReading(writable)
    }

    func socketClosed() {
        self.logTLSFailure()
        self.cleanUp()
    }

    // MARK: Ending

    /// Sends a FATAL (or ERROR) to the client and closes the connection; nobody else is affected.
    func failAndClose(_ error: ErrorFields, prefix: ByteBuffer? = nil) {
        if case .closing = self.phase { return }
        self.phase = .closing
        var writer = MessageWriter(buffer: prefix ?? self.allocator.buffer(capacity: 128))
        writer.writeError(error)
        self.socket.write(writer.buffer)
        self.socket.flushAndClose()
        // What the client held goes back now, not when its socket closes: a client that stops reading would
        // otherwise keep its server connection (and transaction) for as long as it keeps the socket open.
        self.giveBackServer()
        // The error waits behind whatever the client has not read; past the deadline the socket is closed anyway.
        let socket = self.socket!
        _ = self.eventLoop.scheduleTask(in: Self.closingDeadline) { socket.close() }
    }

    /// How long a connection being closed with an error may wait for the client to read what is queued for it.
    static let closingDeadline: TimeAmount = .seconds(5)

    /// The client is gone: give back what it held. A server connection in a clean state returns to the
    /// pool; an open transaction is rolled back first; one with a statement in flight is closed.
    func cleanUp() {
        self.phase = .closing
        self.setPublicState(.closing)
        self.loginTimeout?.cancel()
        self.idleTransactionTimer?.cancel()
        self.idleTransactionTimer = nil
        self.runtime.cancelRegistry.unregister(self)
        self.endLogin()
        if self.countedAsClient {
            self.countedAsClient = false
            self.runtime.releaseClient()
        }
        guard let service else { return }
        service.clientDetached(self)
        if self.clientSession.listensForNotifications { service.notifications.unlistenAll(self) }
        self.giveBackServer()
    }

    /// Gives back what the client holds: its place in the pool's queue, or the lent server connection (to the
    /// pool if clean, after ROLLBACK and in session pooling DISCARD ALL, closed if a statement is in flight).
    func giveBackServer() {
        guard let service else { return }
        let (how, server) = self.lease.clientGone(tracker: self.tracker, sessionPooling: self.poolMode == .session)
        if let server {
            self.pausedByServer = false
            server.setReading(true)
            server.detach()
        }
        switch how {
        case .nothing: break
        case .cancelWaiting: service.pool.cancelWaiter(self)
        case .release(let reusable): service.pool.release(server!, reusable: reusable)
        case .reset(let statements): server!.reset(with: statements)
        }
    }
}

extension ClientConnectionHandler {
    /// Graceful shutdown: a client between transactions is told why and disconnected.
    func closeIfIdleForShutdown() {
        switch self.phase {
        case .ready where self.tracker.isAtTransactionBoundary && !self.waitingForServer && self.outbox == nil:
            self.failAndClose(.fatal(.adminShutdown, "terminating connection due to administrator command"))
        case .startup, .awaitingParameters, .admin:
            self.failAndClose(.fatal(.adminShutdown, "the proxy is shutting down"))
        case .ready, .closing:
            break
        }
    }
}
