import PostgresWire

/// Decides, message by message, what of a server connection's responses reaches the client while the
/// proxy has messages of its own in the client's pipeline: a Parse that re-creates one of the client's
/// prepared statements on this server connection, a Close that stands in for a Parse the server needs
/// no more, or a whole query that applies the client's session settings. Their replies are dropped or
/// translated, so the client sees exactly what the server would have said to it alone.
///
/// The server answers in request order and, after an error, skips everything up to the next sync point
/// (Sync, Query, FunctionCall). So an expectation names its sync point ("segment") and its ordinal among
/// the Parses (or Closes) of that segment: the k-th ParseComplete of a segment answers its k-th Parse.
/// The ReadyForQuery that ends a segment settles every expectation of it; those without a reply were
/// skipped after an error, and the caller learns that from `failures`.
public struct ResponseFilter: Sendable {
    public enum Expectation: Sendable, Equatable {
        /// A Parse of the proxy's statement `statement`. `clientName` is set when it is the client's own
        /// Parse (its ParseComplete is the client's); nil when the proxy injected it to re-create a
        /// statement (its ParseComplete is dropped; an error passes, in place of what the client's next
        /// message would have got).
        case parse(statement: Int, clientName: String?, ordinal: Int)
        /// A Close of a statement that does not exist, sent instead of the client's Parse of a statement
        /// the server already holds: its CloseComplete is the client's ParseComplete.
        case parseAnsweredByClose(clientName: String, ordinal: Int)
        /// A Close of one of the proxy's statements sent before its Parse, where a deallocation may or may not
        /// have removed it: its CloseComplete is dropped.
        case ownClose(ordinal: Int)
        /// A query of the proxy's own, sent before the client's messages: every reply up to and including
        /// its ReadyForQuery is dropped, except ParameterStatus (the client's own settings, reported back).
        case ownQuery
    }

    /// An expectation that was settled without its reply: the message was skipped or failed.
    public struct Failure: Sendable, Equatable {
        /// The proxy's statement that is not on the server after all (nil for a Close stand-in).
        public var statement: Int?
        /// The client's statement whose Parse did not succeed (nil for an injected Parse).
        public var clientName: String?
    }

    private var entries: [(segment: Int, expectation: Expectation)] = []
    private var head = 0
    /// ReadyForQuery messages received so far: the index of the segment being answered.
    public internal(set) var receivedSegments = 0
    /// Own queries sent whose ReadyForQuery has not come.
    public private(set) var ownQueriesOutstanding = 0
    @usableFromInline var parsesAnswered = 0
    @usableFromInline var closesAnswered = 0
    public private(set) var failures: [Failure] = []
    /// The proxy's statements a ParseComplete confirmed: they are valid SQL for this service.
    public private(set) var confirmed: [Int] = []

    public init() {}

    /// Whether any expectation is outstanding. While false, every message is forwarded unchanged and
    /// the relay only needs `count(_:)`.
    @inlinable
    public var isActive: Bool { self.hasEntries }

    @usableFromInline
    var hasEntries: Bool { self.head < self.entries.count }

    /// Whether the next message received answers a query of the proxy's own (call before `received(_:)`).
    public var answeringOwnQuery: Bool {
        guard self.hasEntries, case .ownQuery = self.entries[self.head].expectation else { return false }
        return self.entries[self.head].segment == self.receivedSegments
    }

    /// The segment a message sent now belongs to, given how many of the client's sync points are in flight.
    public func segment(clientPendingSyncPoints: Int) -> Int {
        self.receivedSegments + self.ownQueriesOutstanding + clientPendingSyncPoints
    }

    /// Record what to do with the reply to a message about to be sent.
    public mutating func expect(_ expectation: Expectation, clientPendingSyncPoints: Int) {
        let segment = self.segment(clientPendingSyncPoints: clientPendingSyncPoints)
        self.entries.append((segment, expectation))
        if case .ownQuery = expectation { self.ownQueriesOutstanding += 1 }
    }

    /// The fast path's bookkeeping while inactive: keeps the per-segment counters right.
    @inlinable
    public mutating func count(_ id: UInt8) {
        switch id {
        case BackendMessageID.readyForQuery: self.endSegment()
        case BackendMessageID.parseComplete: self.parsesAnswered += 1
        case BackendMessageID.closeComplete: self.closesAnswered += 1
        default: break
        }
    }

    @usableFromInline
    mutating func endSegment() {
        self.receivedSegments += 1
        self.parsesAnswered = 0
        self.closesAnswered = 0
    }

    /// Decide about one message from the server (call for every message while `isActive`).
    public mutating func received(_ id: UInt8) -> MessageDisposition {
        guard self.hasEntries else {
            self.count(id)
            return .forward
        }
        let segment = self.receivedSegments
        if case .ownQuery = self.entries[self.head].expectation, self.entries[self.head].segment == segment {
            if id == BackendMessageID.readyForQuery {
                self.pop()
                self.ownQueriesOutstanding -= 1
                self.endSegment()
                return .drop
            }
            return id == BackendMessageID.parameterStatus ? .forward : .drop
        }
        switch id {
        case BackendMessageID.parseComplete:
            let ordinal = self.parsesAnswered
            self.parsesAnswered += 1
            guard let index = self.index(inSegment: segment, where: {
                if case .parse(_, _, ordinal) = $0 { return true } else { return false }
            }) else { return .forward }
            guard case .parse(let statement, let clientName, _) = self.entries[index].expectation else { return .forward }
            self.remove(at: index)
            self.confirmed.append(statement)
            return clientName == nil ? .drop : .forward
        case BackendMessageID.closeComplete:
            let ordinal = self.closesAnswered
            self.closesAnswered += 1
            guard let index = self.index(inSegment: segment, where: {
                switch $0 {
                case .parseAnsweredByClose(_, ordinal), .ownClose(ordinal): return true
                default: return false
                }
            }) else { return .forward }
            let expectation = self.entries[index].expectation
            self.remove(at: index)
            if case .ownClose = expectation { return .drop }
            return .translate(to: BackendMessageID.parseComplete)
        case BackendMessageID.readyForQuery:
            while self.hasEntries, self.entries[self.head].segment <= segment {
                switch self.entries[self.head].expectation {
                case .parse(let statement, let clientName, _):
                    self.failures.append(Failure(statement: statement, clientName: clientName))
                case .parseAnsweredByClose(let clientName, _):
                    self.failures.append(Failure(statement: nil, clientName: clientName))
                case .ownClose:
                    break  // skipped after an error; the Parse after it fails too and says so
                case .ownQuery:
                    self.ownQueriesOutstanding -= 1  // cannot happen: handled above
                }
                self.pop()
            }
            self.endSegment()
            return .forward
        default:
            return .forward
        }
    }

    /// Hands over the confirmations collected so far.
    public mutating func takeConfirmed() -> [Int] {
        defer { self.confirmed.removeAll() }
        return self.confirmed
    }

    /// Hands over the failures collected so far.
    public mutating func takeFailures() -> [Failure] {
        defer { self.failures.removeAll() }
        return self.failures
    }

    private func index(inSegment segment: Int, where matches: (Expectation) -> Bool) -> Int? {
        var index = self.head
        while index < self.entries.count, self.entries[index].segment <= segment {
            if self.entries[index].segment == segment, matches(self.entries[index].expectation) { return index }
            index += 1
        }
        return nil
    }

    private mutating func pop() {
        self.head += 1
        if self.head == self.entries.count {
            self.entries.removeAll(keepingCapacity: true)
            self.head = 0
        }
    }

    private mutating func remove(at index: Int) {
        if index == self.head { return self.pop() }
        self.entries.remove(at: index)
    }
}
