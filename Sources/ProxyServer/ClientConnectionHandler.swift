import ConnectionPool
import ProxyConfig
import Logging
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
final class ClientConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase {
        case startup(ClientStartupStateMachine)
        /// Authenticated; waiting for a first server connection to learn the server's parameters.
        case awaitingParameters
        case ready
        case admin(AdminConsole)
        case closing
    }

    let runtime: ProxyRuntime
    let eventLoop: EventLoop
    let loopIndex: Int
    let waiterID: Int
    let remoteAddress: String

    fileprivate var phase: Phase
    private var context: ChannelHandlerContext?
    private(set) var service: Service?
    private(set) var server: ServerConnection?
    private(set) var user: String = ""
    private(set) var database: String = ""
    private var startupMessage = StartupMessage(parameters: [])
    private var poolMode: PoolMode = .transaction

    fileprivate var tracker = TransactionTracker()
    /// Client bytes not yet consumed (a partial frame, or everything before login).
    private var inbound: ByteBuffer?
    /// Client messages waiting for a server connection.
    fileprivate var outbox: ByteBuffer?
    private(set) var waitingForServer = false
    private var waitStarted: NIODeadline?
    private var serverNeedsFlush = false
    private var releaseAfterRelay = false
    private var queryStarted: NIODeadline?
    private(set) var proxyKey: BackendKey
    private var loginTimeout: Scheduled<Void>?
    private var countedAsClient = false

    init(runtime: ProxyRuntime, eventLoop: EventLoop, loopIndex: Int, remoteAddress: String) {
        self.runtime = runtime
        self.eventLoop = eventLoop
        self.loopIndex = loopIndex
        self.waiterID = runtime.nextClientID()
        self.remoteAddress = remoteAddress
        self.proxyKey = runtime.cancelRegistry.makeKey()
        self.phase = .startup(runtime.makeClientStartupStateMachine())
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

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        let timeout = self.runtime.loginTimeout
        if timeout > .zero {
            self.loginTimeout = context.eventLoop.scheduleTask(in: timeout) { [self] in
                self.failAndClose(.fatal(.protocolViolation, "canceling authentication due to timeout"))
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        if self.inbound == nil { self.inbound = buffer } else { self.inbound!.writeImmutableBuffer(buffer) }
        switch self.phase {
        case .ready: self.relayClientMessages()
        case .startup: self.continueStartup()
        case .admin(let console): self.runAdmin(console)
        case .awaitingParameters, .closing: break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.serverNeedsFlush {
            self.serverNeedsFlush = false
            self.server?.flush()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Backpressure: stop reading from the server while the client cannot keep up.
        self.server?.setReading(context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.cleanUp()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.runtime.logger.debug("client connection error", metadata: ["client": "\(self.remoteAddress)", "error": "\(error)"])
        context.close(promise: nil)
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
                actions = machine.received(request)
            } else {
                let frame: Frame?
                do { frame = try self.inbound!.peekFrame(at: self.inbound!.readerIndex) } catch {
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
        guard let context else { return }
        var writer = MessageWriter(buffer: context.channel.allocator.buffer(capacity: 256))
        switch action {
        case .refuseEncryption:
            writer.buffer.writeInteger(UInt8(ascii: "N"))
            context.writeAndFlush(self.wrapOutboundOut(writer.buffer), promise: nil)
        case .cancel(let key):
            self.runtime.cancelRegistry.cancel(key, runtime: self.runtime)
            self.phase = .closing
            context.close(promise: nil)
        case .negotiateProtocolVersion(let minor, let options):
            writer.writeNegotiateProtocolVersion(newestMinor: minor, unsupportedOptions: options)
            context.write(self.wrapOutboundOut(writer.buffer), promise: nil)
        case .requestAuthentication(let request):
            switch request {
            case .md5(let salt): writer.writeAuthenticationMD5Password(salt: (salt[0], salt[1], salt[2], salt[3]))
            case .sasl(let mechanisms): writer.writeAuthenticationSASL(mechanisms: mechanisms)
            case .saslContinue(let data): writer.writeAuthenticationSASLContinue(data)
            }
            context.writeAndFlush(self.wrapOutboundOut(writer.buffer), promise: nil)
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

    private func authenticated(writer: MessageWriter) {
        var writer = writer
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
            self.context?.writeAndFlush(self.wrapOutboundOut(writer.buffer), promise: nil)
            return
        }
        guard let service = self.runtime.service(named: self.database) else {
            return self.failAndClose(.fatal(.invalidCatalogName, "database \"\(self.database)\" does not exist"), prefix: writer.buffer)
        }
        self.service = service
        self.poolMode = service.poolMode
        service.clientAttached(self)
        writer.writeAuthenticationOk()
        self.context?.write(self.wrapOutboundOut(writer.buffer), promise: nil)
        self.runtime.logger.debug("client logged in", metadata: ["client": "\(self.remoteAddress)", "user": "\(self.user)", "service": "\(service.name)"])
        if service.serverParameters != nil {
            self.finishStartup()
        } else {
            self.phase = .awaitingParameters
            self.requestServer()
        }
    }

    /// ParameterStatus, BackendKeyData, ReadyForQuery: the client may now send queries.
    private func finishStartup() {
        guard let context, let service else { return }
        self.loginTimeout?.cancel()
        self.loginTimeout = nil
        var writer = MessageWriter(buffer: context.channel.allocator.buffer(capacity: 512))
        for parameter in service.serverParameters ?? [] {
            // Parameters the client chose itself are reported back as the client's own.
            let value = self.startupMessage[parameter.name].flatMap {
                ClientConnectionHandler.clientReportedParameters.contains(parameter.name) ? $0 : nil
            } ?? parameter.value
            writer.writeParameterStatus(name: parameter.name, value: value)
        }
        writer.writeBackendKeyData(self.proxyKey)
        writer.writeReadyForQuery(.idle)
        self.runtime.cancelRegistry.register(self)
        self.phase = .ready
        self.setPublicState(.idle)
        context.writeAndFlush(self.wrapOutboundOut(writer.buffer), promise: nil)
        if self.inbound != nil { self.relayClientMessages() }
    }

    static let clientReportedParameters: Set<String> = ["application_name"]

    // MARK: Relay, client -> server

    private func relayClientMessages() {
        guard var buffer = self.inbound else { return }
        self.inbound = nil
        var index = buffer.readerIndex
        var runStart = index
        while true {
            let frame: Frame
            do {
                guard let next = try buffer.peekFrame(at: index) else { break }
                frame = next
            } catch {
                return self.failAndClose(.fatal(.protocolViolation, error.description))
            }
            let id = frame.id
            switch id {
            case FrontendMessageID.query, FrontendMessageID.parse:
                self.queryStarted = self.queryStarted ?? .now()
                if id == FrontendMessageID.query { self.service?.metrics.countQuery() }
                // Read per statement: a reload's mapping change applies to the next statement.
                if let rewriter = self.service?.activeRewriter,
                   let replacement = self.rewrite(frame, in: buffer, with: rewriter) {
                    self.emit(buffer, from: runStart, to: frame.start)
                    self.emitOwned(replacement)
                    runStart = frame.start + frame.totalLength
                }
            case FrontendMessageID.execute:
                self.queryStarted = self.queryStarted ?? .now()
                self.service?.metrics.countQuery()
            case FrontendMessageID.terminate:
                self.emit(buffer, from: runStart, to: frame.start)
                self.phase = .closing
                self.context?.close(promise: nil)
                return
            default:
                guard FrontendMessageID.isValidAfterStartup(id) else {
                    let shown = (0x20..<0x7F).contains(id) ? "\"\(Character(UnicodeScalar(id)))\"" : "\(id)"
                    return self.failAndClose(.fatal(.protocolViolation, "invalid frontend message type \(shown)"))
                }
            }
            self.tracker.clientSent(id)
            index = frame.start + frame.totalLength
        }
        self.emit(buffer, from: runStart, to: index)
        buffer.moveReaderIndex(to: index)
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            self.inbound = buffer
        }
    }

    /// Rewrites the SQL text of a Query or Parse message; nil when it stays as it is.
    private func rewrite(_ frame: Frame, in buffer: ByteBuffer, with rewriter: SchemaRewriter) -> ByteBuffer? {
        var payload = buffer.getSlice(at: frame.payloadStart, length: frame.payloadLength)!
        let isParse = frame.id == FrontendMessageID.parse
        var statementName: ByteBuffer?
        if isParse {
            guard let nameEnd = payload.readableBytesView.firstIndex(of: 0) else { return nil }
            let nameLength = nameEnd - payload.readerIndex + 1
            statementName = payload.readSlice(length: nameLength)
        }
        guard let textEnd = payload.readableBytesView.firstIndex(of: 0) else { return nil }
        let textLength = textEnd - payload.readerIndex
        let outcome = payload.withUnsafeReadableBytes { rewriter.rewrite(UnsafeRawBufferPointer(rebasing: $0[..<textLength])) }
        guard case .rewritten(let newText) = outcome else { return nil }
        payload.moveReaderIndex(forwardBy: textLength + 1)
        var writer = MessageWriter(buffer: self.context!.channel.allocator.buffer(capacity: frame.totalLength + 64))
        writer.writeMessage(frame.id) { out in
            if var name = statementName { out.writeBuffer(&name) }
            out.writeBytes(newText)
            out.writeInteger(UInt8(0))
            out.writeBuffer(&payload)  // Parse: parameter type OIDs
        }
        return writer.buffer
    }

    /// Sends client bytes [start, end) of `buffer` to the server, or keeps them until one is lent.
    @inline(__always)
    private func emit(_ buffer: ByteBuffer, from start: Int, to end: Int) {
        guard end > start else { return }
        self.emitOwned(buffer.getSlice(at: start, length: end - start)!)
    }

    private func emitOwned(_ slice: ByteBuffer) {
        if self.server == nil, !self.waitingForServer { self.requestServer() }
        if let server = self.server {
            server.write(slice)
            self.serverNeedsFlush = true
        } else {
            var slice = slice
            if self.outbox == nil { self.outbox = slice } else { self.outbox!.writeBuffer(&slice) }
        }
    }

    // MARK: Server connections

    private func requestServer() {
        guard let service else { return }
        self.waitingForServer = true
        self.setPublicState(.waiting)
        self.waitStarted = .now()
        if service.holdIfPaused(self) { return }
        self.checkout()
    }

    /// Asks the pool; also called when a PAUSE of the service ends.
    func checkout() {
        guard let service, self.waitingForServer else { return }
        if let server = service.pool.checkout(for: self) {
            self.serverAssigned(server)
        }
    }

    /// The pool lent us a server connection (on our event loop).
    func serverAssigned(_ server: ServerConnection) {
        guard let service, self.waitingForServer else {
            // We left (or no longer need it) while it was on its way.
            return self.service?.pool.release(server, reusable: true) ?? ()
        }
        self.waitingForServer = false
        if let started = self.waitStarted {
            service.metrics.observeCheckoutWait(NIODeadline.now() - started)
            self.waitStarted = nil
        }
        if case .awaitingParameters = self.phase {
            service.serverParameters = server.parameters
            service.pool.release(server, reusable: true)
            return self.finishStartup()
        }
        server.lease(to: self)
        self.server = server
        self.setPublicState(.active)
        if !(self.context?.channel.isWritable ?? true) { server.setReading(false) }
        if var outbox = self.outbox {
            self.outbox = nil
            server.write(outbox)
            outbox.clear()
            server.flush()
        } else if self.serverNeedsFlush {
            self.serverNeedsFlush = false
            server.flush()
        }
    }

    /// No server connection came: answer what the client sent with the error, as the server would have.
    func serverCheckoutFailed(_ error: PoolError) {
        guard self.waitingForServer, let service else { return }
        self.waitingForServer = false
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
        guard case .ready = self.phase, !self.tracker.hasUnsyncedMessages, let context else {
            var fatal = fields
            fatal.severity = "FATAL"
            return self.failAndClose(fatal)
        }
        self.outbox = nil
        var writer = MessageWriter(buffer: context.channel.allocator.buffer(capacity: 256))
        writer.writeError(fields)
        for _ in 0..<max(1, self.tracker.pendingSyncPoints) { writer.writeReadyForQuery(.idle) }
        self.tracker.reset()
        self.queryStarted = nil
        context.writeAndFlush(self.wrapOutboundOut(writer.buffer), promise: nil)
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
        } else if self.tracker.isQuiet, let started = self.queryStarted {
            self.service?.metrics.observeQuery(NIODeadline.now() - started)
            self.queryStarted = nil
        }
    }

    @inline(__always)
    func relayFromServer(_ buffer: ByteBuffer) {
        guard let context else { return }
        context.write(self.wrapOutboundOut(buffer), promise: nil)
        if self.releaseAfterRelay {
            self.releaseAfterRelay = false
            context.flush()
            self.releaseServer()
        } else if !context.channel.isWritable {
            self.server?.setReading(false)
        }
    }

    @inline(__always)
    func flushToClient() {
        self.context?.flush()
    }

    private func releaseServer() {
        guard let server, let service else { return }
        self.server = nil
        self.setPublicState(.idle)
        server.setReading(true)
        server.detach()
        service.pool.release(server, reusable: true)
    }

    /// The server connection lent to us died.
    func serverConnectionLost(_ server: ServerConnection) {
        guard self.server === server else { return }
        self.server = nil
        self.setPublicState(.idle)
        self.releaseAfterRelay = false
        if self.tracker.isAtTransactionBoundary && self.poolMode == .transaction {
            return  // nothing of ours was on it; the next query gets another connection
        }
        let name = self.service?.name ?? ""
        self.failAndClose(.fatal(.connectionFailure, "server connection of service \"\(name)\" was lost; the current transaction (if any) did not commit"))
    }

    // MARK: Admin console

    private func runAdmin(_ console: AdminConsole) {
        guard let context else { return }
        while var buffer = self.inbound {
            let frame: Frame?
            do { frame = try buffer.peekFrame(at: buffer.readerIndex) } catch {
                return self.failAndClose(.fatal(.protocolViolation, error.description))
            }
            guard let frame else { return }
            let payload = buffer.getSlice(at: frame.payloadStart, length: frame.payloadLength)!
            buffer.moveReaderIndex(forwardBy: frame.totalLength)
            self.inbound = buffer.readableBytes > 0 ? buffer : nil
            var writer = MessageWriter(buffer: context.channel.allocator.buffer(capacity: 1024))
            switch frame.id {
            case FrontendMessageID.query:
                var payload = payload
                let sql = payload.readNullTerminatedString() ?? ""
                console.execute(sql, into: &writer)
                context.writeAndFlush(self.wrapOutboundOut(writer.buffer), promise: nil)
            case FrontendMessageID.terminate:
                self.phase = .closing
                context.close(promise: nil)
                return
            default:
                writer.writeError(.error(.featureNotSupported, "the admin console supports only simple queries"))
                writer.writeReadyForQuery(.idle)
                context.writeAndFlush(self.wrapOutboundOut(writer.buffer), promise: nil)
            }
        }
    }

    // MARK: Ending

    /// Sends a FATAL (or ERROR) to the client and closes the connection; nobody else is affected.
    func failAndClose(_ error: ErrorFields, prefix: ByteBuffer? = nil) {
        guard let context else { return }
        if case .closing = self.phase { return }
        self.phase = .closing
        var writer = MessageWriter(buffer: prefix ?? context.channel.allocator.buffer(capacity: 128))
        writer.writeError(error)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(writer.buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// The client is gone: give back what it held. A server connection in a clean state returns to the
    /// pool; an open transaction is rolled back first; one with a statement in flight is closed.
    private func cleanUp() {
        self.phase = .closing
        self.setPublicState(.closing)
        self.loginTimeout?.cancel()
        self.runtime.cancelRegistry.unregister(self)
        if self.countedAsClient {
            self.countedAsClient = false
            self.runtime.releaseClient()
        }
        guard let service else { return }
        service.clientDetached(self)
        if self.waitingForServer {
            self.waitingForServer = false
            service.pool.cancelWaiter(self)
        }
        guard let server else { return }
        self.server = nil
        server.setReading(true)
        server.detach()
        let session = self.poolMode == .session
        if self.tracker.isAtTransactionBoundary {
            if session { server.reset(with: ["DISCARD ALL"]) } else { service.pool.release(server, reusable: true) }
        } else if self.tracker.isQuiet {
            server.reset(with: session ? ["ROLLBACK", "DISCARD ALL"] : ["ROLLBACK"])
        } else {
            service.pool.release(server, reusable: false)
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
