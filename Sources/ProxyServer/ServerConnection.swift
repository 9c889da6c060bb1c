import Logging
import DataPlane
import NIOCore
import PostgresWire
import ProxyConfig
import ProxySession
import Synchronization

/// One connection to a PostgreSQL server, owned by a service's pool. It logs in (driving
/// `ServerStartupStateMachine`), then relays what the server sends to the client it is lent to, following
/// message boundaries with `BackendStreamScanner` so the client's `TransactionTracker` sees every
/// ReadyForQuery. All of it runs on the connection's event loop, which is also its client's.
final class ServerConnection: RelaySocketDelegate, @unchecked Sendable {  // used on its loop only

    enum Phase {
        case connecting
        case startup
        case idle
        case leased(ClientConnectionHandler)
        /// Cleaning up after a client (ROLLBACK / DISCARD ALL): responses are swallowed.
        case resetting(pendingReady: Int)
        /// Running `check(query:timeout:)`: the answer is read here, never relayed.
        case checking(ServerCheck)
        /// The service's listener connection (LISTEN/NOTIFY under transaction pooling): notifications go to the hub.
        case listening(NotificationHub)
        case closed
    }

    let service: Service
    let poolID: Int
    let host: HostAndPort
    let eventLoop: RelayLoop
    let loopIndex: Int

    private var phase: Phase = .connecting {
        didSet { self.publishedState.store(Self.publicState(of: self.phase).rawValue, ordering: .relaxed) }
    }
    /// The server's socket, once connected; it owns this connection while the loop has it registered.
    private(set) var socket: RelaySocket<ServerConnection>?
    private static let allocator = ByteBufferAllocator()
    var startup: ServerStartupStateMachine
    private var startupBuffer: ByteBuffer?
    private let startupPromise: EventLoopPromise<Void>
    private var scanner = BackendStreamScanner()
    private var resetEndedIdle = true
    private(set) var parameters: [ServerParameter] = []
    /// The connect in progress (until `attach`): cancelled when the connection is closed before it completes.
    var connector: Connector?
    /// The server's BackendKeyData, published for other threads (the admin console): 0 until startup is done.
    private let publishedBackendKey = Atomic<UInt64>(0)
    /// The phase as other threads may read it (`stateDescription`), updated at every transition.
    private let publishedState = Atomic<UInt8>(PublicState.connecting.rawValue)
    /// The SSLRequest exchange of this attempt (see ServerConnection+TLS.swift); `ServerConnector` sets the attempt.
    var tlsNegotiation = ServerTLSNegotiation(attempt: .plaintext)

    /// What of the server's replies reaches the client while the proxy has messages of its own in flight.
    var filter = ResponseFilter()
    /// The settings and prepared statements of the proxy's this connection holds (transaction pooling).
    var session: ServerSessionState
    /// Cancels in flight to this connection's backend, and a release waiting for them.
    private var cancelHold = CancelHold()
    /// Until results begin, replies that precede them (ParseComplete, BindComplete, descriptions...) are held
    /// back, so that if a "terminating connection" follows, the client's messages can go to another server
    /// connection as if nothing happened (see `FirstReplyGate`).
    private var firstReply = FirstReplyGate()
    /// The last message relayed was an ErrorResponse (a FATAL, when the connection then closes).
    private var lastMessageWasError = false

    /// The backend settings this connection logged in with (a reload may change the service's meanwhile).
    let backend: BackendURL
    /// The server's own search_path, when this connection was opened to learn it (`search_path: auto`): it then
    /// started without the proxy's search_path and must not serve clients.
    private(set) var learntSearchPath: String?

    /// `mayLearnSearchPath`: a pool connection, which learns the server's own search_path when `search_path: auto`
    /// needs it and it is not known yet. Other connections (health probes, the listener) start without one then.
    init(service: Service, poolID: Int, host: HostAndPort, eventLoop: RelayLoop, loopIndex: Int,
         mayLearnSearchPath: Bool = false) {
        self.service = service
        self.poolID = poolID
        self.host = host
        self.eventLoop = eventLoop
        self.loopIndex = loopIndex
        let (backend, searchPath) = service.startupSettings
        self.backend = backend
        var parameters = backend.parameters.map { (name: $0.key, value: $0.value) }
        var learnSearchPath = false
        switch searchPath {
        case .value(let value): parameters.append((name: "search_path", value: value))
        case .learnServerDefault: learnSearchPath = mayLearnSearchPath
        case .serverDefault: break
        }
        if !parameters.contains(where: { $0.name == "application_name" }) {
            parameters.append((name: "application_name", value: "schemaproxy"))
        }
        self.startup = ServerStartupStateMachine(
            login: .init(user: backend.user, password: backend.password, database: backend.database, parameters: parameters,
                         allowedMethods: backend.requireAuth?.allowed, requireAuthText: backend.requireAuth?.text ?? "",
                         requireChannelBinding: backend.channelBindingRequired, learnSearchPath: learnSearchPath)
        )
        self.startupPromise = eventLoop.makePromise(of: Void.self)
        self.session = ServerSessionState(statementCapacity: service.settings.maxPreparedStatements)
    }

    var startupFuture: EventLoopFuture<Void> { self.startupPromise.futureResult }

    var isUsable: Bool {
        if case .closed = self.phase { return false }
        return self.socket.map { !$0.isClosed } ?? false
    }

    func parameter(_ name: String) -> String? {
        self.parameters.last(where: { $0.name == name })?.value
    }

    /// What `SHOW SERVERS` shows: read on any thread.
    enum PublicState: UInt8 {
        case connecting, idle, active, resetting, checking, listening, closed
    }

    private static func publicState(of phase: Phase) -> PublicState {
        switch phase {
        case .connecting, .startup: return .connecting
        case .idle: return .idle
        case .leased: return .active
        case .resetting: return .resetting
        case .checking: return .checking
        case .listening: return .listening
        case .closed: return .closed
        }
    }

    /// The connection's state for the admin console; safe on any thread.
    var stateDescription: String {
        "\(PublicState(rawValue: self.publishedState.load(ordering: .relaxed)) ?? .closed)"
    }

    /// The server's BackendKeyData once logged in; safe on any thread.
    var backendKey: BackendKey? {
        let packed = self.publishedBackendKey.load(ordering: .acquiring)
        guard packed != 0 else { return nil }
        return BackendKey(processID: Int32(bitPattern: UInt32(truncatingIfNeeded: packed >> 32)),
                          secretKey: Int32(bitPattern: UInt32(truncatingIfNeeded: packed)))
    }

    // MARK: Socket events

    /// The connect succeeded: log in on `descriptor` (on this connection's loop).
    func attach(descriptor: CInt) {
        let socket = RelaySocket(descriptor: descriptor, loop: self.eventLoop, delegate: self)
        self.socket = socket
        socket.start()
        guard !socket.isClosed else { return }
        self.phase = .startup
        self.run(self.tlsNegotiation.connected())
    }

    func socketRead(_ buffer: ByteBuffer) {
        switch self.phase {
        case .leased(let client):
            var buffer = buffer
            if self.firstReply.isJudging {
                switch self.firstReply.received(buffer, mayHold: client.mayHoldReplies) {
                case .held:
                    return
                case .pass(let replies):
                    buffer = replies
                case .judged(.terminated, _) where client.serverTerminatedBeforeAnswering(self):
                    // Nothing of the client's committed: it goes on with another connection; this one is done.
                    self.phase = .closed
                    return self.socket?.close() ?? ()
                case .judged(.stalePlan, let replies) where client.retryAfterStalePlan(self, replies: replies):
                    return
                case .judged(_, let replies):
                    buffer = replies
                    self.firstReply.resultsBegan()
                    client.serverStartedAnswering()
                }
            }
            guard self.filter.isActive || self.scanner.needsRelay else {
                // The hot path: the whole read goes to the client as it is.
                do {
                    try self.scanner.scan(buffer) { id, status in
                        if let status { client.serverSentReadyForQuery(status) }
                        self.filter.count(id)
                        self.lastMessageWasError = id == BackendMessageID.errorResponse
                        // The server reports a setting changed by the client's statement: maybe one the proxy
                        // does not follow (set_config in a function); reset before the next client.
                        if id == BackendMessageID.parameterStatus { self.session.markSettingsDirty() }
                    }
                } catch {
                    return self.fail(reason: "protocol violation from server: \(error)")
                }
                return client.relayFromServer(buffer)
            }
            do {
                try self.scanner.relay(buffer, decide: { id, status in
                    if id == BackendMessageID.parameterStatus, !self.filter.answeringOwnQuery {
                        self.session.markSettingsDirty()
                    }
                    let disposition = self.filter.received(id)
                    if disposition != .drop { self.lastMessageWasError = id == BackendMessageID.errorResponse }
                    if let status, disposition != .drop { client.serverSentReadyForQuery(status) }
                    return disposition
                }, forward: { client.relayFromServer($0) })
            } catch {
                return self.fail(reason: "protocol violation from server: \(error)")
            }
            self.settleFilterOutcomes(for: client)
        case .resetting(let pending):
            var pending = pending
            do {
                try self.scanner.scan(buffer) { _, status in
                    if let status {
                        pending -= 1
                        self.resetEndedIdle = status == TransactionStatus.idle.rawValue
                    }
                }
            } catch {
                return self.fail(reason: "protocol violation from server: \(error)")
            }
            self.phase = .resetting(pendingReady: pending)
            if pending == 0 {
                self.phase = .idle
                self.service.pool.release(self, reusable: self.resetEndedIdle)
            }
        case .startup:
            self.receivedDuringStartup(buffer)
        case .checking(let check):
            self.receivedDuringCheck(buffer, check)
        case .listening(let hub):
            self.receivedWhileListening(buffer, hub: hub)
        case .idle:
            // An idle server speaks only to say it is going away (e.g. pg_terminate_backend's FATAL).
            self.close()
        case .connecting, .closed:
            break
        }
    }

    func socketReadComplete() {
        if case .leased(let client) = self.phase { client.flushToClient() }
    }

    func socketWritabilityChanged(_ writable: Bool) {
        // Backpressure: the client stops being read while this connection cannot take its bytes.
        if case .leased(let client) = self.phase { client.serverWritabilityChanged(writable) }
    }

    func socketClosed() {
        let previous = self.phase
        self.phase = .closed
        self.startupPromise.fail(self.closedDuringStartupError)
        if case .leased(let client) = previous {
            client.serverConnectionLost(self, afterError: self.lastMessageWasError)
        }
        if case .checking(let check) = previous {
            check.timer.cancel()
            check.promise.fail(ServerCheckError.closed)
        }
        if case .listening(let hub) = previous { hub.listenerLost(self) }
        self.service.pool.connectionClosed(self)
    }

    // MARK: Startup

    private func receivedDuringStartup(_ buffer: ByteBuffer) {
        if self.tlsNegotiation.isAwaitingAnswer { return self.run(self.tlsNegotiation.received(buffer)) }
        guard self.noteServerTLS() else { return }  // see ServerConnection+TLS.swift
        if self.startupBuffer == nil { self.startupBuffer = buffer } else { self.startupBuffer!.writeImmutableBuffer(buffer) }
        while case .startup = self.phase {
            let frame: Frame?
            do { frame = try self.startupBuffer!.peekFrame(at: self.startupBuffer!.readerIndex) } catch {
                return self.failStartup(ServerStartupError.protocolViolation("\(error)"))
            }
            guard let frame else { return }
            let payload = self.startupBuffer!.getSlice(at: frame.payloadStart, length: frame.payloadLength)!
            self.startupBuffer!.moveReaderIndex(forwardBy: frame.totalLength)
            self.run(self.startup.received(frame.id, payload: payload))
        }
    }

    func run(_ action: ServerStartupStateMachine.Action) {
        switch action {
        case .wait:
            break
        case .send(let outbound):
            var writer = MessageWriter(buffer: Self.allocator.buffer(capacity: 128))
            switch outbound {
            case .startup(let flat):
                var pairs: [(name: String, value: String)] = []
                var index = 0
                while index + 1 < flat.count { pairs.append((flat[index], flat[index + 1])); index += 2 }
                writer.writeStartupMessage(parameters: pairs)
            case .password(let password):
                writer.writePasswordMessage(password)
            case .saslInitialResponse(let mechanism, let data):
                writer.writeSASLInitialResponse(mechanism: mechanism, data: data)
            case .saslResponse(let data):
                writer.writeSASLResponse(data)
            case .query(let sql):
                writer.writeQuery(sql)
            }
            self.socket?.send(writer.buffer)
        case .ready(let parameters, let backendKey, let searchPath):
            self.parameters = parameters
            self.learntSearchPath = searchPath
            if let backendKey {
                let packed = UInt64(UInt32(bitPattern: backendKey.processID)) << 32
                    | UInt64(UInt32(bitPattern: backendKey.secretKey))
                self.publishedBackendKey.store(packed, ordering: .releasing)
            }
            self.startupBuffer = nil
            self.phase = .idle
            self.startupPromise.succeed(())
        case .fail(let error):
            self.failStartup(error)
        }
    }

    func failStartup(_ error: ServerStartupError) {
        self.phase = .closed
        self.startupPromise.fail(error)
        self.socket?.close()
    }

    // MARK: Lending

    /// The pool leased this connection to `client` (on this loop).
    func lease(to client: ClientConnectionHandler) {
        precondition(self.eventLoop.inEventLoop)
        self.phase = .leased(client)
        self.firstReply.begin()
        self.lastMessageWasError = false
    }

    /// Replies the client never sees (they are answered again by a retry): only the bookkeeping of the
    /// scanner and the response filter follows them.
    func swallow(_ replies: ByteBuffer) {
        try? self.scanner.scan(replies) { id, _ in _ = self.filter.received(id) }
        self.settleFilterOutcomes(for: nil)
    }

    /// What the filter learnt from replies: statements the server accepted (valid SQL for the service) and
    /// Parses that failed or were skipped (not on this connection; the client's name forgotten, unless the
    /// replies are being answered again by a retry, `client` nil).
    private func settleFilterOutcomes(for client: ClientConnectionHandler?) {
        for statement in self.filter.takeConfirmed() where statement > 0 { self.service.statementCatalog.markVerified(statement) }
        for failure in self.filter.takeFailures() {
            if let statement = failure.statement { self.session.statements.remove(statement) }
            if let client, let name = failure.clientName { client.preparedStatementFailed(name, number: failure.statement) }
        }
    }

    /// A retry on this same connection: its replies are held back again until results begin.
    func restartLease() {
        self.firstReply.begin()
    }


    /// A cancel for this connection's backend is about to be sent (on this loop): until it is done, the
    /// connection stays out of the pool, so the cancel cannot reach another client's statement.
    func cancelStarted() {
        precondition(self.eventLoop.inEventLoop)
        self.cancelHold.cancelStarted()
    }

    /// The cancel is done (the server closed the cancel connection, or it failed); a release that waited for
    /// it happens now.
    func cancelFinished() {
        precondition(self.eventLoop.inEventLoop)
        guard let reusable = self.cancelHold.cancelFinished() else { return }
        self.service.pool.release(self, reusable: reusable)
    }

    /// Called by the pool for every release, on this loop: true when it must wait for cancels in flight.
    func holdsReleaseForCancel(reusable: Bool) -> Bool {
        self.cancelHold.releaseRequested(reusable: reusable)
    }

    /// The client is done: detach from it; the pool decides what happens next.
    func detach() {
        if case .leased = self.phase { self.phase = .idle }
    }

    /// Sends cleanup statements (each its own Query, since DISCARD ALL refuses to run in a transaction
    /// block) and returns the connection to the pool once they are done.
    func reset(with statements: [String]) {
        precondition(self.eventLoop.inEventLoop)
        guard let socket, !statements.isEmpty, self.scanner.isAtMessageBoundary else {
            self.phase = .idle
            return self.service.pool.release(self, reusable: statements.isEmpty && self.scanner.isAtMessageBoundary)
        }
        self.phase = .resetting(pendingReady: statements.count)
        if statements.contains("DISCARD ALL") { self.session.discarded() }
        var writer = MessageWriter(buffer: Self.allocator.buffer(capacity: 64))
        for statement in statements { writer.writeQuery(statement) }
        socket.send(writer.buffer)
    }

    /// A query of the proxy's own ahead of the client's messages; its replies never reach the client.
    func writeOwnQuery(_ sql: String) {
        guard let socket else { return }
        var writer = MessageWriter(buffer: Self.allocator.buffer(capacity: sql.utf8.count + 6))
        writer.writeQuery(sql)
        self.filter.expect(.ownQuery, clientPendingSyncPoints: 0)
        socket.write(writer.buffer)
    }

    @inline(__always)
    func write(_ buffer: ByteBuffer) {
        self.socket?.write(buffer)
    }

    private var reading = true

    /// Backpressure from the client: stop (or resume) reading from the server.
    func setReading(_ on: Bool) {
        guard self.reading != on, let socket else { return }
        self.reading = on
        socket.setReading(on)
    }

    @inline(__always)
    func flush() {
        self.socket?.flush()
    }

    func close() {
        self.eventLoop.execute {
            guard let socket = self.socket, !socket.isClosed else {
                self.connector?.cancel()
                self.connector = nil
                self.startupPromise.fail(ServerConnectionError.closedDuringStartup)
                if case .closed = self.phase {} else { self.phase = .closed }
                return self.service.pool.connectionClosed(self)
            }
            if case .idle = self.phase {
                var writer = MessageWriter(buffer: Self.allocator.buffer(capacity: 5))
                writer.writeTerminate()
                socket.send(writer.buffer)
            }
            socket.close()
        }
    }

    private func fail(reason: String) {
        self.service.logger.warning("closing server connection", metadata: ["service": "\(self.service.name)", "reason": "\(reason)"])
        self.socket?.close()
    }
}

// MARK: - Listening

extension ServerConnection {
    /// Becomes the service's listener connection (it never joins the pool).
    func startListening(for hub: NotificationHub) {
        precondition(self.eventLoop.inEventLoop)
        self.phase = .listening(hub)
    }

    /// LISTEN / UNLISTEN statements, each its own Query; their answers are read and dropped.
    func sendListenerQueries(_ statements: [String]) {
        guard let socket, case .listening = self.phase, !statements.isEmpty else { return }
        var writer = MessageWriter(buffer: Self.allocator.buffer(capacity: 64))
        for statement in statements { writer.writeQuery(statement) }
        socket.send(writer.buffer)
    }

    private func receivedWhileListening(_ buffer: ByteBuffer, hub: NotificationHub) {
        // The startup buffer is free once logged in: it gathers partial messages here.
        if self.startupBuffer == nil {
            self.startupBuffer = buffer
        } else {
            self.startupBuffer!.writeImmutableBuffer(buffer)
        }
        while let frame = try? self.startupBuffer!.peekFrame(at: self.startupBuffer!.readerIndex) {
            let message = self.startupBuffer!.getSlice(at: frame.start, length: frame.totalLength)!
            var payload = self.startupBuffer!.getSlice(at: frame.payloadStart, length: frame.payloadLength)!
            self.startupBuffer!.moveReaderIndex(forwardBy: frame.totalLength)
            switch frame.id {
            case BackendMessageID.notificationResponse:
                guard payload.readInteger(as: Int32.self) != nil,
                      let channel = payload.readNullTerminatedString() else {
                    continue
                }
                hub.received(message, channel: channel)
            case BackendMessageID.errorResponse:
                let fields = ErrorFields.decode(from: &payload)
                self.service.logger.warning("listener connection error", metadata: [
                    "service": "\(self.service.name)", "error": "\(fields?.message ?? "unreadable")",
                ])
            case BackendMessageID.readyForQuery:
                hub.listenerAnswered()
            default:
                break  // CommandComplete, ParameterStatus, notices
            }
        }
        if self.startupBuffer!.readableBytes == 0 {
            self.startupBuffer = nil
        } else {
            self.startupBuffer!.discardReadBytes()
        }
    }
}

// MARK: - Checks

extension ServerConnection {
    /// An idle connection being asked whether it still works.
    struct ServerCheck {
        let promise: EventLoopPromise<Void>
        let timer: Scheduled<Void>
        var received: ByteBuffer?
        var error: ErrorFields?
    }

    /// Runs `query` (one simple Query) on this idle connection. Succeeds when the server answers with
    /// ReadyForQuery, idle, without an error, within `timeout`; otherwise the connection is closed and the future
    /// fails. Used before lending a connection that sat idle longer than `server_check_delay`, and by the
    /// health prober on its own connections.
    func check(query: String, timeout: TimeAmount) -> EventLoopFuture<Void> {
        precondition(self.eventLoop.inEventLoop)
        guard let socket, case .idle = self.phase, !socket.isClosed, self.scanner.isAtMessageBoundary else {
            return self.eventLoop.makeFailedFuture(ServerCheckError.notIdle)
        }
        let promise = self.eventLoop.makePromise(of: Void.self)
        let timer = self.eventLoop.scheduleTask(in: timeout) { [self] in
            self.endCheck(.failure(.timedOut(timeout)))
        }
        self.phase = .checking(ServerCheck(promise: promise, timer: timer))
        var writer = MessageWriter(buffer: Self.allocator.buffer(capacity: query.utf8.count + 6))
        writer.writeQuery(query)
        socket.send(writer.buffer)
        return promise.futureResult
    }

    private func receivedDuringCheck(_ buffer: ByteBuffer, _ check: ServerCheck) {
        var check = check
        if check.received == nil { check.received = buffer } else { check.received!.writeImmutableBuffer(buffer) }
        while true {
            let frame: Frame?
            do { frame = try check.received!.peekFrame(at: check.received!.readerIndex) } catch {
                return self.endCheck(.failure(.protocolViolation("\(error)")))
            }
            guard let frame else { break }
            var payload = check.received!.getSlice(at: frame.payloadStart, length: frame.payloadLength)!
            check.received!.moveReaderIndex(forwardBy: frame.totalLength)
            switch frame.id {
            case BackendMessageID.errorResponse:
                check.error = ErrorFields.decode(from: &payload) ?? ErrorFields.fatal(.connectionFailure, "unreadable error")
            case BackendMessageID.readyForQuery:
                self.phase = .checking(check)
                if let error = check.error { return self.endCheck(.failure(.serverError(error))) }
                guard payload.readInteger(as: UInt8.self) == TransactionStatus.idle.rawValue else {
                    return self.endCheck(.failure(.protocolViolation("the check left a transaction open")))
                }
                guard check.received!.readableBytes == 0 else {
                    return self.endCheck(.failure(.protocolViolation("data after ReadyForQuery")))
                }
                return self.endCheck(.success(()))
            default:
                break  // rows, CommandComplete, EmptyQueryResponse, notices, ParameterStatus
            }
        }
        self.phase = .checking(check)
    }

    private func endCheck(_ result: Result<Void, ServerCheckError>) {
        guard case .checking(let check) = self.phase else { return }
        check.timer.cancel()
        switch result {
        case .success:
            self.phase = .idle
            check.promise.succeed(())
        case .failure(let error):
            self.phase = .closed
            self.socket?.close()
            check.promise.fail(error)
        }
    }
}

/// Why `ServerConnection.check` failed; the connection is closed in every case.
enum ServerCheckError: Error, CustomStringConvertible {
    case notIdle
    case closed
    case timedOut(TimeAmount)
    case serverError(ErrorFields)
    case protocolViolation(String)

    var description: String {
        switch self {
        case .notIdle: return "the connection was not idle"
        case .closed: return "the server closed the connection"
        case .timedOut(let timeout): return "no answer within \(timeout.nanoseconds / 1_000_000)ms"
        case .serverError(let fields): return "\(fields.message) (\(fields.sqlState))"
        case .protocolViolation(let why): return "protocol violation from server: \(why)"
        }
    }
}

enum ServerConnectionError: Error, CustomStringConvertible {
    case closedDuringStartup
    var description: String { "connection closed during startup" }
}
