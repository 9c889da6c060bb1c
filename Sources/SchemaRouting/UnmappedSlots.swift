/// The unmapped table references of one statement, as slots of an `UnmappedNameReport` (one per reference; -1 for a
/// name the report had no room to list). Kept beside a cached rewrite and counted on each use of it.
///
/// Most statements have none or one or two such references, so two are held inline: copying the value out of a cache
/// then costs no allocation and no reference counting.
public struct UnmappedSlots: Sendable, Equatable {
    private var first: Int32 = -2
    private var second: Int32 = -2
    private var rest: [Int32]?

    public init() {}

    public var isEmpty: Bool { first == -2 }

    var count: Int {
        first == -2 ? 0 : second == -2 ? 1 : 2 + (rest?.count ?? 0)
    }

    mutating func append(_ slot: Int32) {
        if first == -2 {
            first = slot
        } else if second == -2 {
            second = slot
        } else {
            rest = (rest ?? []) + [slot]
        }
    }

    func forEach(_ body: (Int32) -> Void) {
        guard first != -2 else {
            return
        }
        body(first)
        guard second != -2 else {
            return
        }
        body(second)
        rest?.forEach(body)
    }
}
