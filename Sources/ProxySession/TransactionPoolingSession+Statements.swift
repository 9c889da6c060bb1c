import NIOCore
import PostgresWire

/// Prepared statements across shared server connections. A client's named statement lives on server connections
/// under the proxy's name for it (`__sp_<number>`, one number per distinct statement of the service), and is
/// created on a connection the first time the client uses it there. Each method below decides what goes to the
/// server connection lent now (through `write`) and what its response filter must expect, so that the client
/// sees the replies its own messages would have got.
extension TransactionPoolingSession {
    /// The client's named Parse of `body` (the text as the server gets it, the NUL, the parameter types) as
    /// `name`. `catalogNumber` gives the service's number for `body`.
    public mutating func parseNamed(
        _ name: String, body: [UInt8], effects: [SessionCommand], catalogNumber: () -> Int,
        server: inout ServerSessionState, filter: inout ResponseFilter, pendingSyncPoints: Int,
        write: (ByteBuffer) -> Void
    ) {
        if self.preparedStatements[name] != nil {
            // PostgreSQL refuses a second Parse of a name in use (42P05, naming it). Let the server say exactly
            // that: a placeholder under the client's name first (its ParseComplete dropped), then the Parse.
            // The placeholder is deallocated before the connection serves another client.
            // The client's name is escaped if it could be mistaken for one of the proxy's.
            let serverName = ProxyStatementName.escapedClientName(name)
            let placeholder = ClientPreparedStatement.placeholder
            filter.expect(.parse(statement: placeholder, clientName: nil, ordinal: self.parsesSinceSync),
                          clientPendingSyncPoints: pendingSyncPoints)
            write(Self.parseMessage(named: serverName, body: Array("SELECT 1".utf8) + [0, 0, 0]))
            write(Self.parseMessage(named: serverName, body: body))
            server.leftStandIn(named: serverName)
            self.parsesSinceSync += 2
            return
        }
        let number = catalogNumber()
        let parse = Self.parseMessage(named: ProxyStatementName.serverName(number), body: body)
        self.preparedStatements[name] = ClientPreparedStatement(number: number, parse: parse, effects: effects)
        if server.statements.contains(number) {
            // There already: a Close of a statement that never exists answers in its place (CloseComplete stands
            // for the client's ParseComplete).
            server.statements.use(number)
            filter.expect(.parseAnsweredByClose(clientName: name, ordinal: self.closesSinceSync),
                          clientPendingSyncPoints: pendingSyncPoints)
            write(Self.closeAbsentStatement)
            self.closesSinceSync += 1
        } else {
            self.closeIfUncertain(number, server: &server, filter: &filter, pendingSyncPoints: pendingSyncPoints,
                                  write: write)
            server.statements.use(number)
            filter.expect(.parse(statement: number, clientName: name, ordinal: self.parsesSinceSync),
                          clientPendingSyncPoints: pendingSyncPoints)
            write(parse)
            self.parsesSinceSync += 1
        }
    }

    /// Before a Bind or Describe of the client's `statement`: re-creates it on the server connection unless it is
    /// there. The server's ParseComplete for it is dropped; an error passes (in place of the one the client's
    /// message would have got).
    public mutating func ensurePrepared(
        _ statement: ClientPreparedStatement,
        server: inout ServerSessionState, filter: inout ResponseFilter, pendingSyncPoints: Int,
        write: (ByteBuffer) -> Void
    ) {
        if server.statements.contains(statement.number) {
            server.statements.use(statement.number)
            return
        }
        self.closeIfUncertain(statement.number, server: &server, filter: &filter, pendingSyncPoints: pendingSyncPoints,
                              write: write)
        filter.expect(.parse(statement: statement.number, clientName: nil, ordinal: self.parsesSinceSync),
                      clientPendingSyncPoints: pendingSyncPoints)
        server.statements.use(statement.number)
        write(statement.parse)
        self.parsesSinceSync += 1
    }

    /// Before a Bind or Describe of the unnamed statement: after a sync point released the connection it was
    /// parsed on (`PQprepare(conn, "", ...)` then `PQexecPrepared`), the client's last unnamed Parse goes first on
    /// this one. Returns its session commands, to run again here; nil when nothing had to be done (within one
    /// lease the server's own unnamed statement is the client's).
    public mutating func parseUnnamedAgainIfNeeded(
        filter: inout ResponseFilter, pendingSyncPoints: Int, write: (ByteBuffer) -> Void
    ) -> [SessionCommand]? {
        guard self.mustParseUnnamedAgain, let parse = self.unnamedStatement else { return nil }
        let unnamed = ClientPreparedStatement.unnamed
        filter.expect(.parse(statement: unnamed, clientName: nil, ordinal: self.parsesSinceSync),
                      clientPendingSyncPoints: pendingSyncPoints)
        write(parse)
        self.parsesSinceSync += 1
        self.unnamedStatementOnServer = true
        return self.unnamedStatementEffects
    }

    /// A Bind or Describe of the unnamed statement needs the client's last unnamed Parse sent first: the server
    /// connection lent now does not hold it.
    public var mustParseUnnamedAgain: Bool {
        !self.unnamedStatementOnServer && self.unnamedStatement != nil
    }

    /// A Close of the client's named statement: forgotten here; on server connections it stays for other clients
    /// (the caches evict it in time). Closing a statement that does not exist answers CloseComplete, as the
    /// client expects: that goes to the server in its place.
    public mutating func closeNamed(_ name: String) -> ByteBuffer {
        self.preparedStatements[name] = nil
        self.closesSinceSync += 1
        return Self.closeAbsentStatement
    }

    /// A deallocation may or may not have removed the proxy's statement `number` from the server connection: a
    /// Close goes before the Parse that re-creates it, so the Parse is right either way (its CloseComplete is
    /// dropped).
    private mutating func closeIfUncertain(
        _ number: Int, server: inout ServerSessionState, filter: inout ResponseFilter, pendingSyncPoints: Int,
        write: (ByteBuffer) -> Void
    ) {
        guard server.statements.needsCloseBeforeParse(number) else { return }
        filter.expect(.ownClose(ordinal: self.closesSinceSync), clientPendingSyncPoints: pendingSyncPoints)
        var writer = MessageWriter(buffer: ByteBuffer())
        writer.writeMessage(FrontendMessageID.close) { out in
            out.writeInteger(UInt8(ascii: "S"))
            out.writeString(ProxyStatementName.serverName(number))
            out.writeInteger(UInt8(0))
        }
        write(writer.buffer)
        self.closesSinceSync += 1
    }

    /// A Parse of `body` (text, NUL, parameter types) under the server-side name `name`.
    public static func parseMessage(named name: String, body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(name.utf8.count + body.count + 6)
        var writer = MessageWriter(buffer: buffer)
        writer.writeMessage(FrontendMessageID.parse) { out in
            out.writeString(name)
            out.writeInteger(UInt8(0))
            out.writeBytes(body)
        }
        return writer.buffer
    }

    /// A Close of a statement no statement ever gets: a no-op that still answers CloseComplete.
    public static let closeAbsentStatement: ByteBuffer = {
        var writer = MessageWriter(buffer: ByteBuffer())
        writer.writeMessage(FrontendMessageID.close) { out in
            out.writeInteger(UInt8(ascii: "S"))
            out.writeString(ProxyStatementName.absentName)
            out.writeInteger(UInt8(0))
        }
        return writer.buffer
    }()
}
