/// The proxy's prepared statements that one server connection holds, with their last use, bounded by
/// `max_prepared_statements`: the least recently used are deallocated when a client is next lent the
/// connection (never in the middle of someone's transaction).
public struct ServerStatementCache: Sendable {
    private var lastUse: [Int: UInt64] = [:]
    private var clock: UInt64 = 0
    public var capacity: Int

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { self.lastUse.count }

    public func contains(_ statement: Int) -> Bool {
        self.lastUse[statement] != nil
    }

    /// Records a use (and the statement's presence).
    public mutating func use(_ statement: Int) {
        self.clock &+= 1
        self.lastUse[statement] = self.clock
    }

    public mutating func remove(_ statement: Int) {
        self.lastUse[statement] = nil
    }

    public mutating func removeAll() {
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
}
