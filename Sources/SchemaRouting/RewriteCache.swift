import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded, thread-safe map from statement text to its rewrite outcome.
///
/// Applications send the same few statement texts over and over, and parsing one costs tens of microseconds, so
/// outcomes are remembered. The cache holds at most `capacity` entries and at most `byteBudget` bytes of statement
/// and rewritten text; beyond that, CLOCK (second chance) eviction drops an entry not used since the hand last
/// passed it — close to LRU, but a hit only sets a flag instead of relinking a list. A lookup hashes the text
/// outside the lock and compares it in place, without copying it.
final class RewriteCache: Sendable {
    /// Statements longer than this share of the budget are not cached, so one huge statement cannot flush the rest.
    static let largestEntryShare = 16

    let capacity: Int
    let byteBudget: Int
    private let storage: Mutex<Storage>

    init(capacity: Int, byteBudget: Int = 64 << 20) {
        self.capacity = max(0, capacity)
        self.byteBudget = max(0, byteBudget)
        storage = Mutex(Storage())
    }

    /// The cached outcome for `text`, if any.
    func outcome(for text: UnsafeRawBufferPointer) -> RewriteOutcome? {
        guard capacity > 0 else {
            return nil
        }
        let key = CacheKey(borrowing: text)
        return storage.withLock { storage -> RewriteOutcome? in
            guard let slot = storage.slotByKey[key] else {
                return nil
            }
            storage.slots[slot]!.referenced = true
            return storage.slots[slot]!.outcome
        }
    }

    /// Remembers `outcome` for `text`, evicting older entries as needed.
    func insert(_ outcome: RewriteOutcome, for text: UnsafeRawBufferPointer) {
        let size = Self.size(of: outcome, text: text)
        guard capacity > 0, size <= byteBudget / Self.largestEntryShare else {
            return
        }
        let key = CacheKey(copying: text)
        storage.withLock { storage in
            guard storage.slotByKey[key] == nil else {
                return
            }
            while storage.slotByKey.count >= capacity || storage.bytes + size > byteBudget {
                storage.evictOne()
            }
            storage.insert(Entry(key: key, outcome: outcome, size: size))
        }
    }

    /// How many statements are cached now.
    var count: Int {
        storage.withLock { $0.slotByKey.count }
    }

    /// How many bytes of text the cache holds now.
    var bytes: Int {
        storage.withLock { $0.bytes }
    }

    private static func size(of outcome: RewriteOutcome, text: UnsafeRawBufferPointer) -> Int {
        if case .rewritten(let rewritten) = outcome {
            return text.count + rewritten.count
        }
        return text.count
    }

    private struct Entry {
        var key: CacheKey
        var outcome: RewriteOutcome
        var size: Int
        var referenced = false
    }

    private struct Storage {
        var slotByKey: [CacheKey: Int] = [:]
        /// Entries in CLOCK order; `nil` for a slot freed by eviction and not yet reused.
        var slots: [Entry?] = []
        var freeSlots: [Int] = []
        var hand = 0
        var bytes = 0

        mutating func insert(_ entry: Entry) {
            let slot: Int
            if let free = freeSlots.popLast() {
                slot = free
                slots[slot] = entry
            } else {
                slot = slots.count
                slots.append(entry)
            }
            slotByKey[entry.key] = slot
            bytes += entry.size
        }

        /// Drops the first entry the hand finds unreferenced, clearing reference flags on the way.
        mutating func evictOne() {
            precondition(!slotByKey.isEmpty, "eviction from an empty cache")
            while true {
                if hand >= slots.count {
                    hand = 0
                }
                if let entry = slots[hand] {
                    if entry.referenced {
                        slots[hand]!.referenced = false
                    } else {
                        slotByKey.removeValue(forKey: entry.key)
                        bytes -= entry.size
                        slots[hand] = nil
                        freeSlots.append(hand)
                        hand += 1
                        return
                    }
                }
                hand += 1
            }
        }
    }
}

/// A statement text as a dictionary key: owned bytes when stored, or a borrowed buffer for a lookup, so a cache
/// hit needs no allocation. The hash is computed once, outside the cache's lock.
///
/// `@unchecked Sendable`: stored keys own plain bytes; a borrowed key exists only for the duration of one lookup on
/// the calling thread and is never stored, so its pointer never crosses threads.
private struct CacheKey: Hashable, @unchecked Sendable {
    private enum Bytes {
        case owned([UInt8])
        case borrowed(UnsafeRawBufferPointer)
    }

    private let bytes: Bytes
    private let hash: Int

    /// A key that is only valid while `text` is; never store it.
    init(borrowing text: UnsafeRawBufferPointer) {
        bytes = .borrowed(text)
        hash = Self.hash(text)
    }

    init(copying text: UnsafeRawBufferPointer) {
        bytes = .owned(Array(text))
        hash = Self.hash(text)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }

    static func == (lhs: CacheKey, rhs: CacheKey) -> Bool {
        guard lhs.hash == rhs.hash else {
            return false
        }
        return lhs.withBytes { left in
            rhs.withBytes { right in
                left.count == right.count
                    && (left.isEmpty || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0)
            }
        }
    }

    private func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch bytes {
        case .owned(let array): return array.withUnsafeBytes(body)
        case .borrowed(let buffer): return body(buffer)
        }
    }

    private static func hash(_ text: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: text)
        return hasher.finalize()
    }
}
