/// A first-in first-out queue on a growable array; amortised O(1) at both ends, no dependency.
struct FIFOQueue<Element> {
    private var storage: [Element?] = []
    private var head = 0

    var isEmpty: Bool { self.head == self.storage.count }
    var count: Int { self.storage.count - self.head }

    mutating func append(_ element: Element) {
        self.storage.append(element)
    }

    mutating func popFirst() -> Element? {
        guard self.head < self.storage.count else { return nil }
        let element = self.storage[self.head]
        self.storage[self.head] = nil
        self.head += 1
        if self.head > 64, self.head * 2 > self.storage.count {
            self.storage.removeFirst(self.head)
            self.head = 0
        }
        return element
    }

    var first: Element? { self.isEmpty ? nil : self.storage[self.head] }

    func contains(where predicate: (Element) -> Bool) -> Bool {
        self.storage[self.head...].contains(where: { $0.map(predicate) ?? false })
    }

    /// The first element, from the head, matching `predicate`.
    func first(where predicate: (Element) -> Bool) -> Element? {
        for case let element? in self.storage[self.head...] where predicate(element) { return element }
        return nil
    }

    /// Removes and returns the first element matching `predicate`: O(1) when it is the head.
    mutating func popFirst(where predicate: (Element) -> Bool) -> Element? {
        guard let head = self.first else { return nil }
        if predicate(head) { return self.popFirst() }
        for index in (self.head + 1)..<self.storage.count {
            if let element = self.storage[index], predicate(element) {
                self.storage.remove(at: index)
                return element
            }
        }
        return nil
    }

    /// Removes the elements matching `predicate`, keeping the order of the others. O(n); for rare events.
    mutating func removeAll(where predicate: (Element) -> Bool) -> [Element] {
        var removed: [Element] = []
        var kept: [Element?] = []
        kept.reserveCapacity(self.count)
        for case let element? in self.storage[self.head...] {
            if predicate(element) { removed.append(element) } else { kept.append(element) }
        }
        self.storage = kept
        self.head = 0
        return removed
    }
}
extension FIFOQueue: Sendable where Element: Sendable {}
