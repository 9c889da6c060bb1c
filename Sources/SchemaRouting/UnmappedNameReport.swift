import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Per service: the unqualified table names the rewriter left alone because the mapping does not name them — they
/// still resolve through the server's `search_path`, and they are what a migration has not covered yet.
///
/// Counting must cost nothing measurable on the hot path, so the names of a statement are found once, when its
/// rewrite is first made (a parse), and turned into `UnmappedSlots`: indices into this report's fixed table of
/// counters, kept with the cached rewrite. Every later use of that cached rewrite bumps those counters (relaxed
/// atomics, no lock). Only giving a name its slot takes a lock, and that happens next to a parse.
///
/// The table is bounded: the first `capacity` distinct names get a slot; references to names beyond it still count in
/// `total` (the metric) but are not listed. Slots are never reused, so a cached rewrite's slots stay valid for the
/// report's lifetime, across mapping reloads (the service keeps its report).
public final class UnmappedNameReport: @unchecked Sendable {
    /// One listed name.
    public struct Row: Sendable, Equatable {
        public var name: String
        public var count: Int
        /// Seconds since 1970 (UTC).
        public var firstSeen: Int
        public var lastSeen: Int
    }

    public let capacity: Int
    // Fixed tables of atomics: written on the hot path without a lock (`@unchecked Sendable` is for these).
    private let counts: UnsafeMutablePointer<Atomic<Int>>
    private let lastSeen: UnsafeMutablePointer<Atomic<Int>>
    private let totalCount = Atomic<Int>(0)

    private struct Registry {
        var slotByName: [[UInt8]: Int32] = [:]
        var names: [[UInt8]] = []
        var firstSeen: [Int] = []
    }

    private let registry = Mutex(Registry())

    public init(capacity: Int = 1_000) {
        self.capacity = max(0, capacity)
        counts = .allocate(capacity: max(1, self.capacity))
        lastSeen = .allocate(capacity: max(1, self.capacity))
        for index in 0..<self.capacity {
            (counts + index).initialize(to: Atomic(0))
            (lastSeen + index).initialize(to: Atomic(0))
        }
    }

    deinit {
        counts.deinitialize(count: capacity)
        lastSeen.deinitialize(count: capacity)
        counts.deallocate()
        lastSeen.deallocate()
    }

    /// Every reference counted so far, listed or not: `schemaproxy_unmapped_references_total`.
    public var total: Int { totalCount.load(ordering: .relaxed) }

    /// The slots for `names` (one per reference, in order), giving new names a slot while there is room.
    func slots(for names: [[UInt8]]) -> UnmappedSlots {
        guard !names.isEmpty else {
            return UnmappedSlots()
        }
        let now = Self.now()
        var slots = UnmappedSlots()
        registry.withLock { registry in
            for name in names {
                if let slot = registry.slotByName[name] {
                    slots.append(slot)
                } else if registry.names.count < capacity {
                    let slot = Int32(registry.names.count)
                    registry.slotByName[name] = slot
                    registry.names.append(name)
                    registry.firstSeen.append(now)
                    slots.append(slot)
                } else {
                    slots.append(-1)
                }
            }
        }
        return slots
    }

    /// Counts one use of a statement whose unmapped references are `slots`.
    @inline(__always)
    func record(_ slots: UnmappedSlots) {
        guard !slots.isEmpty else {
            return
        }
        recordSlots(slots)
    }

    private func recordSlots(_ slots: UnmappedSlots) {
        let now = Self.now()
        totalCount.add(slots.count, ordering: .relaxed)
        slots.forEach { slot in
            guard slot >= 0 else {
                return
            }
            counts[Int(slot)].add(1, ordering: .relaxed)
            if lastSeen[Int(slot)].load(ordering: .relaxed) != now {
                lastSeen[Int(slot)].store(now, ordering: .relaxed)
            }
        }
    }

    /// The `limit` most referenced names, most referenced first (ties by name).
    public func top(_ limit: Int) -> [Row] {
        let (names, firstSeen) = registry.withLock { ($0.names, $0.firstSeen) }
        var rows: [Row] = []
        rows.reserveCapacity(names.count)
        for (slot, name) in names.enumerated() {
            let count = counts[slot].load(ordering: .relaxed)
            guard count > 0 else {
                continue
            }
            rows.append(Row(
                name: SQLIdentifier.quotedIfNeeded(String(decoding: name, as: UTF8.self)), count: count,
                firstSeen: firstSeen[slot], lastSeen: lastSeen[slot].load(ordering: .relaxed)
            ))
        }
        rows.sort { ($0.count, $1.name) > ($1.count, $0.name) }
        return Array(rows.prefix(max(0, limit)))
    }

    /// Whole seconds since 1970 from the coarse clock: a few nanoseconds, and seconds are all `last_seen` needs.
    private static func now() -> Int {
        var time = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_REALTIME_COARSE, &time)
        #else
        clock_gettime(CLOCK_REALTIME, &time)
        #endif
        return Int(time.tv_sec)
    }
}
