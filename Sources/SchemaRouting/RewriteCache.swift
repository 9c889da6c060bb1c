import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded, thread-safe map from a byte key to what the rewriter learnt about it: from a statement text to its
/// outcome, or from a statement's literal-free shape (`StatementShape.key`) to its `RewriteTemplate`.
///
/// Applications send the same few statement texts over and over, and parsing one costs tens of microseconds, so
/// outcomes are remembered. The cache holds at most `capacity` entries and at most `byteBudget` bytes (keys plus what
/// each value reports); beyond that, CLOCK (second chance) eviction drops an entry not used since the hand last
/// passed it — close to LRU, but a hit only sets a flag instead of relinking a list.
///
/// A lookup hashes the key outside the lock (SipHash with the process's random seed, so clients cannot aim
/// collisions), finds the slot by that hash and compares the stored bytes in place: no copy, no reference counting.
/// A key whose hash is already taken by another key is simply not cached.
final class RewriteCache<Value: Sendable>: Sendable {
    /// Statements longer than this share of the budget are not cached, so one huge statement cannot flush the rest.
    static var largestEntryShare: Int { 16 }

    /// Whether an entry with a key of `length` bytes could be cached at all.
    func mayHold(keyLength length: Int) -> Bool {
        capacity > 0 && length <= byteBudget / Self.largestEntryShare
    }

    let capacity: Int
    let byteBudget: Int
    private let storage: Mutex<Storage>

    init(capacity: Int, byteBudget: Int = 64 << 20) {
        self.capacity = max(0, capacity)
        self.byteBudget = max(0, byteBudget)
        storage = Mutex(Storage())
    }

    /// The cached value for `key`, if any.
    func value(for key: UnsafeRawBufferPointer) -> Value? {
        guard capacity > 0 else {
            return nil
        }
        let hash = Self.hash(key)
        return storage.withLock { storage -> Value? in
            guard let slot = storage.slotByHash[hash], storage.keys[slot].withUnsafeBytes({ Self.equal($0, key) })
            else {
                return nil
            }
            storage.referenced[slot] = true
            return storage.values[slot]
        }
    }

    /// Remembers `value` for `key` unless `key` (or its hash) is already there, evicting older entries as needed.
    /// `valueBytes` is what `value` holds beyond the key, for the byte budget.
    func insert(_ value: Value, for key: UnsafeRawBufferPointer, valueBytes: Int) {
        let size = key.count + valueBytes
        guard mayHold(keyLength: size) else {
            return
        }
        let hash = Self.hash(key)
        let bytes = Array(key)
        storage.withLock { storage in
            guard storage.slotByHash[hash] == nil else {
                return
            }
            while storage.slotByHash.count >= capacity || storage.bytes + size > byteBudget {
                storage.evictOne()
            }
            storage.insert(hash: hash, key: bytes, value: value, size: size)
        }
    }

    /// How many statements are cached now.
    var count: Int {
        storage.withLock { $0.slotByHash.count }
    }

    /// How many bytes of text the cache holds now.
    var bytes: Int {
        storage.withLock { $0.bytes }
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return hasher.finalize()
    }

    @inline(__always)
    private static func equal(_ left: UnsafeRawBufferPointer, _ right: UnsafeRawBufferPointer) -> Bool {
        left.count == right.count && (left.isEmpty || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0)
    }

    /// The entries, one slot each, in CLOCK order, as parallel arrays so that a hit touches only what it needs. A
    /// slot freed by eviction holds no value until it is reused.
    private struct Storage {
        var slotByHash: [Int: Int] = [:]
        var hashes: [Int] = []
        var keys: [[UInt8]] = []
        var values: [Value?] = []
        var sizes: [Int] = []
        var referenced: [Bool] = []
        var freeSlots: [Int] = []
        var hand = 0
        var bytes = 0

        mutating func insert(hash: Int, key: [UInt8], value: Value, size: Int) {
            let slot: Int
            if let free = freeSlots.popLast() {
                slot = free
                hashes[slot] = hash
                keys[slot] = key
                values[slot] = value
                sizes[slot] = size
                referenced[slot] = false
            } else {
                slot = keys.count
                hashes.append(hash)
                keys.append(key)
                values.append(value)
                sizes.append(size)
                referenced.append(false)
            }
            slotByHash[hash] = slot
            bytes += size
        }

        /// Drops the first entry the hand finds unreferenced, clearing reference flags on the way.
        mutating func evictOne() {
            precondition(!slotByHash.isEmpty, "eviction from an empty cache")
            while true {
                if hand >= keys.count {
                    hand = 0
                }
                if values[hand] != nil {
                    if referenced[hand] {
                        referenced[hand] = false
                    } else {
                        slotByHash.removeValue(forKey: hashes[hand])
                        bytes -= sizes[hand]
                        keys[hand] = []
                        values[hand] = nil
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

extension RewriteCache where Value == RewriteOutcome {
    /// Remembers `outcome` for the statement text `text`.
    func insert(_ outcome: RewriteOutcome, for text: UnsafeRawBufferPointer) {
        if case .rewritten(let rewritten) = outcome {
            insert(outcome, for: text, valueBytes: rewritten.count)
        } else {
            insert(outcome, for: text, valueBytes: 0)
        }
    }
}
