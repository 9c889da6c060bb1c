import Testing
@testable import SchemaRouting

/// The unmapped-name report: names found when a rewrite is first made, counted again on every use of the cached
/// rewrite, bounded, and nothing but unqualified table references.
@Suite("Unmapped-name report")
struct UnmappedNameReportTests {
    static func counts(_ report: UnmappedNameReport) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: report.top(1_000).map { ($0.name, $0.count) })
    }

    @Test("a statement without any mapped name is seen too, and counted on each cache hit")
    func unmappedOnly() {
        let report = UnmappedNameReport()
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping, unmappedReport: report)
        for _ in 0..<3 {
            #expect(rewriter.rewrite("SELECT * FROM dreams") == .unchanged)
        }
        #expect(Self.counts(report) == ["dreams": 3])
        #expect(report.total == 3)
        // Those lookups are not the rewriter's cache statistics: the prefilter ruled the statement out.
        #expect(rewriter.statistics.cacheHits == 0 && rewriter.statistics.cacheMisses == 0)
        #expect(rewriter.statistics.unchanged == 3)
    }

    @Test("only unqualified, unmapped table references count: not mapped, qualified, CTE or catalog names")
    func whatCounts() {
        let report = UnmappedNameReport()
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping, unmappedReport: report)
        let statements = [
            "SELECT * FROM users u JOIN dreams d ON d.user_id = u.id JOIN dreams e ON true",
            "WITH recent AS (SELECT * FROM Orders) SELECT * FROM recent, pg_class, other.t, public.unknown",
            "INSERT INTO audit_log SELECT * FROM users",
            "SELECT 'dreams', dreams FROM users",
            "SELEC * FROM broken",
        ]
        for statement in statements {
            _ = rewriter.rewrite(statement)
        }
        #expect(Self.counts(report) == ["dreams": 2, "orders": 1, "audit_log": 1])
        let top = report.top(1)
        #expect(top.map(\.name) == ["dreams"])
        #expect(top[0].firstSeen > 1_700_000_000 && top[0].lastSeen >= top[0].firstSeen)
    }

    @Test("statements of one shape share the counted names: the template carries them")
    func throughTemplates() {
        let report = UnmappedNameReport()
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping, unmappedReport: report)
        var memo: SchemaRewriter.ShapeMemo?
        for id in 1...5 {
            var sql = "SELECT * FROM users JOIN \"Dreams\" USING (id) WHERE id = \(id)"
            let outcome = sql.withUTF8 { rewriter.rewrite(UnsafeRawBufferPointer($0), memo: &memo) }
            #expect(outcome != .unchanged)
        }
        #expect(Self.counts(report) == ["\"Dreams\"": 5])
        #expect(rewriter.statistics.cacheMisses == 1)
    }

    @Test("a repeated statement counted by the caller counts its unmapped names")
    func repeated() {
        let report = UnmappedNameReport()
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping, unmappedReport: report)
        var memo: SchemaRewriter.ShapeMemo?
        var unmapped = UnmappedSlots()
        var sql = "SELECT * FROM users, dreams"
        _ = sql.withUTF8 { rewriter.rewrite(UnsafeRawBufferPointer($0), memo: &memo, unmapped: &unmapped) }
        rewriter.countRepeatedRewrite(unmapped: unmapped)
        #expect(Self.counts(report) == ["dreams": 2])
    }

    @Test("bounded: names beyond the capacity count in the total but are not listed")
    func bounded() {
        let report = UnmappedNameReport(capacity: 2)
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping, unmappedReport: report)
        _ = rewriter.rewrite("SELECT * FROM a, b, c")
        _ = rewriter.rewrite("SELECT * FROM c")
        #expect(Self.counts(report) == ["a": 1, "b": 1])
        #expect(report.total == 4)
    }

    @Test("the report survives a new rewriter (a reload with another mapping)")
    func acrossRewriters() throws {
        let report = UnmappedNameReport()
        _ = SchemaRewriter(mapping: TestMapping.mapping, unmappedReport: report).rewrite("SELECT * FROM dreams")
        let other = try SchemaMapping(schemas: ["dream_service": ["dreams"]])
        _ = SchemaRewriter(mapping: other, unmappedReport: report).rewrite("SELECT * FROM dreams, orders")
        #expect(Self.counts(report) == ["dreams": 1, "orders": 1])
    }

    @Test("without a report, a statement the prefilter rules out is never parsed")
    func noReport() {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping)
        _ = rewriter.rewrite("SELECT * FROM dreams")
        _ = rewriter.rewrite("SELECT * FROM dreams")
        #expect(rewriter.statistics.cacheMisses == 0 && rewriter.statistics.cacheHits == 0)
    }
}
