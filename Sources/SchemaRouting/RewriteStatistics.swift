import Synchronization

/// Counters of what the rewriter did, for the metrics endpoint: `schemaproxy_rewrites_total{result}` and
/// `schemaproxy_rewrite_cache_hits_total` / `_misses_total`. Relaxed atomics: each bump is one instruction, and a
/// scrape only needs each counter to be eventually right, not a consistent snapshot of all of them.
///
/// Every `rewrite` call counts once under its result. A cache hit or miss is only counted for statements that pass
/// the prefilter (those that the prefilter rules out never reach the cache). A hit is either the exact text or a text
/// of the same shape with other literal values; a miss is a parse. A statement a caller sends again as rewritten
/// before (`SchemaRewriter.countRepeatedRewrite`) counts as rewritten and as a hit.
public final class RewriteStatistics: Sendable {
    private let rewrittenCount = Atomic<Int>(0)
    private let unchangedCount = Atomic<Int>(0)
    private let parseErrorCount = Atomic<Int>(0)
    private let cacheHitCount = Atomic<Int>(0)
    private let cacheMissCount = Atomic<Int>(0)
    private let literalInsensitiveHitCount = Atomic<Int>(0)

    public init() {}

    public var rewritten: Int { rewrittenCount.load(ordering: .relaxed) }
    public var unchanged: Int { unchangedCount.load(ordering: .relaxed) }
    public var parseErrors: Int { parseErrorCount.load(ordering: .relaxed) }
    public var cacheHits: Int { cacheHitCount.load(ordering: .relaxed) }
    public var cacheMisses: Int { cacheMissCount.load(ordering: .relaxed) }
    /// The part of `cacheHits` served by a statement of the same shape with other literal values.
    var literalInsensitiveHits: Int { literalInsensitiveHitCount.load(ordering: .relaxed) }

    func record(_ outcome: RewriteOutcome) {
        switch outcome {
        case .unchanged: unchangedCount.add(1, ordering: .relaxed)
        case .rewritten: rewrittenCount.add(1, ordering: .relaxed)
        case .parseError: parseErrorCount.add(1, ordering: .relaxed)
        }
    }

    func recordCacheHit(literalInsensitive: Bool = false) {
        cacheHitCount.add(1, ordering: .relaxed)
        if literalInsensitive {
            literalInsensitiveHitCount.add(1, ordering: .relaxed)
        }
    }

    func recordRepeatedRewrite() {
        rewrittenCount.add(1, ordering: .relaxed)
        cacheHitCount.add(1, ordering: .relaxed)
    }

    func recordCacheMiss() {
        cacheMissCount.add(1, ordering: .relaxed)
    }
}
