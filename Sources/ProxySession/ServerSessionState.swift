/// What one server connection shared between clients (transaction pooling) holds of sessions: the settings
/// applied on top of its startup values, the proxy's prepared statements, and what the proxy cannot follow.
/// Each lease begins with `leasePlan(for:)`: the queries that take the connection from what it holds to what
/// the next client's session needs.
///
/// Leaks are made impossible rather than chased spelling by spelling: a statement whose effect on the session
/// the proxy cannot model (set_config with arguments other than constants, DO, CALL, a DISCARD ALL that may
/// or may not have run, a setting the server reports changed by itself) marks the settings *dirty*, and a dirty
/// connection is reset (`RESET ALL` and the role/authorization forms it leaves alone) and gets the next client's
/// settings replayed in full before that client's first message. Nothing is added while nothing is dirty.
public struct ServerSessionState: Sendable {
    /// Settings applied on top of the connection's startup values, as statements that establish them.
    public var appliedSettings = SessionSettings()
    public var statements: ServerStatementCache
    /// The connection may carry settings `appliedSettings` does not describe.
    public private(set) var settingsDirty = false
    /// Stand-ins left under a client's (escaped) name by a second Parse of a name in use.
    public private(set) var clientNamesToDeallocate: [String] = []
    /// A client's LISTEN ran here as the stand-in `LISTEN` of `listenStandInChannel`: `UNLISTEN *` at the next lease.
    public private(set) var mayListen = false
    /// A client created temporary objects here: `DISCARD TEMP` at the next lease.
    public private(set) var mayHoldTemporaryObjects = false

    /// The channel a client's `LISTEN` is sent as on a shared server connection: the statement then answers
    /// exactly as PostgreSQL does (tag, errors, transaction state), and the service's listener connection
    /// does the real listening.
    public static let listenStandInChannel = "__schemaproxy_listen_stand_in"

    /// Brings every setting back to the connection's startup values. `RESET ALL` leaves the role and the
    /// session authorization alone; they go first, each its own statement in one Query.
    public static let fullReset = "RESET SESSION AUTHORIZATION; RESET ROLE; RESET ALL"

    /// Settings whose statement cannot be undone by `RESET name`: when the next client's session differs in
    /// them, the connection is reset in full.
    static let resettableOnlyByResetAll: Set<String> = ["session_characteristics"]

    public init(statementCapacity: Int) {
        self.statements = ServerStatementCache(capacity: statementCapacity)
    }

    public mutating func markSettingsDirty() {
        self.settingsDirty = true
    }

    /// A Parse under the client's (escaped) name was left on the server; it goes at the next lease.
    public mutating func leftStandIn(named serverName: String) {
        self.clientNamesToDeallocate.append(serverName)
    }

    /// The server side of a session command a client sent to this connection (whether it runs or fails is
    /// not known yet: the model stays right either way, or the connection is marked for a reset).
    public mutating func sent(_ command: SessionCommand) {
        switch command {
        case .set(let name, let statement):
            self.appliedSettings.set(name, statement: statement)
        case .reset(let name):
            self.appliedSettings.remove(name)
        case .resetAll:
            var kept = SessionSettings()
            for (name, statement) in self.appliedSettings.statements
            where name == "role" || name == "session_authorization" {
                kept.set(name, statement: statement)
            }
            self.appliedSettings = kept
        case .deallocateAll:
            self.statements.mayHaveLostAll()
        case .discardAll:
            self.statements.mayHaveLostAll()
            self.settingsDirty = true
        case .deallocate(let name):
            if let number = ProxyStatementName.number(of: name) { self.statements.mayHaveLost(number) }
        case .unmodelled:
            self.settingsDirty = true
        case .listen:
            self.mayListen = true
        case .createsTemporary:
            self.mayHoldTemporaryObjects = true
        case .unlisten, .unlistenAll:
            break  // sent as they are: the connection listens on nothing of the client's
        case .sessionOnly, .executeReserved:
            break  // refused: the server raises an error in its place
        }
    }

    /// The proxy's own queries to run before the next client's first message (none in the usual case), and
    /// the state updated as if they ran: stand-ins and uncertain or evicted statements deallocated, a reset
    /// if dirty, then the statements that bring the settings to `desired`.
    public mutating func leasePlan(for desired: SessionSettings) -> [String] {
        var plan: [String] = []
        if !self.clientNamesToDeallocate.isEmpty {
            for name in self.clientNamesToDeallocate { plan.append("DEALLOCATE " + SQLQuoting.identifier(name)) }
            self.clientNamesToDeallocate.removeAll()
        }
        if !self.statements.uncertain.isEmpty {
            if let named = self.statements.settleUncertain() {
                for number in named { plan.append("DEALLOCATE " + ProxyStatementName.serverName(number)) }
            } else {
                plan.append("DEALLOCATE ALL")
            }
        }
        for victim in self.statements.evictOverflow() {
            plan.append("DEALLOCATE " + ProxyStatementName.serverName(victim))
        }
        if self.mayListen {
            plan.append("UNLISTEN *")
            self.mayListen = false
        }
        if self.mayHoldTemporaryObjects {
            plan.append("DISCARD TEMP")
            self.mayHoldTemporaryObjects = false
        }
        if self.settingsDirty || self.needsFullReset(for: desired) {
            plan.append(Self.fullReset)
            self.appliedSettings = SessionSettings()
            self.settingsDirty = false
        }
        if self.appliedSettings != desired {
            plan.append(contentsOf: desired.statements(from: self.appliedSettings))
            self.appliedSettings = desired
        }
        return plan
    }

    private func needsFullReset(for desired: SessionSettings) -> Bool {
        guard self.appliedSettings != desired else { return false }
        return Self.resettableOnlyByResetAll.contains { name in
            let applied = self.appliedSettings.statements[name]
            return applied != nil && applied != desired.statements[name]
        }
    }

    /// The proxy ran `DISCARD ALL` (session pooling's cleanup): nothing of anyone's is left.
    public mutating func discarded() {
        self.statements.removeAll()
        self.appliedSettings = SessionSettings()
        self.settingsDirty = false
        self.mayListen = false
        self.mayHoldTemporaryObjects = false
        self.clientNamesToDeallocate.removeAll()
    }
}
