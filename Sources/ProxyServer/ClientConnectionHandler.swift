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
    private(set) var socket: RelaySocket<ClientConnectionHandler>!
    private var allocator: ByteBufferAllocator { self.socket.allocator }
    private(set) var service: Service?
    /// The server connection lent to the client, or the wait for one: one owner for both.
    private var lease = ServerLease<ServerConnection>()
    var server: ServerConnection? { self.lease.server }
    var waitingForServer: Bool { self.lease.isWaiting }
    private(set) var user: String = ""
    private(set) var database: String = ""
    private var startupMessage = StartupMessage(parameters: [])
    private var poolMode: PoolMode = .transaction
    /// Whether the service's metrics keep latency histograms (not without `metrics_listen`): no clock reads then.
    private var recordsDurations = true

    fileprivate var tracker = TransactionTracker()
    /// Client bytes not yet consumed (a partial frame, or everything before login).
    private var inbound: ByteBuffer?
    /// Client messages waiting for a server connection.
    fileprivate var outbox: ByteBuffer?
    private var serverNeedsFlush = false
    private var releaseAfterRelay = false
    private var queryStarted: NIODeadline?
    private(set) var proxyKey: BackendKey
    private var loginTimeout: Scheduled<Void>?
    private var countedAsClient = false
    /// Counted against `max_pending_logins` from the accept until authentication ends.
    private var countedAsPendingLogin = false
    /// The client's messages since it was last between transactions without a server connection, and its
    /// session as it was then: if the server connection it gets is terminated before answering anything,
    /// they are replayed on another one (see `serverTerminatedBeforeAnswering`). Nil once a server answered.
    private var replay: ReplayLog?
    /// The client sent Flush since it was last between transactions: it waits for replies that precede
    /// results (asyncpg's prepare does), so they cannot be held back for a retry.
    private var awaitsRepliesBeforeSync = false

    /// Whether the lent server connection may hold back replies that precede results: only while a retry
    /// is possible, and not for a client that waits for them before its Sync.
    var mayHoldReplies: Bool { self.replay != nil && !self.awaitsRepliesBeforeSync }
    /// Armed while the client sits inside a transaction with nothing in flight (`idle_transaction_timeout`).
    private var idleTransactionTimer: Scheduled<Void>?

    /// Transaction pooling: what the client believes its session holds, re-created on each server connection.
    private var clientSession = TransactionPoolingSession()
    /// LISTENs whose channel the listener connection has not confirmed yet: until then, what the server sends the
    /// client (the LISTEN's answer among it) is gathered but not flushed.
    private var listenConfirmationsPending = 0
    /// Notifications that came while the client was inside a transaction: delivered when it ends.
    private var pendingNotifications: [ByteBuffer] = []
    /// Schema routing of the client's Query and Parse messages (it remembers the last one: drivers repeat them).
    private var rewriteStage = RewriteStage()

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

    private let publicStateStorage = Atomic<UInt8>(PublicState.login.rawValue)

    var publicState: PublicState {
        PublicState(rawValue: self.publicStateStorage.load(ordering: .relaxed)) ?? .closing
    }

    @inline(__always)
    private func setPublicState(_ state: PublicState) {
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
    private var reading = true
    /// The lent server connection's socket and NIO's queue for it are full.
    private var pausedByServer = false
    /// More than `maximumQueuedWhileWaiting` waits for a server connection.
    private var pausedByQueue = false

    /// The lent server connection became (un)writable: a client streaming faster than the server takes its
    /// bytes (COPY FROM STDIN) waits in its own socket, not in the proxy's memory.
    func serverWritabilityChanged(_ writable: Bool) {
        self.pausedByServer = !writable
        self.updateReading()
    }

    private func limitQueueWhileWaiting() {
        // With a server connection lent, unread input is at most one incomplete frame: reading must go on.
        let queued = (self.outbox?.readableBytes ?? 0) + (self.inbound?.readableBytes ?? 0)
        self.pausedByQueue = self.server == nil && queued > Self.maximumQueuedWhileWaiting
        self.updateReading()
    }

    private func updateReading() {
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

    // MARK: Login

    private func continueStartup() {
        while case .startup(var machine) = self.phase, self.inbound != nil {
            let actions: [ClientStartupStateMachine.Action]
            if machine.isAwaitingStartupPacket {
                let request: StartupRequest?
                do { request = try StartupRequest.decode(from: &self.inbound!) } catch {
                    return self.failAndClose(.fatal(.protocolViolation, error.description))
                }
                guard let request else { return }
                if case .startup = request { self.noteTLS(in: &machine) }
                actions = machine.received(request)
            } else {
                let frame: Frame?
                do {
                    frame = try self.inbound!.peekFrame(
                        at: self.inbound!.readerIndex, maximumLength: ProtocolLimits.maxAuthenticationMessageLength)
                } catch {
                    return self.failAndClose(.fatal(.protocolViolation, error.description))
                }
                guard let frame else { return }
                guard frame.id == FrontendMessageID.password else {
                    return self.failAndClose(.fatal(.protocolViolation, "expected password response, got message type \(frame.id)"))
                }
                let payload = self.inbound!.getSlice(at: frame.payloadStart, length: frame.payloadLength)!
                self.inbound!.moveReaderIndex(forwardBy: frame.totalLength)
                actions = [machine.receivedPassword(payload)]
            }
            self.phase = .startup(machine)
            if self.inbound!.readableBytes == 0 { self.inbound = nil }
            for action in actions { self.run(action) }
        }
    }

    private func run(_ action: ClientStartupStateMachine.Action) {
        var writer = MessageWriter(buffer: self.allocator.buffer(capacity: 256))
        switch action {
        case .refuseEncryption:
            writer.buffer.writeInteger(UInt8(ascii: "N"))
            self.send(writer.buffer)
        case .acceptEncryption:
            self.startClientTLS(plaintextFollowed: self.inbound != nil)  // see ClientConnectionHandler+TLS.swift
        case .cancel(let key):
            self.runtime.cancelRegistry.cancel(key, runtime: self.runtime)
            self.phase = .closing
            self.socket.close()
        case .negotiateProtocolVersion(let minor, let options):
            writer.writeNegotiateProtocolVersion(newestMinor: minor, unsupportedOptions: options)
            self.socket.write(writer.buffer)
        case .requestAuthentication(let request):
            switch request {
            case .md5(let salt): writer.writeAuthenticationMD5Password(salt: (salt[0], salt[1], salt[2], salt[3]))
            case .sasl(let mechanisms): writer.writeAuthenticationSASL(mechanisms: mechanisms)
            case .saslContinue(let data): writer.writeAuthenticationSASLContinue(data)
            }
            self.send(writer.buffer)
        case .authenticated(let user, let database, let startup, let saslFinal):
            if let saslFinal { writer.writeAuthenticationSASLFinal(saslFinal) }
            self.user = user
            self.database = database
            self.startupMessage = startup
            self.authenticated(writer: writer)
        case .fail(let error):
            if error.sqlState == SQLState.invalidPassword.code {
                self.runtime.logger.info("authentication failed", metadata: ["client": "\(self.remoteAddress)", "user": "\(self.startupUser)", "sqlstate": "28P01"])
            }
            self.failAndClose(error)
        }
    }

    private var startupUser: String { self.startupMessage.user ?? "" }

    private func endLogin() {
        guard self.countedAsPendingLogin else { return }
        self.countedAsPendingLogin = false
        self.runtime.endLogin()
    }

    private func authenticated(writer: MessageWriter) {
        var writer = writer
        self.endLogin()
        guard self.runtime.admitClient() else {
            return self.failAndClose(.fatal(.tooManyConnections, "sorry, too many clients already"), prefix: writer.buffer)
        }
        self.countedAsClient = true
        if self.database == self.runtime.adminDatabase {
            guard self.runtime.isAdmin(self.user) else {
                return self.failAndClose(
                    .fatal(.insufficientPrivilege, "user \"\(self.user)\" may not use the admin console"), prefix: writer.buffer)
            }
            writer.writeAuthenticationOk()
            let console = AdminConsole(runtime: self.runtime)
            self.phase = .admin(console)
            self.setPublicState(.admin)
            console.writeGreeting(into: &writer)
            self.loginTimeout?.cancel()
            self.send(writer.buffer)
            return
        }
        guard let service = self.runtime.service(named: self.database) else {
            return self.failAndClose(.fatal(.invalidCatalogName, "database \"\(self.database)\" does not exist"), prefix: writer.buffer)
        }
        self.service = service
        self.poolMode = service.poolMode
        self.recordsDurations = service.metrics.recordsDurations
        service.clientAttached(self)
        writer.writeAuthenticationOk()
        self.socket.write(writer.buffer)
        self.runtime.logger.debug("client logged in", metadata: ["client": "\(self.remoteAddress)", "user": "\(self.user)", "service": "\(service.name)"])
        if service.serverParameters != nil, self.poolMode == .transaction {
            self.finishStartup()
        } else {
            self.phase = .awaitingParameters
            self.requestServer()
        }
    }

    /// ParameterStatus, BackendKeyData, ReadyForQuery: the client may now send queries. `kept` is the server
    /// connection a session-pooling client keeps: the client gets its parameters and its real process ID (with
    /// a secret of the proxy's own, which the cancel registry maps to this client and so to that connection).
    private func finishStartup(keeping kept: ServerConnection? = nil) {
        guard let service else { return }
        self.loginTimeout?.cancel()
        self.loginTimeout = nil
        var writer = MessageWriter(buffer: self.allocator.buffer(capacity: 512))
        let serverParameters = kept?.parameters ?? service.serverParameters ?? []
        let clientValues = SessionSettings.startupValues(self.startupMessage.parameters)
        var reported: [String: String] = [:]
        for parameter in serverParameters {
            reported[parameter.name.lowercased()] = parameter.value
            // Settings the client chose itself are reported back as the client's own; the server reports
            // its normalised spelling once they are applied on a server connection.
            var value = parameter.value
            if let own = clientValues[parameter.name.lowercased()],
               SessionSettings.loosely(own) != SessionSettings.loosely(parameter.value) {
                // The encoding in the server's spelling (`eucjp` -> EUC_JP), as the server reports it once applied.
                value = parameter.name.lowercased() == "client_encoding" ? EncodingNames.canonical(own) ?? own : own
            }
            writer.writeParameterStatus(name: parameter.name, value: value)
        }
        self.clientSession.begin(startupSettings: service.canonicalSettings(
            SessionSettings(startupParameters: self.startupMessage.parameters, serverReported: reported)))
        if let kept, let serverKey = kept.backendKey {
            self.proxyKey = self.runtime.cancelRegistry.makeKey(processID: serverKey.processID)
            // The client's startup settings go first, ahead of anything it sends.
            self.prepareLease(on: kept)
        }
        writer.writeBackendKeyData(self.proxyKey)
        writer.writeReadyForQuery(.idle)
        self.runtime.cancelRegistry.register(self)
        self.phase = .ready
        self.setPublicState(.idle)
        self.send(writer.buffer)
        if self.inbound != nil { self.relayClientMessages() }
    }

    // MARK: Relay, client -> server

    private func relayClientMessages() {
        guard var buffer = self.inbound else { return }
        self.inbound = nil
        if let timer = self.idleTransactionTimer {
            timer.cancel()
            self.idleTransactionTimer = nil
        }
        if self.replay == nil, self.lease.isFree, self.poolMode == .transaction, self.outbox == nil,
           self.tracker.isAtTransactionBoundary {
            self.startReplayLog()
            self.awaitsRepliesBeforeSync = false
        }
        var logStart = buffer.readerIndex
        var scanner = FrontendStreamScanner(startingAt: buffer.readerIndex)
        var runStart = scanner.index
        while true {
            let message: FrontendMessage
            do {
                guard let next = try scanner.next(in: buffer) else { break }
                message = next
            } catch {
                return self.failAndClose(.fatal(.protocolViolation, error.description))
            }
            let frame = message.frame
            let id = frame.id
            switch id {
            case FrontendMessageID.query, FrontendMessageID.parse:
                let text = message.statementText
                var handling = Handling.notMine
                if self.poolMode == .transaction, id == FrontendMessageID.parse, self.server == nil, runStart == frame.start,
                   let end = self.answerPreparesLocally(from: message, in: buffer) {
                    scanner.index = end
                    runStart = end
                    // Answered here: never to be replayed.
                    logStart = end
                    self.startReplayLog()
                    continue
                }
                if self.poolMode == .transaction, let text {
                    handling = self.relayStatementSharingServers(frame, text: text, in: buffer, runStart: &runStart)
                    if handling == .waitForServer {
                        guard self.serverLentNow(buffer, before: frame.start, runStart: &runStart) else {
                            return self.logForReplay(buffer, from: logStart, to: frame.start)
                        }
                        scanner.index = frame.start  // this message again, on the connection lent now
                        continue
                    }
                }
                if self.recordsDurations, self.queryStarted == nil { self.queryStarted = .now() }
                if id == FrontendMessageID.query { self.service?.metrics.countQuery() }
                // Read per statement: a reload's mapping change applies to the next statement.
                var replacement: ByteBuffer?
                if handling == .notMine, let text, let rewriter = self.service?.activeRewriter {
                    replacement = self.rewriteStage.rewrittenMessage(frame, text: text, in: buffer, with: rewriter)
                }
                if replacement != nil {
                    self.emit(buffer, from: runStart, to: frame.start)
                    self.emitOwned(replacement!)
                    runStart = frame.start + frame.totalLength
                }
                if id == FrontendMessageID.parse, handling != .replaced { self.clientSession.forwarded(id) }
                if id == FrontendMessageID.parse, self.poolMode == .transaction, handling != .replaced,
                   message.namesUnnamedStatement {
                    self.clientSession.remember(unnamed: replacement ?? buffer.getSlice(at: frame.start, length: frame.totalLength)!,
                                  effects: self.clientSession.pendingUnnamedEffects)
                    self.clientSession.pendingUnnamedEffects = []
                }
            case FrontendMessageID.bind, FrontendMessageID.describe, FrontendMessageID.close:
                if self.poolMode == .transaction {
                    let handling = self.relayStatementReference(message, in: buffer, runStart: &runStart)
                    if handling == .waitForServer {
                        guard self.serverLentNow(buffer, before: frame.start, runStart: &runStart) else {
                            return self.logForReplay(buffer, from: logStart, to: frame.start)
                        }
                        scanner.index = frame.start
                        continue
                    }
                    if id == FrontendMessageID.close, handling != .replaced { self.clientSession.forwarded(id) }
                }
            case FrontendMessageID.sync, FrontendMessageID.functionCall:
                break
            case FrontendMessageID.flush:
                self.awaitsRepliesBeforeSync = true
            case FrontendMessageID.execute:
                if self.recordsDurations, self.queryStarted == nil { self.queryStarted = .now() }
                self.service?.metrics.countQuery()
            case FrontendMessageID.terminate:
                self.emit(buffer, from: runStart, to: frame.start)
                self.phase = .closing
                self.socket.close()
                return
            default:
                break  // COPY data and its end; the scanner refuses what a client may not send
            }
            self.tracker.clientSent(id)
            if message.isSyncPoint { self.clientSession.syncPointSent() }
        }
        let index = scanner.index
        self.emit(buffer, from: runStart, to: index)
        self.logForReplay(buffer, from: logStart, to: index)
        buffer.moveReaderIndex(to: index)
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            self.inbound = buffer
        }
    }

    /// Keeps client bytes consumed from `buffer` while a replay is possible; gives up past
    /// `ReplayLog.maximumSize` (COPY data, huge statements).
    private func logForReplay(_ buffer: ByteBuffer, from start: Int, to end: Int) {
        guard self.replay != nil, end > start else { return }
        if !self.replay!.append(buffer.getSlice(at: start, length: end - start)!) { self.replay = nil }
    }

    /// The first reply of the lent server connection is on its way: nothing can be replayed any more.
    func serverStartedAnswering() {
        self.replay = nil
    }

    /// A prepared statement's cached plan went stale (DDL changed its result columns) and the server said
    /// so before any result, outside a transaction, for the client's only sync point in flight: deallocate
    /// the connection's statements and send the client's messages again; the relay prepares them anew.
    /// At most once per transaction; otherwise (or inside a transaction) the error reaches the client.
    func retryAfterStalePlan(_ server: ServerConnection, replies: ByteBuffer) -> Bool {
        guard self.server === server, let replay = self.replay, !replay.retriedStalePlan,
              self.tracker.pendingSyncPoints == 1, let service else { return false }
        server.swallow(replies)
        server.session.statements.removeAll()
        server.writeOwnQuery("DEALLOCATE ALL")
        server.restartLease()
        self.restore(replay)
        self.replay!.retriedStalePlan = true
        service.metrics.transparentRetries.increment()
        self.runtime.logger.info("prepared statement's cached plan changed result type; prepared again and retried", metadata: [
            "service": "\(service.name)", "client": "\(self.remoteAddress)",
        ])
        self.relayClientMessages()
        self.serverNeedsFlush = false
        server.flush()
        return true
    }

    /// The client's session as it was before the logged messages, which become unread input again.
    private func restore(_ replay: ReplayLog) {
        self.releaseAfterRelay = false
        self.clientSession.restore(replay.session)
        self.tracker = replay.tracker
        self.inbound = replay.bytesToReplay(followedBy: self.inbound)
        self.replay = replay.emptied
    }

    /// A replay log from here: the session as it is now, no bytes yet.
    private func startReplayLog() {
        self.replay = ReplayLog(session: self.clientSession.snapshot, tracker: self.tracker)
    }

    /// The server connection was terminated before any result (see `ReplyOpening.terminated`): restore the session as it was before these messages and
    /// send them again on another connection. Returns false when that is not possible (the client was in
    /// a transaction already, or too much went out); the termination then reaches the client.
    func serverTerminatedBeforeAnswering(_ server: ServerConnection) -> Bool {
        guard self.server === server, let replay = self.replay, let service else { return false }
        _ = self.lease.end(server)
        self.restore(replay)
        // Logged again from scratch by the relay (the new connection starts a new lease).
        self.replay = nil
        service.metrics.transparentRetries.increment()
        self.runtime.logger.info("server connection terminated before answering; retrying on another", metadata: [
            "service": "\(service.name)", "client": "\(self.remoteAddress)", "host": "\(server.host)",
        ])
        self.relayClientMessages()
        if self.serverNeedsFlush, let next = self.server {
            self.serverNeedsFlush = false
            next.flush()
        }
        return true
    }

    /// The statement text with table names rewritten; nil when it stays as it is.
    private func rewritten(_ text: Range<Int>, in buffer: ByteBuffer, with rewriter: SchemaRewriter) -> [UInt8]? {
        self.rewriteStage.rewrittenText(text, in: buffer, with: rewriter)
    }

    // MARK: Transaction pooling: the client's session across server connections

    enum Handling: Equatable {
        /// Not a message this path deals with: it goes on as the client sent it (tables rewritten).
        case notMine
        /// Dealt with, and it goes on exactly as the client sent it.
        case passed
        /// Dealt with: what replaces it was sent and the run of untouched bytes ends before it.
        case replaced
        /// It depends on the server connection it lands on, and none is lent yet.
        case waitForServer
    }

    /// Query and Parse when server connections are shared: named Parse goes out under the proxy's name for
    /// the statement (or not at all when the server holds it already); session commands update what the
    /// client's session is meant to hold; what cannot work gets a clear error from the server.
    private func relayStatementSharingServers(_ frame: Frame, text: Range<Int>, in buffer: ByteBuffer, runStart: inout Int) -> Handling {
        guard let service else { return .notMine }
        let named = frame.id == FrontendMessageID.parse && text.lowerBound > frame.payloadStart + 1
        let commands = buffer.withBytes(of: text) { SessionCommand.find(in: $0) }
        if commands.isEmpty && !named { return .notMine }
        guard let server = self.server else { return .waitForServer }

        var newText: [UInt8]?
        var effects: [SessionCommand] = []
        let view = buffer.readableBytesView[text]
        let significant = view.lastIndex(where: { $0 != UInt8(ascii: ";") && $0 > 0x20 }).map { view[..<$0] }
            ?? view[...]
        let singleStatement = commands.count == 1 && !significant.contains(UInt8(ascii: ";"))
        let listens = commands.contains { if case .listen = $0 { true } else { false } }
        if case .sessionOnly(let what)? = commands.first(where: { if case .sessionOnly = $0 { true } else { false } }) {
            newText = Array(Self.refusal(what, service: service.name).utf8)
        } else if case .executeReserved(let name)? = commands.first(where: {
            if case .executeReserved = $0 { true } else { false }
        }) {
            let message = "prepared statement \"\(name)\" does not exist"
            newText = Array(Self.raising("invalid_sql_statement_name", message).utf8)
        } else if listens, !singleStatement {
            newText = Array(Self.refusal("LISTEN among several statements in one query", service: service.name).utf8)
        } else if named {
            // A named statement changes the session where and when it is bound (maybe on another server
            // connection, maybe several times), not where it is parsed.
            effects = commands
            if listens { newText = TransactionPoolingSession.listenStandIn }
        } else {
            for command in commands {
                if let replacement = self.apply(command, on: server, singleStatement: singleStatement) { newText = replacement }
            }
            if frame.id == FrontendMessageID.parse { effects = commands }
        }
        if newText == nil, let rewriter = service.activeRewriter { newText = self.rewritten(text, in: buffer, with: rewriter) }

        guard named else {
            guard let newText else {
                if frame.id == FrontendMessageID.parse { self.clientSession.pendingUnnamedEffects = effects }
                return .passed
            }
            let replacement = RewriteStage.replacing(text, of: frame, in: buffer, with: newText)
            self.emit(buffer, from: runStart, to: frame.start)
            self.emitOwned(replacement)
            runStart = frame.start + frame.totalLength
            if frame.id == FrontendMessageID.parse {
                self.clientSession.remember(unnamed: replacement, effects: effects)
                self.clientSession.forwarded(FrontendMessageID.parse)
            }
            return .replaced
        }
        let end = frame.start + frame.totalLength
        let (name, body) = self.statementIdentity(frame, in: buffer, text: text, newText: newText)
        self.emit(buffer, from: runStart, to: frame.start)
        runStart = end
        self.serverNeedsFlush = true
        self.clientSession.parseNamed(
            name, body: body, effects: effects, catalogNumber: { service.statementCatalog.number(for: body) },
            server: &server.session, filter: &server.filter, pendingSyncPoints: self.tracker.pendingSyncPoints,
            write: { server.write($0) })
        return .replaced
    }

    /// A named Parse: the client's name, and the statement's identity (its text as the server gets it, the
    /// NUL, the parameter types).
    private func statementIdentity(_ frame: Frame, in buffer: ByteBuffer, text: Range<Int>, newText: [UInt8]?) -> (name: String, body: [UInt8]) {
        let name = String(decoding: buffer.readableBytesView[frame.payloadStart..<(text.lowerBound - 1)], as: UTF8.self)
        var body = newText ?? Array(buffer.readableBytesView[text])
        body.append(contentsOf: buffer.readableBytesView[text.upperBound..<(frame.start + frame.totalLength)])
        return (name, body)
    }

    /// `PQprepare` and friends (named Parse messages up to a Sync) from a client between transactions,
    /// for statements some server already accepted: answered here, without waiting for a server
    /// connection — the statement is prepared where it is first used. Waiting would be worse than slow:
    /// a single-threaded client (pgbench -M prepared) blocked in a synchronous prepare cannot finish the
    /// transactions its other connections hold server connections for. Returns where the Sync ends.
    private func answerPreparesLocally(from first: FrontendMessage, in buffer: ByteBuffer) -> Int? {
        // Only a named Parse starts such a run (the unnamed ones of every extended-protocol query do not).
        guard !first.namesUnnamedStatement, !self.waitingForServer,
              self.outbox == nil, self.tracker.isAtTransactionBoundary, let service else { return nil }
        var scanner = FrontendStreamScanner(startingAt: first.frame.start)
        var prepared: [(String, ClientPreparedStatement)] = []
        var writer = MessageWriter(buffer: self.allocator.buffer(capacity: 32))
        while let next = try? scanner.next(in: buffer) {
            switch next.id {
            case FrontendMessageID.parse:
                guard let text = next.statementText, !next.namesUnnamedStatement else { return nil }
                let commands = buffer.withBytes(of: text) { SessionCommand.find(in: $0) }
                guard commands.isEmpty else { return nil }
                let newText = service.activeRewriter.flatMap { self.rewritten(text, in: buffer, with: $0) }
                let (name, body) = self.statementIdentity(next.frame, in: buffer, text: text, newText: newText)
                let number = service.statementCatalog.number(for: body)
                guard service.statementCatalog.isVerified(number), self.clientSession.preparedStatements[name] == nil,
                      !prepared.contains(where: { $0.0 == name }) else { return nil }
                let parse = TransactionPoolingSession.parseMessage(named: PreparedStatementCatalog.serverName(number), body: body)
                prepared.append((name, ClientPreparedStatement(number: number, parse: parse)))
                writer.writeMessage(BackendMessageID.parseComplete) { _ in }
            case FrontendMessageID.flush:
                break
            case FrontendMessageID.sync:
                for (name, statement) in prepared { self.clientSession.preparedStatements[name] = statement }
                writer.writeReadyForQuery(.idle)
                self.send(writer.buffer)
                return next.end
            default:
                return nil
            }
        }
        return nil
    }

    /// Bind, Describe and Close of a named statement: the client's name becomes the proxy's, and the
    /// statement is prepared first on a server connection that lacks it.
    private func relayStatementReference(_ message: FrontendMessage, in buffer: ByteBuffer, runStart: inout Int) -> Handling {
        let frame = message.frame
        let end = message.end
        guard let nameRange = message.statementName else { return .notMine }
        if nameRange.isEmpty {
            return self.relayUnnamedStatementReference(frame, in: buffer, runStart: &runStart)
        }
        let (nameStart, nameEnd) = (nameRange.lowerBound, nameRange.upperBound)
        let name = String(decoding: buffer.readableBytesView[nameRange], as: UTF8.self)
        if frame.id == FrontendMessageID.close {
            self.emit(buffer, from: runStart, to: frame.start)
            self.emitOwned(self.clientSession.closeNamed(name))
            runStart = end
            return .replaced
        }
        let serverName: String
        if let statement = self.clientSession.preparedStatements[name] {
            guard let server = self.server else { return .waitForServer }
            self.emit(buffer, from: runStart, to: frame.start)
            self.clientSession.ensurePrepared(
                statement, server: &server.session, filter: &server.filter,
                pendingSyncPoints: self.tracker.pendingSyncPoints, write: { server.write($0) })
            if frame.id == FrontendMessageID.bind, !statement.effects.isEmpty {
                for command in statement.effects { _ = self.apply(command, on: server, singleStatement: false) }
            }
            serverName = PreparedStatementCatalog.serverName(statement.number)
        } else {
            // Unknown to us: the server answers 26000 naming the client's statement, as PostgreSQL would;
            // under its escaped name when it could be mistaken for one of the proxy's.
            let escaped = ProxyStatementName.escapedClientName(name)
            guard escaped != name else { return .notMine }
            self.emit(buffer, from: runStart, to: frame.start)
            serverName = escaped
        }
        var writer = MessageWriter(buffer: self.allocator.buffer(capacity: frame.totalLength + 16))
        writer.writeMessage(frame.id) { out in
            out.writeImmutableBuffer(buffer.getSlice(at: frame.payloadStart, length: nameStart - frame.payloadStart)!)
            out.writeString(serverName)
            out.writeImmutableBuffer(buffer.getSlice(at: nameEnd, length: end - nameEnd)!)
        }
        self.emitOwned(writer.buffer)
        runStart = end
        return .replaced
    }

    /// Bind or Describe of the unnamed statement after a Sync released the connection it was parsed on
    /// (`PQprepare(conn, "", ...)` then `PQexecPrepared`): the client's last unnamed Parse goes first on the
    /// connection it lands on. Within one lease the server's own unnamed statement is the client's.
    private func relayUnnamedStatementReference(_ frame: Frame, in buffer: ByteBuffer, runStart: inout Int) -> Handling {
        guard frame.id != FrontendMessageID.close, !self.clientSession.unnamedStatementOnServer,
              self.clientSession.unnamedStatement != nil else { return .notMine }
        guard let server = self.server else { return .waitForServer }
        self.emit(buffer, from: runStart, to: frame.start)
        runStart = frame.start
        let effects = self.clientSession.parseUnnamedAgainIfNeeded(
            filter: &server.filter, pendingSyncPoints: self.tracker.pendingSyncPoints, write: { server.write($0) })
        self.serverNeedsFlush = true
        // Its session commands run where it is parsed again.
        for command in effects ?? [] { _ = self.apply(command, on: server, singleStatement: false) }
        return .passed
    }

    /// One session command of the client's, on the server connection `server`: the session keeps track, the
    /// listener connection learns what the client listens to. Returns the text to send instead of the client's
    /// when the statement needs translating.
    private func apply(_ command: SessionCommand, on server: ServerConnection, singleStatement: Bool) -> [UInt8]? {
        let outcome = self.clientSession.apply(command, server: &server.session, singleStatement: singleStatement)
        switch outcome.notifications {
        case .listen(let channel)?:
            // The LISTEN's reply reaches the client once the listener connection listens (see `flushToClient`).
            self.listenConfirmationsPending += 1
            self.service?.notifications.listen(self, to: channel) { [self] in
                self.eventLoop.execute { self.listenConfirmed() }
            }
        case .unlisten(let channel)?:
            self.service?.notifications.unlisten(self, from: channel)
        case .unlistenAll?:
            self.service?.notifications.unlistenAll(self)
        case nil:
            break
        }
        return outcome.replacementText
    }

    /// The prepared statements the client's statement failed to create (its Parse erred or was skipped).
    func preparedStatementFailed(_ name: String, number: Int?) {
        self.clientSession.preparedStatementFailed(name, number: number)
    }

    /// Before the client's first message on a newly lent server connection: what the connection's session
    /// state says must run first (deallocations, a reset after a change the proxy cannot follow, the client's
    /// settings), as queries of the proxy's own.
    private func prepareLease(on server: ServerConnection) {
        for statement in server.session.leasePlan(for: self.clientSession.desiredSettings) {
            server.writeOwnQuery(statement)
            self.serverNeedsFlush = true
        }
    }

    /// The message at `index` depends on the server connection it lands on and none is lent: what came before
    /// goes on (or into the outbox) and a connection is asked for. True when the pool lent one at once (the relay
    /// goes on with that message); false when the relay stops there until one comes (`serverAssigned`).
    private func serverLentNow(_ buffer: ByteBuffer, before index: Int, runStart: inout Int) -> Bool {
        self.emit(buffer, from: runStart, to: index)
        runStart = index
        if self.server != nil || self.requestServer() { return true }
        // The bytes before `index` are logged for a replay now: the relay starts at `index` when it resumes.
        var rest = buffer
        rest.moveReaderIndex(to: index)
        self.inbound = rest
        return false
    }

    /// A statement that makes the server raise the error itself, so it lands where the client's statement
    /// would have run, and an open transaction block fails as it would have.
    static func refusal(_ what: String, service: String) -> String {
        let message = "\(what) is not supported in transaction pooling mode: service \"\(service)\" shares server connections between clients (use pool_mode: session for this)"
        return Self.raising("feature_not_supported", message)
    }

    /// A statement that makes the server raise `condition` (a PL/pgSQL condition name) with `message`.
    static func raising(_ condition: String, _ message: String) -> String {
        "DO $schemaproxy$BEGIN RAISE EXCEPTION USING ERRCODE = '\(condition)', "
            + "MESSAGE = \(SQLQuoting.literal(message)); END$schemaproxy$"
    }

    /// Sends client bytes [start, end) of `buffer` to the server, or keeps them until one is lent.
    @inline(__always)
    private func emit(_ buffer: ByteBuffer, from start: Int, to end: Int) {
        guard end > start else { return }
        self.emitOwned(buffer.getSlice(at: start, length: end - start)!)
    }

    private func emitOwned(_ slice: ByteBuffer) {
        if self.lease.isFree { self.requestServer() }
        if let server = self.server {
            server.write(slice)
            self.serverNeedsFlush = true
        } else {
            var slice = slice
            if self.outbox == nil { self.outbox = slice } else { self.outbox!.writeBuffer(&slice) }
        }
    }

    // MARK: Server connections

    /// Asks for a server connection unless one is lent or asked for. True when the pool lent one at once: it
    /// is attached (see `attach`) and the caller goes on relaying on it; nothing runs on behalf of the relay
    /// from in here, so the relay never re-enters itself.
    @discardableResult
    private func requestServer() -> Bool {
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
    private func attach(_ server: ServerConnection) -> Bool {
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
        guard case .ready = self.phase, !self.tracker.hasUnsyncedMessages else {
            var fatal = fields
            fatal.severity = "FATAL"
            return self.failAndClose(fatal)
        }
        self.outbox = nil
        var writer = MessageWriter(buffer: self.allocator.buffer(capacity: 256))
        writer.writeError(fields)
        for _ in 0..<max(1, self.tracker.pendingSyncPoints) { writer.writeReadyForQuery(.idle) }
        self.tracker.reset()
        self.queryStarted = nil
        self.send(writer.buffer)
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
    private func armIdleTransactionTimer() {
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

    private func listenConfirmed() {
        self.listenConfirmationsPending = max(0, self.listenConfirmationsPending - 1)
        if self.listenConfirmationsPending == 0 { self.socket.flush() }
    }

    /// Sends `buffer`, after whatever was written before it, now.
    private func send(_ buffer: ByteBuffer) {
        self.socket.send(buffer)
    }

    private func releaseServer() {
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

    private func deliverPendingNotifications() {
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

    // MARK: Admin console

    private func runAdmin(_ console: AdminConsole) {
        while var buffer = self.inbound {
            let frame: Frame?
            do { frame = try buffer.peekFrame(at: buffer.readerIndex) } catch {
                return self.failAndClose(.fatal(.protocolViolation, error.description))
            }
            guard let frame else { return }
            let payload = buffer.getSlice(at: frame.payloadStart, length: frame.payloadLength)!
            buffer.moveReaderIndex(forwardBy: frame.totalLength)
            self.inbound = buffer.readableBytes > 0 ? buffer : nil
            var writer = MessageWriter(buffer: self.allocator.buffer(capacity: 1024))
            switch frame.id {
            case FrontendMessageID.query:
                var payload = payload
                let sql = payload.readNullTerminatedString() ?? ""
                console.execute(sql, into: &writer)
                self.send(writer.buffer)
            case FrontendMessageID.terminate:
                self.phase = .closing
                self.socket.close()
                return
            default:
                writer.writeError(.error(.featureNotSupported, "the admin console supports only simple queries"))
                writer.writeReadyForQuery(.idle)
                self.send(writer.buffer)
            }
        }
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
    private func cleanUp() {
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
    private func giveBackServer() {
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
