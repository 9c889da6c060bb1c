/// Deadlines of one event loop: a binary min-heap ordered by deadline, with cancellation by identifier.
///
/// A value type with no clock of its own: the loop passes `now`, so tests drive time by hand. Cancelling removes
/// the payload at once and leaves the heap entry to be skipped when it comes up, which keeps `cancel` O(1) for
/// the timers that are armed and disarmed all the time (login, idle-in-transaction, checkout).
public struct TimerQueue<Payload> {
    public struct ID: Hashable, Sendable {
        public let rawValue: UInt64
    }

    private struct Entry {
        var deadline: UInt64
        var id: UInt64
    }

    private var heap: [Entry] = []
    private var payloads: [UInt64: Payload] = [:]
    private var nextID: UInt64 = 1

    public init() {}

    /// Timers armed and not yet fired or cancelled.
    public var count: Int { self.payloads.count }
    public var isEmpty: Bool { self.payloads.isEmpty }

    public mutating func schedule(at deadline: UInt64, _ payload: Payload) -> ID {
        let id = self.nextID
        self.nextID += 1
        self.payloads[id] = payload
        self.heap.append(Entry(deadline: deadline, id: id))
        self.siftUp(self.heap.count - 1)
        return ID(rawValue: id)
    }

    /// Returns the payload if the timer was still armed.
    @discardableResult
    public mutating func cancel(_ id: ID) -> Payload? {
        let payload = self.payloads.removeValue(forKey: id.rawValue)
        if self.payloads.isEmpty { self.heap.removeAll(keepingCapacity: true) }
        return payload
    }

    /// The earliest deadline of an armed timer.
    public mutating func nextDeadline() -> UInt64? {
        self.dropCancelledHead()
        return self.heap.first?.deadline
    }

    /// The next timer whose deadline is at or before `now`, removed; nil when none is due.
    public mutating func popDue(now: UInt64) -> (ID, Payload)? {
        self.dropCancelledHead()
        guard let head = self.heap.first, head.deadline <= now else { return nil }
        self.removeHead()
        let payload = self.payloads.removeValue(forKey: head.id)!
        return (ID(rawValue: head.id), payload)
    }

    private mutating func dropCancelledHead() {
        while let head = self.heap.first, self.payloads[head.id] == nil { self.removeHead() }
    }

    private mutating func removeHead() {
        let last = self.heap.removeLast()
        guard !self.heap.isEmpty else { return }
        self.heap[0] = last
        self.siftDown(0)
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard self.heap[child].deadline < self.heap[parent].deadline else { return }
            self.heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < self.heap.count, self.heap[left].deadline < self.heap[smallest].deadline { smallest = left }
            if right < self.heap.count, self.heap[right].deadline < self.heap[smallest].deadline { smallest = right }
            guard smallest != parent else { return }
            self.heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
