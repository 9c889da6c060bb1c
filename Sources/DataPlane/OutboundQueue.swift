/// Bytes a connection could not send yet, in order. Empty, it owns no memory: an idle connection costs no buffer.
/// Drained, its storage is given back unless it is small, so one large reply does not pin memory for long.
///
/// Noncopyable: exactly one owner frees the storage, and no copy-on-write check or reference count sits on the
/// path that appends and drains.
public struct OutboundQueue: ~Copyable {
    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0
    private var head = 0
    private var tail = 0

    /// Storage kept after the queue drains (a few frames); larger storage is freed.
    public static let retainedCapacity = 16 * 1024

    public init() {}

    deinit {
        self.storage?.deallocate()
    }

    public var count: Int { self.tail - self.head }
    public var isEmpty: Bool { self.tail == self.head }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if self.capacity - self.tail < bytes.count { self.makeRoom(for: bytes.count) }
        (self.storage! + self.tail).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        self.tail += bytes.count
    }

    /// The queued bytes, for a send; then `consume(_:)` what was sent.
    public func withQueuedBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: self.storage.map { $0 + self.head }, count: self.count))
    }

    public mutating func consume(_ count: Int) {
        precondition(count <= self.count)
        self.head += count
        if self.head == self.tail {
            self.head = 0
            self.tail = 0
            if self.capacity > Self.retainedCapacity {
                self.storage?.deallocate()
                self.storage = nil
                self.capacity = 0
            }
        }
    }

    private mutating func makeRoom(for extra: Int) {
        let live = self.count
        if let storage, self.capacity >= live + extra, self.head > 0 {
            // Enough room once the sent bytes at the front are dropped.
            storage.copyMemory(from: storage + self.head, byteCount: live)
        } else {
            let newCapacity = max(self.capacity * 2, live + extra, 4096)
            let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            if let storage {
                grown.copyMemory(from: storage + self.head, byteCount: live)
                storage.deallocate()
            }
            self.storage = grown
            self.capacity = newCapacity
        }
        self.head = 0
        self.tail = live
    }
}
