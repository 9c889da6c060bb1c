import Testing
@testable import SchemaRouting

/// What the rewrite table cannot show: the caches keep legacy and regclass rewrites exact, and the mapping value
/// carries the legacy schemas (a reload that changes them gets a new rewriter).
@Suite("Migration rewrites")
struct MigrationRewriteTests {
    @Test("a regclass literal is pinned in the shape cache: one name's template never serves another")
    func regclassLiteralIsPinned() {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping)
        #expect(rewriter.rewrite("SELECT nextval('other_seq'), 1") == .unchanged)
        #expect(
            rewriter.rewrittenText("SELECT nextval('attachments_id_seq'), 2")
                == "SELECT nextval('shared_common.attachments_id_seq'), 2"
        )
        #expect(rewriter.rewrite("SELECT nextval('other_seq'), 3") == .unchanged)
        // The same regclass literal with another plain constant beside it is served from the template.
        let hitsBefore = rewriter.statistics.literalInsensitiveHits
        #expect(
            rewriter.rewrittenText("SELECT nextval('attachments_id_seq'), 4")
                == "SELECT nextval('shared_common.attachments_id_seq'), 4"
        )
        #expect(rewriter.statistics.literalInsensitiveHits == hitsBefore + 1)
    }

    @Test("a legacy-qualified name is rewritten the same through the shape cache")
    func legacyThroughTemplate() {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping)
        #expect(rewriter.rewrittenText("SELECT * FROM public.users WHERE id = 1")
            == "SELECT * FROM shared_common.users WHERE id = 1")
        #expect(rewriter.rewrittenText("SELECT * FROM public.users WHERE id = 12345")
            == "SELECT * FROM shared_common.users WHERE id = 12345")
        #expect(rewriter.statistics.literalInsensitiveHits == 1)
    }

    @Test("without legacy schemas a qualified name is never touched")
    func noLegacySchemas() throws {
        let mapping = try SchemaMapping(schemas: ["shared_common": ["users"]])
        let rewriter = SchemaRewriter(mapping: mapping)
        #expect(rewriter.rewrite("SELECT * FROM public.users") == .unchanged)
        #expect(rewriter.rewrite("SELECT 'public.users'::regclass") == .unchanged)
        #expect(rewriter.rewrittenText("SELECT 'users'::regclass") == "SELECT 'shared_common.users'::regclass")
    }

    @Test("legacy schemas are part of the mapping's value, folded like schema names")
    func mappingValue() throws {
        let plain = try SchemaMapping(schemas: ["s": ["t"]])
        let legacy = try SchemaMapping(schemas: ["s": ["t"]], legacySchemas: ["PUBLIC", "public", "\"Old\""])
        #expect(plain != legacy)
        #expect(legacy.legacySchemas == ["Old", "public"])
        #expect(throws: SchemaMappingError.self) { try SchemaMapping(schemas: ["s": ["t"]], legacySchemas: ["a b"]) }
    }
}
