/// Qualifies unqualified references to mapped tables in SQL statement texts: `SELECT * FROM users` becomes
/// `SELECT * FROM shared_common.users` when the mapping routes `users` to `shared_common`.
///
/// One instance per (service, mapping); thread-safe. A call first runs a cheap prefilter (does any mapped name occur
/// in the text at all?), then looks the exact text up in a bounded cache, then the text with its literal values taken
/// out (`StatementShape`) in a second one, and only then parses it with PostgreSQL's own parser (libpg_query). Texts
/// the parser rejects are reported as `.parseError` and must be forwarded unchanged.
public final class SchemaRewriter: Sendable {
    public let mapping: SchemaMapping
    public let statistics: RewriteStatistics
    private let names: MappedNameTable
    private let prefilter: NamePrefilter
    /// Statement text to outcome: every parsed text, including those the parser rejected.
    private let cache: RewriteCache<RewriteOutcome>
    /// Statement shape to template: texts that parsed and hold literals.
    private let templates: RewriteCache<RewriteTemplate>

    /// - Parameters:
    ///   - cacheCapacity: how many distinct statement texts to remember, and separately how many statement shapes
    ///     (texts differing only in literal values); 0 turns both caches off.
    ///   - statistics: where to count outcomes; pass a shared instance to aggregate several rewriters.
    public init(
        mapping: SchemaMapping,
        cacheCapacity: Int = 10_000,
        statistics: RewriteStatistics = RewriteStatistics()
    ) {
        self.mapping = mapping
        self.statistics = statistics
        names = MappedNameTable(mapping)
        prefilter = NamePrefilter(names: names.tableNames)
        cache = RewriteCache(capacity: cacheCapacity)
        templates = RewriteCache(capacity: cacheCapacity)
    }

    /// Rewrites one statement text (which may hold several statements separated by `;`).
    /// `sql` is the text exactly as the client sent it, without the trailing NUL.
    public func rewrite(_ sql: UnsafeRawBufferPointer) -> RewriteOutcome {
        let outcome = outcome(for: sql)
        statistics.record(outcome)
        return outcome
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

    private func outcome(for sql: UnsafeRawBufferPointer) -> RewriteOutcome {
        guard !names.isEmpty, prefilter.mayReference(sql) else {
            return .unchanged
        }
        if let cached = cache.value(for: sql) {
            statistics.recordCacheHit()
            return cached
        }
        // A shape key is about as long as the text: too long for the cache, and the text is not worth scanning.
        let shape = templates.mayHold(keyLength: sql.count) ? LiteralScanner.shape(of: sql) : nil
        if let shape, let template = shape.key.withUnsafeBytes({ templates.value(for: $0) }),
           let outcome = template.outcome(for: sql, shape: shape, names: names)
        {
            statistics.recordCacheHit(literalInsensitive: true)
            return outcome
        }
        statistics.recordCacheMiss()
        let analysis = StatementRewriter.analyze(sql, names: names)
        cache.insert(analysis.outcome, for: sql)
        if let shape, let constants = analysis.constantLocations,
           let template = RewriteTemplate(
               shape: shape, text: sql, qualifications: analysis.qualifications, constantLocations: constants
           )
        {
            shape.key.withUnsafeBytes { templates.insert(template, for: $0, valueBytes: template.byteCount) }
        }
        return analysis.outcome
    }
}
