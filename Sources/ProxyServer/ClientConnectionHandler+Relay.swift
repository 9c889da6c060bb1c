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

/// The relay from the client to its server connection: frames walked in place, table names rewritten, and in
/// transaction pooling the client's session (prepared statements, session commands) carried across server
/// connections (see `TransactionPoolingSession`).
extension ClientConnectionHandler {
    func relayClientMessages() {
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
                    let parse = replacement ?? buffer.getSlice(at: frame.start, length: frame.totalLength)!
                    var effects: [SessionCommand] = []
                    if case .passed(let carried) = handling { effects = carried }
                    self.clientSession.remember(unnamed: parse, effects: effects)
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
    func logForReplay(_ buffer: ByteBuffer, from start: Int, to end: Int) {
        guard self.replay != nil, end > start else { return }
        if !self.replay!.append(buffer.getSlice(at: start, length: end - start)!) { self.endReplayLog() }
    }

    /// The first reply of the lent server connection is on its way: nothing can be replayed any more.
    func serverStartedAnswering() {
        self.endReplayLog()
    }

    /// No replay is possible any more: the log's buffer goes back to the loop's pool.
    func endReplayLog() {
        guard let log = self.replay else { return }
        self.replay = nil
        self.socket.scratch.replayBuffers.giveBack(log.storage)
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
    func restore(_ replay: ReplayLog) {
        self.releaseAfterRelay = false
        self.clientSession.restore(replay.session)
        self.tracker = replay.tracker
        self.inbound = replay.bytesToReplay(followedBy: self.inbound)
        self.replay = replay.emptied
    }

    /// A replay log from here: the session as it is now, no bytes yet.
    func startReplayLog() {
        self.endReplayLog()
        self.replay = ReplayLog(session: self.clientSession.snapshot, tracker: self.tracker,
                                storage: self.socket.scratch.replayBuffers.take())
    }

    /// The server connection was terminated before any result (see `ReplyOpening.terminated`): restore the session as it was before these messages and
    /// send them again on another connection. Returns false when that is not possible (the client was in
    /// a transaction already, or too much went out); the termination then reaches the client.
    func serverTerminatedBeforeAnswering(_ server: ServerConnection) -> Bool {
        guard self.server === server, let replay = self.replay, let service else { return false }
        _ = self.lease.end(server)
        self.restore(replay)
        // Logged again from scratch by the relay (the new connection starts a new lease).
        self.endReplayLog()
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
    func rewritten(_ text: Range<Int>, in buffer: ByteBuffer, with rewriter: SchemaRewriter) -> [UInt8]? {
        self.rewriteStage.rewrittenText(text, in: buffer, with: rewriter)
    }

    // MARK: Transaction pooling: the client's session across server connections

    enum Handling: Equatable {
        /// Not a message this path deals with: it goes on as the client sent it (tables rewritten).
        case notMine
        /// Dealt with, and it goes on exactly as the client sent it; an unnamed Parse's session commands, which
        /// apply again wherever it is parsed again.
        case passed(effects: [SessionCommand] = [])
        /// Dealt with: what replaces it was sent and the run of untouched bytes ends before it.
        case replaced
        /// It depends on the server connection it lands on, and none is lent yet.
        case waitForServer
    }

    /// Query and Parse when server connections are shared: named Parse goes out under the proxy's name for
    /// the statement (or not at all when the server holds it already); session commands update what the
    /// client's session is meant to hold; what cannot work gets a clear error from the server.
    func relayStatementSharingServers(_ frame: Frame, text: Range<Int>, in buffer: ByteBuffer, runStart: inout Int) -> Handling {
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
                return .passed(effects: frame.id == FrontendMessageID.parse ? effects : [])
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
    func statementIdentity(_ frame: Frame, in buffer: ByteBuffer, text: Range<Int>, newText: [UInt8]?) -> (name: String, body: [UInt8]) {
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
    func answerPreparesLocally(from first: FrontendMessage, in buffer: ByteBuffer) -> Int? {
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
    func relayStatementReference(_ message: FrontendMessage, in buffer: ByteBuffer, runStart: inout Int) -> Handling {
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
    func relayUnnamedStatementReference(_ frame: Frame, in buffer: ByteBuffer, runStart: inout Int) -> Handling {
        guard frame.id != FrontendMessageID.close, self.clientSession.mustParseUnnamedAgain else { return .notMine }
        guard let server = self.server else { return .waitForServer }
        self.emit(buffer, from: runStart, to: frame.start)
        runStart = frame.start
        let effects = self.clientSession.parseUnnamedAgainIfNeeded(
            filter: &server.filter, pendingSyncPoints: self.tracker.pendingSyncPoints, write: { server.write($0) })
        self.serverNeedsFlush = true
        // Its session commands run where it is parsed again.
        for command in effects ?? [] { _ = self.apply(command, on: server, singleStatement: false) }
        return .passed()
    }

    /// One session command of the client's, on the server connection `server`: the session keeps track, the
    /// listener connection learns what the client listens to. Returns the text to send instead of the client's
    /// when the statement needs translating.
    func apply(_ command: SessionCommand, on server: ServerConnection, singleStatement: Bool) -> [UInt8]? {
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
    func prepareLease(on server: ServerConnection) {
        for statement in server.session.leasePlan(for: self.clientSession.desiredSettings) {
            server.writeOwnQuery(statement)
            self.serverNeedsFlush = true
        }
    }

    /// The message at `index` depends on the server connection it lands on and none is lent: what came before
    /// goes on (or into the outbox) and a connection is asked for. True when the pool lent one at once (the relay
    /// goes on with that message); false when the relay stops there until one comes (`serverAssigned`).
    func serverLentNow(_ buffer: ByteBuffer, before index: Int, runStart: inout Int) -> Bool {
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
    func emit(_ buffer: ByteBuffer, from start: Int, to end: Int) {
        guard end > start else { return }
        self.emitOwned(buffer.getSlice(at: start, length: end - start)!)
    }

    func emitOwned(_ slice: ByteBuffer) {
        if self.lease.isFree { self.requestServer() }
        if let server = self.server {
            server.write(slice)
            self.serverNeedsFlush = true
        } else {
            var slice = slice
            if self.outbox == nil { self.outbox = slice } else { self.outbox!.writeBuffer(&slice) }
        }
    }
}
