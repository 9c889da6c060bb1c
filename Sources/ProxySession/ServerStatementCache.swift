/// The proxy's prepared statements that one server connection holds, with their last use, bounded by
/// `max_prepared_statements`: the least recently used are deallocated when a client is next lent the
/// connection (never in the middle of someone's transaction).
///
/// A client's deallocation (`DEALLOCATE ALL`, `DISCARD ALL`, `DEALLOCATE name`, in any protocol) may or may
/// not run on the server (an aborted transaction, an earlier error in the pipeline skip it). The statements it
/// may have removed become *uncertain*: a Parse of one is preceded by a Close (closing an absent statement is
/// no error), so it is right either way, and the next lease deallocates them for certain.
public struct ServerStatementCache: Sendable {
    private var lastUse: [Int: UInt64] = [:]
    private var clock: UInt64 = 0
    public var capacity: Int
    /// Statements that may or may not be on the server.
    public private(set) var uncertain: Set<Int> = []

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { self.lastUse.count }

    public func contains(_ statement: Int) -> Bool {
        self.lastUse[statement] != nil
    }

    /// Whether a Parse of `statement` must be preceded by a Close of it.
    public func needsCloseBeforeParse(_ statement: Int) -> Bool {
        !self.uncertain.isEmpty && self.uncertain.contains(statement)
    }

    /// Records a use (and the statement's presence, certain from now on: a Parse of it is on its way).
    public mutating func use(_ statement: Int) {
        self.clock &+= 1
        self.lastUse[statement] = self.clock
        if !self.uncertain.isEmpty { self.uncertain.remove(statement) }
    }

    /// The statement is gone for sure (deallocated by the proxy, or its Parse failed).
    public mutating func remove(_ statement: Int) {
        self.lastUse[statement] = nil
    }

    /// Everything is gone for sure (DISCARD ALL of the proxy's own, a reconnect).
    public mutating func removeAll() {
        self.lastUse.removeAll(keepingCapacity: true)
        self.uncertain.removeAll()
    }

    /// A deallocation of `statement` may have run.
    public mutating func mayHaveLost(_ statement: Int) {
        self.lastUse[statement] = nil
        self.uncertain.insert(statement)
    }

    /// A deallocation of everything may have run.
    public mutating func mayHaveLostAll() {
        self.uncertain.formUnion(self.lastUse.keys)
        self.lastUse.removeAll(keepingCapacity: true)
    }

    /// The statements to deallocate so that at most `capacity` remain, least recently used first; they are
    /// forgotten here at once.
    public mutating func evictOverflow() -> [Int] {
        guard self.lastUse.count > self.capacity else { return [] }
        let victims = self.lastUse.sorted { $0.value < $1.value }.prefix(self.lastUse.count - self.capacity).map(\.key)
        for victim in victims { self.lastUse[victim] = nil }
        return victims
    }

    /// Uncertain statements to deallocate now (between clients): all of them; nil when there are too many to
    /// name, and `DEALLOCATE ALL` is the cheaper way (the cache then starts empty).
    public mutating func settleUncertain(namingAtMost limit: Int = 4) -> [Int]? {
        guard !self.uncertain.isEmpty else { return [] }
        if self.uncertain.count > limit {
            self.removeAll()
            return nil
        }
        defer { self.uncertain.removeAll() }
        return self.uncertain.sorted()
    }
}
