import NIOCore
import PostgresWire

/// What a client believes its session holds while it shares server connections with other clients
/// (transaction pooling): its named prepared statements, its last unnamed statement, its settings and whether
/// it listens for notifications. Each server connection lent to it is brought to this state before the
/// client's first message (`ServerSessionState.leasePlan(for:)`), and each session command the client sends
/// updates it here and on the server connection's side.
public struct TransactionPoolingSession: Sendable {
    /// The client's named prepared statements, by the client's name.
    public var preparedStatements: [String: ClientPreparedStatement] = [:]
    /// Settings from the startup packet, and those plus the client's own SETs since.
    public private(set) var startupSettings = SessionSettings()
    public private(set) var desiredSettings = SessionSettings()
    /// The client's last unnamed Parse as sent, and the session commands it carries (applied again wherever it
    /// is parsed again).
    public private(set) var unnamedStatement: ByteBuffer?
    public private(set) var unnamedStatementEffects: [SessionCommand] = []
    /// Whether the server connection lent now holds `unnamedStatement` as the server's unnamed statement.
    public internal(set) var unnamedStatementOnServer = false
    /// The client has LISTENed: the service's listener connection knows it.
    public private(set) var listensForNotifications = false
    /// Parse and Close messages sent to the server since the client's last sync point: their ordinals tell the
    /// response filter which ParseComplete and CloseComplete answer which message.
    public internal(set) var parsesSinceSync = 0
    public internal(set) var closesSinceSync = 0

    public init() {}

    /// A client's LISTEN as the shared server connection gets it: a LISTEN of a channel nobody uses, so the
    /// answer (tag, errors, an aborted transaction) is PostgreSQL's own; the service's listener connection does
    /// the real listening, and the shared connection gets `UNLISTEN *` at its next lease.
    public static let listenStandIn =
        Array(("LISTEN " + SQLQuoting.identifier(ServerSessionState.listenStandInChannel)).utf8)

    /// What one session command asks of the I/O shell besides the statement it sends.
    public struct CommandOutcome: Equatable, Sendable {
        /// The text to send instead of the client's, when the statement needs translating.
        public var replacementText: [UInt8]?
        /// A change to what the service's listener connection listens to for this client.
        public var notifications: NotificationChange?

        public init(replacementText: [UInt8]? = nil, notifications: NotificationChange? = nil) {
            self.replacementText = replacementText
            self.notifications = notifications
        }
    }

    public enum NotificationChange: Equatable, Sendable {
        case listen(channel: String)
        case unlisten(channel: String)
        case unlistenAll
    }

    /// The session as the client logged in: its startup settings (made canonical by the service).
    public mutating func begin(startupSettings: SessionSettings) {
        self.startupSettings = startupSettings
        self.desiredSettings = startupSettings
    }

    /// Updates what the client's session holds and what `server` holds for one session command that runs on
    /// that server connection now. `singleStatement`: the command is the whole statement, so it may be
    /// replaced by another one.
    public mutating func apply(
        _ command: SessionCommand, server: inout ServerSessionState, singleStatement: Bool
    ) -> CommandOutcome {
        self.desiredSettings.apply(command, startup: self.startupSettings)
        var outcome = CommandOutcome()
        switch command {
        case .listen(let channel):
            self.listensForNotifications = true
            server.sent(command)
            return CommandOutcome(replacementText: Self.listenStandIn, notifications: .listen(channel: channel))
        case .unlisten(let channel):
            if self.listensForNotifications { outcome.notifications = .unlisten(channel: channel) }
        case .unlistenAll:
            if self.listensForNotifications { outcome.notifications = .unlistenAll }
        case .deallocateAll, .discardAll:
            if case .discardAll = command, self.listensForNotifications { outcome.notifications = .unlistenAll }
            self.preparedStatements.removeAll()
        case .deallocate(let name):
            guard let statement = self.preparedStatements.removeValue(forKey: name) else {
                // Not the client's: it must not reach one of the proxy's statements.
                let escaped = ProxyStatementName.escapedClientName(name)
                guard escaped != name else { break }
                guard singleStatement else { break }
                return CommandOutcome(replacementText: Array("DEALLOCATE \(SQLQuoting.identifier(escaped))".utf8))
            }
            guard singleStatement else { break }
            let serverName = ProxyStatementName.serverName(statement.number)
            if server.statements.contains(statement.number) {
                server.sent(.deallocate(name: serverName))
                return CommandOutcome(replacementText: Array("DEALLOCATE \(serverName)".utf8))
            }
            // Not on this server connection: deallocate what is, so the tag and errors are the server's own.
            server.sent(.deallocateAll)
            return CommandOutcome(replacementText: Array("DEALLOCATE ALL".utf8))
        default:
            break
        }
        server.sent(command)
        return outcome
    }

    /// The client's statement `name` was not created (its Parse erred or was skipped); `number` is the
    /// proxy's statement that Parse was for, when known, so that a newer statement of that name stays.
    public mutating func preparedStatementFailed(_ name: String, number: Int?) {
        if let number, let current = self.preparedStatements[name], current.number != number { return }
        self.preparedStatements[name] = nil
    }

    /// An unnamed Parse went to the server connection lent now: kept (copied into storage of our own, reused
    /// from Parse to Parse: a slice would pin the read buffer) to be parsed again after the lease ends.
    public mutating func remember(unnamed parse: ByteBuffer, effects: [SessionCommand]) {
        self.unnamedStatementEffects = effects
        if self.unnamedStatement == nil {
            self.unnamedStatement = ByteBuffer()
            self.unnamedStatement!.reserveCapacity(max(256, parse.readableBytes))
        }
        self.unnamedStatement!.clear()
        self.unnamedStatement!.writeImmutableBuffer(parse)
        self.unnamedStatementOnServer = true
    }

    /// The server connection lent to the client went back (or was lost).
    public mutating func leaseEnded() {
        self.unnamedStatementOnServer = false
    }

    /// A Parse or Close of the client's went to the server as it was sent.
    public mutating func forwarded(_ id: UInt8) {
        if id == FrontendMessageID.parse { self.parsesSinceSync += 1 }
        if id == FrontendMessageID.close { self.closesSinceSync += 1 }
    }

    /// The client sent a sync point (Sync, Query, FunctionCall): ordinals start again.
    public mutating func syncPointSent() {
        self.parsesSinceSync = 0
        self.closesSinceSync = 0
    }

    /// The parts of the session a transparent retry restores: the client's messages since then may have
    /// changed them on a connection that is gone.
    public struct Snapshot: Sendable {
        var preparedStatements: [String: ClientPreparedStatement]
        var desiredSettings: SessionSettings
    }

    public var snapshot: Snapshot {
        Snapshot(preparedStatements: self.preparedStatements, desiredSettings: self.desiredSettings)
    }

    public mutating func restore(_ snapshot: Snapshot) {
        self.preparedStatements = snapshot.preparedStatements
        self.desiredSettings = snapshot.desiredSettings
        self.syncPointSent()
    }
}
