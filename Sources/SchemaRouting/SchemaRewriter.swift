import Synchronization

/// Qualifies unqualified references to mapped tables in SQL statement texts: `SELECT * FROM users` becomes
/// `SELECT * FROM shared_common.users` when the mapping routes `users` to `shared_common`.
///
/// One instance per (service, mapping); thread-safe. A call first runs a cheap prefilter (does any mapped name occur
/// in the text at all?), then looks the exact text up in a bounded cache, then the text with its literal values taken
/// out (`StatementShape`) in a second one, and only then parses it with PostgreSQL's own parser (libpg_query). Texts
/// the parser rejects are reported as `.parseError` and must be forwarded unchanged.
public final class SchemaRewriter: Sendable {
    public let mapping: SchemaMapping
    /// Unique in the process and never reused (an object's address can be): what a caller's memo of an earlier
    /// rewrite is tied to. Comparing it costs nothing, where a weak or strong reference to a rewriter that every
    /// connection shares would be reference counting on one object from every thread.
    public let identity: UInt64
    private static let identities = Atomic<UInt64>(0)
    public let statistics: RewriteStatistics
    private let names: MappedNameTable
    private let prefilter: NamePrefilter
    /// Where unmapped table references are counted; `nil` = not counted (and texts the prefilter rules out are not
    /// parsed at all).
    public let unmappedReport: UnmappedNameReport?
    /// Statement text to outcome: every parsed text, including those the parser rejected.
    private let cache: RewriteCache<CachedOutcome>
    /// Statement shape to template: texts that parsed and hold literals.
    private let templates: RewriteCache<RewriteTemplate>

    /// - Parameters:
    ///   - cacheCapacity: how many distinct statement texts to remember, and separately how many statement shapes
    ///     (texts differing only in literal values); 0 turns both caches off.
    ///   - statistics: where to count outcomes; pass a shared instance to aggregate several rewriters.
    ///   - unmappedReport: where to count unqualified table names that the mapping does not name. With a report,
    ///     statements the prefilter rules out (no mapped name in them) are parsed once and cached too, so that their
    ///     names are seen; their cache hits and misses are not counted in `statistics`.
    public init(
        mapping: SchemaMapping,
        cacheCapacity: Int = 10_000,
        statistics: RewriteStatistics = RewriteStatistics(),
        unmappedReport: UnmappedNameReport? = nil
    ) {
        self.mapping = mapping
        self.unmappedReport = unmappedReport
        identity = Self.identities.wrappingAdd(1, ordering: .relaxed).newValue
        self.statistics = statistics
        names = MappedNameTable(mapping)
        prefilter = NamePrefilter(names: names.tableNames)
        cache = RewriteCache(capacity: cacheCapacity)
        templates = RewriteCache(capacity: cacheCapacity)
    }

    /// Rewrites one statement text (which may hold several statements separated by `;`).
    /// `sql` is the text exactly as the client sent it, without the trailing NUL.
    public func rewrite(_ sql: UnsafeRawBufferPointer) -> RewriteOutcome {
        var memo: ShapeMemo?
        return rewrite(sql, memo: &memo)
    }

    /// The shape of the last statement one caller had rewritten from a template, with that template. A client
    /// repeats its statements with new literal values (psycopg2, pgbench -M simple): kept per connection, a
    /// statement of the same shape as the one before is rewritten without a look-up in the shared caches.
    public struct ShapeMemo: Sendable {
        /// The rewriter's `identity` (not a reference: a memo must not keep an old mapping's rewriter alive).
        fileprivate let rewriter: UInt64
        fileprivate let key: [UInt8]
        fileprivate let template: RewriteTemplate
    }

    /// `rewrite(_:)`, using and updating the caller's own `memo`.
    public func rewrite(_ sql: UnsafeRawBufferPointer, memo: inout ShapeMemo?) -> RewriteOutcome {
        var unmapped = UnmappedSlots()
        return rewrite(sql, memo: &memo, unmapped: &unmapped)
    }

    /// `rewrite(_:memo:)`, also giving the statement's unmapped references (already counted once), for a caller
    /// that counts a repeat of the statement with `countRepeatedRewrite(unmapped:)`.
    public func rewrite(
        _ sql: UnsafeRawBufferPointer, memo: inout ShapeMemo?, unmapped: inout UnmappedSlots
    ) -> RewriteOutcome {
        let outcome = outcome(for: sql, memo: &memo, unmapped: &unmapped)
        statistics.record(outcome)
        unmappedReport?.record(unmapped)
        return outcome
    }

    /// Counts a statement that this rewriter rewrote before and that the caller sends again as it was rewritten
    /// then (the same text from the same client): a rewrite, served from a cache, with its unmapped references.
    public func countRepeatedRewrite(unmapped: UnmappedSlots = UnmappedSlots()) {
        statistics.recordRepeatedRewrite()
        unmappedReport?.record(unmapped)
    }

    public func rewrite(_ sql: String) -> RewriteOutcome {
        var sql = sql
        return sql.withUTF8 { rewrite(UnsafeRawBufferPointer($0)) }
    }

    /// The rewrite of `sql` as a string, or `sql` itself when nothing changes or it does not parse — what
    /// `schemaproxy rewrite` prints. Rewritten text is decoded as UTF-8 (invalid bytes replaced).
    public func rewrittenText(_ sql: String) -> String {
        if case .rewritten(let bytes) = rewrite(sql) {
            return String(decoding: bytes, as: UTF8.self)
        }
        return sql
    }

    private func outcome(
        for sql: UnsafeRawBufferPointer, memo: inout ShapeMemo?, unmapped: inout UnmappedSlots
    ) -> RewriteOutcome {
        guard !names.isEmpty else {
            return .unchanged
        }
        // Without a mapped name the statement is unchanged; it is looked at only for its unmapped names, and its
        // cache hits and misses are not the rewriter's.
        let mayReference = prefilter.mayReference(sql)
        guard mayReference || unmappedReport != nil else {
            return .unchanged
        }
        // A shape key is about as long as the text: too long for the cache, and the text is not worth scanning.
        let mayShape = templates.mayHold(keyLength: sql.count)
        var shape: StatementShape?
        var scanned = false
        if memo?.rewriter == identity, mayShape {
            shape = LiteralScanner.shape(of: sql)
            scanned = true
            if let shape, shape.key == memo!.key,
               let outcome = memo!.template.outcome(for: sql, shape: shape, names: names)
            {
                if mayReference { statistics.recordCacheHit(literalInsensitive: true) }
                unmapped = memo!.template.unmapped
                return outcome
            }
        }
        if let cached = cache.value(for: sql) {
            if mayReference { statistics.recordCacheHit() }
            unmapped = cached.unmapped
            return cached.outcome
        }
        if !scanned, mayShape { shape = LiteralScanner.shape(of: sql) }
        if let shape, let template = shape.key.withUnsafeBytes({ templates.value(for: $0) }),
           let outcome = template.outcome(for: sql, shape: shape, names: names)
        {
            memo = ShapeMemo(rewriter: identity, key: shape.key, template: template)
            if mayReference { statistics.recordCacheHit(literalInsensitive: true) }
            unmapped = template.unmapped
            return outcome
        }
        if mayReference { statistics.recordCacheMiss() }
        var analysis = StatementRewriter.analyze(sql, names: names)
        if !mayReference {
            analysis.outcome = .unchanged  // never expected otherwise: nothing mapped is named
        }
        unmapped = unmappedReport?.slots(for: analysis.unmappedNames) ?? UnmappedSlots()
        let cachedBytes = if case .rewritten(let bytes) = analysis.outcome { bytes.count } else { 0 }
        cache.insert(CachedOutcome(outcome: analysis.outcome, unmapped: unmapped), for: sql, valueBytes: cachedBytes)
        if let shape, let constants = analysis.constantLocations,
           let template = RewriteTemplate(
               shape: shape, text: sql, qualifications: mayReference ? analysis.qualifications : [],
               constantLocations: constants, unmapped: unmapped
           )
        {
            shape.key.withUnsafeBytes { templates.insert(template, for: $0, valueBytes: template.byteCount) }
            memo = ShapeMemo(rewriter: identity, key: shape.key, template: template)
        }
        return analysis.outcome
    }
}

/// A statement text's rewrite as the text cache keeps it: the outcome and the statement's unmapped references.
struct CachedOutcome: Sendable {
    var outcome: RewriteOutcome
    var unmapped: UnmappedSlots
}
