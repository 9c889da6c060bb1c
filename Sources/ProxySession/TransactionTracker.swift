import PostgresWire

/// Follows one client's conversation with the server connection lent to it and says when that
/// connection can go back to the pool: when every Query/Sync/FunctionCall the client sent has had its
/// ReadyForQuery, no extended-protocol message waits for a Sync, and the server reports "idle" (not in
/// a transaction block, not in a failed one). Counting sync points rather than looking at the first
/// ReadyForQuery is what keeps pipelined clients (many Syncs in flight) on one connection.
public struct TransactionTracker: Sendable, Equatable {
    /// Query/Sync/FunctionCall messages whose ReadyForQuery has not come back yet.
    public private(set) var pendingSyncPoints = 0
    /// Parse/Bind/Describe/Execute/Close/Flush sent since the last Sync: the server holds state for them.
    public private(set) var hasUnsyncedMessages = false
    public private(set) var status: TransactionStatus = .idle
    /// Syncs sent since the last Execute or Query: if COPY data follows, the server ignored them (it was
    /// already in copy-in mode when it read them), so they are not sync points after all.
    private var syncsSinceExecute = 0
    private var inCopyIn = false

    public init() {}

    /// Call for every message the client sends to the server.
    public mutating func clientSent(_ id: UInt8) {
        switch id {
        case FrontendMessageID.query, FrontendMessageID.functionCall:
            self.pendingSyncPoints += 1
            self.syncsSinceExecute = 0
        case FrontendMessageID.sync:
            // During copy-in the server ignores Sync and Flush.
            guard !self.inCopyIn else { return }
            self.pendingSyncPoints += 1
            self.syncsSinceExecute += 1
            self.hasUnsyncedMessages = false
        case FrontendMessageID.copyData:
            if !self.inCopyIn {
                self.inCopyIn = true
                self.pendingSyncPoints -= self.syncsSinceExecute
                if self.syncsSinceExecute > 0 { self.hasUnsyncedMessages = true }
                self.syncsSinceExecute = 0
            }
        case FrontendMessageID.copyDone, FrontendMessageID.copyFail:
            if !self.inCopyIn {
                self.pendingSyncPoints -= self.syncsSinceExecute
                if self.syncsSinceExecute > 0 { self.hasUnsyncedMessages = true }
                self.syncsSinceExecute = 0
            }
            self.inCopyIn = false
        case FrontendMessageID.execute:
            self.syncsSinceExecute = 0
            self.hasUnsyncedMessages = true
        case FrontendMessageID.parse, FrontendMessageID.bind, FrontendMessageID.describe,
             FrontendMessageID.close, FrontendMessageID.flush:
            self.hasUnsyncedMessages = true
        default:
            break
        }
    }

    /// Call for every ReadyForQuery the server sends. Returns whether the connection may now be released.
    public mutating func serverReady(_ statusByte: UInt8) -> Bool {
        if self.pendingSyncPoints > 0 { self.pendingSyncPoints -= 1 }
        self.status = TransactionStatus(rawValue: statusByte) ?? .failed
        return self.isAtTransactionBoundary
    }

    /// Nothing in flight and no transaction open: the server connection holds no state of this client's
    /// (other than session-level state, which transaction pooling does not carry over).
    public var isAtTransactionBoundary: Bool {
        self.pendingSyncPoints == 0 && !self.hasUnsyncedMessages && self.status == .idle
    }

    /// Nothing in flight, though a transaction may be open (so a ROLLBACK can be sent).
    public var isQuiet: Bool {
        self.pendingSyncPoints == 0 && !self.hasUnsyncedMessages
    }

    public mutating func reset() {
        self = TransactionTracker()
    }
}
