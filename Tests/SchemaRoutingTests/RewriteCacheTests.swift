import Testing
@testable import SchemaRouting

@Suite("RewriteCache")
struct RewriteCacheTests {
    static func insert(_ cache: RewriteCache<RewriteOutcome>, _ text: String, _ outcome: RewriteOutcome = .unchanged) {
        Array(text.utf8).withUnsafeBytes { cache.insert(outcome, for: $0) }
    }

    static func lookup(_ cache: RewriteCache<RewriteOutcome>, _ text: String) -> RewriteOutcome? {
        Array(text.utf8).withUnsafeBytes { cache.value(for: $0) }
    }

    @Test("never holds more than its capacity")
    func capacityBound() {
        let cache = RewriteCache<RewriteOutcome>(capacity: 10)
        for number in 0..<1_000 {
            Self.insert(cache, "SELECT \(number)", .rewritten(Array("x\(number)".utf8)))
            #expect(cache.count <= 10)
        }
        #expect(cache.count == 10)
        #expect(Self.lookup(cache, "SELECT 999") == .rewritten(Array("x999".utf8)))
        #expect(Self.lookup(cache, "SELECT 0") == nil)
    }

    @Test("an entry used since the hand last passed survives the next eviction")
    func secondChance() {
        let cache = RewriteCache<RewriteOutcome>(capacity: 3)
        for text in ["a", "b", "c"] {
            Self.insert(cache, text)
        }
        #expect(Self.lookup(cache, "a") == .unchanged)
        Self.insert(cache, "d")
        #expect(Self.lookup(cache, "a") == .unchanged)
        #expect(Self.lookup(cache, "b") == nil)
        #expect(cache.count == 3)
    }

    @Test("never holds more bytes than its budget, and skips entries too large for it")
    func byteBound() {
        let cache = RewriteCache<RewriteOutcome>(capacity: 1_000, byteBudget: 1_600)
        let large = String(repeating: "y", count: 101)
        Self.insert(cache, large)
        #expect(Self.lookup(cache, large) == nil)
        for number in 0..<100 {
            let text = String(repeating: "x", count: 40) + "\(number)"
            Self.insert(cache, text, .rewritten(Array(repeating: 1, count: 50)))
            #expect(cache.bytes <= 1_600)
        }
        #expect(cache.count > 10)
    }

    @Test("says which key lengths it could hold at all")
    func mayHold() {
        let cache = RewriteCache<RewriteOutcome>(capacity: 10, byteBudget: 1_600)
        #expect(cache.mayHold(keyLength: 100))
        #expect(!cache.mayHold(keyLength: 101))
        #expect(!RewriteCache<RewriteOutcome>(capacity: 0).mayHold(keyLength: 1))
    }

    @Test("capacity 0 turns caching off")
    func disabled() {
        let cache = RewriteCache<RewriteOutcome>(capacity: 0)
        Self.insert(cache, "a")
        #expect(Self.lookup(cache, "a") == nil)
        #expect(cache.count == 0)
    }

    @Test("keys compare whole texts, not just hashes or prefixes")
    func exactKeys() {
        let cache = RewriteCache<RewriteOutcome>(capacity: 10)
        Self.insert(cache, "SELECT * FROM users", .rewritten(Array("one".utf8)))
        #expect(Self.lookup(cache, "SELECT * FROM users ") == nil)
        #expect(Self.lookup(cache, "SELECT * FROM user") == nil)
        #expect(Self.lookup(cache, "") == nil)
        Self.insert(cache, "", .unchanged)
        #expect(Self.lookup(cache, "") == .unchanged)
    }
}
