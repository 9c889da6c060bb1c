import Testing
@testable import SchemaRouting

/// The literal-insensitive cache's promise: a statement served from the template of another with other literal
/// values gets byte for byte what a fresh parse and rewrite would give it.
@Suite("Literal-insensitive cache")
struct LiteralInsensitiveCacheTests {
    static let cold = SchemaRewriter(mapping: TestMapping.mapping, cacheCapacity: 0)

    @Test("another statement of a cached shape gets the fresh rewrite, from the template when it may", arguments: [
        // pgbench's statements as -M simple sends them.
        ("SELECT abalance FROM pgbench_accounts WHERE aid = 42;",
         "SELECT abalance FROM pgbench_accounts WHERE aid = 1234567;", true),
        ("UPDATE pgbench_accounts SET abalance = abalance + -3 WHERE aid = 42;",
         "UPDATE pgbench_accounts SET abalance = abalance + -28701 WHERE aid = 7;", true),
        ("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, CURRENT_TIMESTAMP);",
         "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (10, 200, 3000, 40000, CURRENT_TIMESTAMP);",
         true),
        ("BEGIN; UPDATE pgbench_tellers SET tbalance = tbalance + 5 WHERE tid = 3; END;",
         "BEGIN; UPDATE pgbench_tellers SET tbalance = tbalance + 12345 WHERE tid = 10; END;", true),
        // Literals before, between and after the names that gain a schema, of other lengths.
        ("SELECT 1, 'abc' FROM users JOIN attachments a ON a.id = 5 WHERE a.n = 'x'",
         "SELECT 123456, '' FROM users JOIN attachments a ON a.id = 77 WHERE a.n = 'FROM users'", true),
        ("INSERT INTO users VALUES (1, 'a'), (2, 'b')", "INSERT INTO users VALUES (10, 'aa'), (20, 'it''s')", true),
        ("SELECT * FROM users WHERE name = 'x'", "SELECT * FROM users WHERE name = $$it's a $ sign$$", true),
        ("SELECT * FROM users WHERE name = E'a\\nb'", "SELECT * FROM users WHERE name = 'plain'", true),
        ("SELECT * FROM users WHERE a = 'x\\'", "SELECT * FROM users WHERE a = 'longer\\'", true),
        ("SELECT 'x'FROM\"users\"", "SELECT 'xyz'FROM\"users\"", true),
        ("SELECT /* it's */ * FROM users WHERE id = 1 -- don't",
         "SELECT /* it's */ * FROM users WHERE id = 22 -- don't", true),
        ("SELECT /* a /* 'b */ c' */ 1 FROM users", "SELECT /* a /* 'b */ c' */ 22 FROM users", true),
        ("SELECT * FROM users WHERE id = $1 AND n = 5", "SELECT * FROM users WHERE id = $1 AND n = 6000", true),
        ("SELECT * FROM users LIMIT 10 OFFSET 20", "SELECT * FROM users LIMIT 5 OFFSET 1000", true),
        ("SELECT * FROM users FETCH FIRST 5 ROWS ONLY", "SELECT * FROM users FETCH FIRST 50 ROWS ONLY", true),
        ("SELECT * FROM users WHERE t > now() - interval '1 day'",
         "SELECT * FROM users WHERE t > now() - interval '30 days'", true),
        ("SELECT DATE '2024-01-01', '5'::int4, - - 5 FROM users",
         "SELECT DATE '1999-12-31', '55'::int4, - - 50 FROM users", true),
        ("SELECT B'1', X'1F', U&'\\0041' FROM users", "SELECT B'0101', X'', U&'\\+01F600x' FROM users", true),
        ("SELECT 1.5, .5, 1e5 FROM users", "SELECT 22.25, 3., 2.5E-7 FROM users", true),
        ("SELECT x::float(10) FROM users WHERE id = 1", "SELECT x::float(10) FROM users WHERE id = 2", true),
        ("SELECT x::varchar(10) FROM users", "SELECT x::varchar(200) FROM users", true),
        ("SELECT * FROM t WHERE users = 1", "SELECT * FROM t WHERE users = 22", true),
        // The grammar looks at this value (FLOAT(p) takes 1..53): the literal is pinned.
        ("SELECT x::float(10) FROM users", "SELECT x::float(60) FROM users", false),
        ("SELECT x::float(10) FROM users", "SELECT x::float(0) FROM users", false),
        // An integer too large for int4 is another token (FCONST), which the grammar refuses here.
        ("SELECT 'a'::varchar(10) FROM users", "SELECT 'a'::varchar(99999999999) FROM users", false),
        // Escapes that can fail are never replaced.
        ("SELECT E'\\x41' FROM users", "SELECT E'\\xff' FROM users", false),
        ("SELECT E'a' FROM users", "SELECT E'\\xff' FROM users", false),
        ("SELECT E'a' FROM users", "SELECT E'\\u12' FROM users", false),
        ("SELECT U&'\\0041' FROM users", "SELECT U&'\\0000' FROM users", false),
        ("SELECT U&'\\0041' FROM users", "SELECT U&'\\D800' FROM users", false),
        // Texts that are not constants to the grammar: pinned.
        ("COMMENT ON TABLE users IS 'a'", "COMMENT ON TABLE users IS 'bb'", false),
        ("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql; SELECT * FROM users",
         "CREATE FUNCTION f() RETURNS int AS $$ SELECT 22 $$ LANGUAGE sql; SELECT * FROM users", false),
        // Parse errors are never served from a template.
        ("SELEC 1 FROM users", "SELEC 2 FROM users", false),
        ("SELECT 1 FROM users WHERE", "SELECT 22 FROM users WHERE", false),
        // Other shapes.
        ("SELECT * FROM users WHERE id = 1", "SELECT * FROM users WHERE id = 'a'", false),
        // A sign is an operator token of its own.
        ("SELECT * FROM users WHERE id = 1", "SELECT * FROM users WHERE id = -1", false),
        ("SELECT * FROM users WHERE id = 1", "SELECT * FROM users WHERE id = 1.5", false),
        ("SELECT * FROM users WHERE id IN (1, 2, 3)", "SELECT * FROM users WHERE id IN (1, 2, 3, 4)", false),
        ("SELECT * FROM users WHERE id = 1", "SELECT * FROM users WHERE id = 1\n'a'", false),
    ])
    func pairs(_ first: String, _ second: String, _ servedFromTemplate: Bool) {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping)
        _ = rewriter.rewrite(first)
        let warm = rewriter.rewrite(second)
        let cold = SchemaRewriterTests.describe(Self.cold.rewrite(second))
        #expect(SchemaRewriterTests.describe(warm) == cold)
        #expect(rewriter.statistics.literalInsensitiveHits == (servedFromTemplate ? 1 : 0))
        #expect(rewriter.statistics.cacheHits + rewriter.statistics.cacheMisses == 2)

        // The same through a connection's shape memo, which skips the shared caches when the shape repeats.
        let memoized = SchemaRewriter(mapping: TestMapping.mapping)
        var memo: SchemaRewriter.ShapeMemo?
        _ = Self.rewrite(first, with: memoized, memo: &memo)
        #expect(SchemaRewriterTests.describe(Self.rewrite(second, with: memoized, memo: &memo)) == cold)
        #expect(memoized.statistics.literalInsensitiveHits == (servedFromTemplate ? 1 : 0))
    }

    static func rewrite(_ sql: String, with rewriter: SchemaRewriter, memo: inout SchemaRewriter.ShapeMemo?) -> RewriteOutcome {
        var sql = sql
        return sql.withUTF8 { rewriter.rewrite(UnsafeRawBufferPointer($0), memo: &memo) }
    }

    @Test("a shape memo serves only the rewriter that made it")
    func memoBelongsToItsRewriter() throws {
        let first = "SELECT abalance FROM pgbench_accounts WHERE aid = 42"
        let second = "SELECT abalance FROM pgbench_accounts WHERE aid = 7"
        var memo: SchemaRewriter.ShapeMemo?
        var old: SchemaRewriter? = SchemaRewriter(mapping: TestMapping.mapping)
        _ = Self.rewrite(first, with: old!, memo: &memo)
        #expect(memo != nil)
        // A reload's new mapping routes the table elsewhere: the old template must not be used.
        let moved = SchemaRewriter(mapping: try SchemaMapping(schemas: ["elsewhere": ["pgbench_accounts"]]))
        let outcome = Self.rewrite(second, with: moved, memo: &memo)
        #expect(SchemaRewriterTests.describe(outcome) == "rewritten: SELECT abalance FROM elsewhere.pgbench_accounts WHERE aid = 7")
        #expect(moved.statistics.cacheMisses == 1)
        // Nor once its rewriter is gone (a new one may be allocated where it was).
        var stale: SchemaRewriter.ShapeMemo?
        _ = Self.rewrite(first, with: old!, memo: &stale)
        old = nil
        let fresh = SchemaRewriter(mapping: try SchemaMapping(schemas: ["elsewhere": ["pgbench_accounts"]]))
        _ = Self.rewrite(second, with: fresh, memo: &stale)
        #expect(fresh.statistics.cacheMisses == 1)
        #expect(fresh.statistics.literalInsensitiveHits == 0)
    }

    @Test("a literal-insensitive hit counts as a cache hit; texts without literals still use the exact cache")
    func statistics() {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping)
        for aid in [1, 22, 333, 22] {
            _ = rewriter.rewrite("SELECT abalance FROM pgbench_accounts WHERE aid = \(aid)")
        }
        _ = rewriter.rewrite("SELECT * FROM users WHERE id = $1")
        _ = rewriter.rewrite("SELECT * FROM users WHERE id = $1")
        #expect(rewriter.statistics.cacheMisses == 2)
        #expect(rewriter.statistics.cacheHits == 4)
        #expect(rewriter.statistics.literalInsensitiveHits == 3)
        #expect(rewriter.statistics.rewritten == 6)
    }

    @Test("capacity 0 turns the literal-insensitive cache off too")
    func disabled() {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping, cacheCapacity: 0)
        _ = rewriter.rewrite("SELECT * FROM users WHERE id = 1")
        _ = rewriter.rewrite("SELECT * FROM users WHERE id = 2")
        #expect(rewriter.statistics.cacheHits == 0)
        #expect(rewriter.statistics.cacheMisses == 2)
    }

    @Test("each statement of the rewrite table, again with other literals through a warm cache, gets the fresh rewrite")
    func table() {
        var hits = 0
        var variants = 0
        for seed in 0..<4 {
            for testCase in RewriteCase.all {
                let original = Array(testCase.sql.utf8)
                guard let variant = LiteralVariants.variant(of: original, seed: seed) else {
                    continue
                }
                variants += 1
                let rewriter = SchemaRewriter(mapping: TestMapping.mapping)
                _ = original.withUnsafeBytes { rewriter.rewrite($0) }
                let warm = variant.withUnsafeBytes { rewriter.rewrite($0) }
                let cold = variant.withUnsafeBytes { Self.cold.rewrite($0) }
                #expect(warm == cold, "\(testCase.sql)\nvariant: \(String(decoding: variant, as: UTF8.self))")
                hits += rewriter.statistics.literalInsensitiveHits
            }
        }
        #expect(variants > 200)
        #expect(hits * 2 > variants, "only \(hits) of \(variants) variants were served from a template")
    }

    struct CorpusResult: CorpusTally {
        var variants = 0
        /// Variants that pass the prefilter, so reach the caches.
        var eligible = 0
        var hits = 0
        var failures: [String] = []

        mutating func add(_ other: CorpusResult) {
            variants += other.variants
            eligible += other.eligible
            hits += other.hits
            failures += other.failures
        }
    }

    @Test(
        "each corpus statement, again with other literals through a warm cache, gets the fresh rewrite",
        .enabled(if: CorpusStatements.shouldRun, CorpusStatements.skipReason)
    )
    func corpus() async throws {
        let mapping = CorpusInvariantTests.mapping
        let cold = SchemaRewriter(mapping: mapping, cacheCapacity: 0)
        let (_, total) = try await CorpusStatements.tally { file, statements in
            var result = CorpusResult()
            // One warm cache per file: a variant may also meet the template of an earlier statement.
            let rewriter = SchemaRewriter(mapping: mapping, cacheCapacity: 1_000_000)
            for (number, statement) in statements.enumerated() {
                _ = statement.withUnsafeBytes { rewriter.rewrite($0) }
                guard let variant = LiteralVariants.variant(of: statement, seed: number) else {
                    continue
                }
                result.variants += 1
                if variant.withUnsafeBytes({ CorpusInvariantTests.prefilter.mayReference($0) }) {
                    result.eligible += 1
                }
                let warm = variant.withUnsafeBytes { rewriter.rewrite($0) }
                let fresh = variant.withUnsafeBytes { cold.rewrite($0) }
                if warm != fresh {
                    result.failures.append(
                        "\(file): \(String(decoding: statement, as: UTF8.self))\nvariant: "
                            + "\(String(decoding: variant, as: UTF8.self))\nwarm: "
                            + "\(SchemaRewriterTests.describe(warm))\ncold: \(SchemaRewriterTests.describe(fresh))"
                    )
                }
            }
            result.hits = rewriter.statistics.literalInsensitiveHits
            return result
        }
        print(
            "Literal-insensitive corpus: \(total.variants) variants, \(total.eligible) past the prefilter, "
                + "\(total.hits) served from a template, "
                + "\(total.failures.count) differ from the fresh rewrite"
        )
        #expect(total.failures.isEmpty, "\(total.failures.prefix(10).joined(separator: "\n\n"))")
        #expect(total.variants > 10_000)
        #expect(total.hits * 2 > total.eligible)
    }
}

/// Statement texts with their literals replaced by others of the same kind and, where the choice allows, another
/// length: values that hit the grammar's own limits (`0`, huge numbers), table names and comment or quote markers
/// inside strings, every spelling of a string.
enum LiteralVariants {
    static let replacements: [LiteralKind: [String]] = [
        .integer: ["0", "7", "42", "1000", "65536", "2147483647", "00012"],
        .numeric: ["1.5", ".25", "3.", "1e3", "2.5E-7", "2147483648", "99999999999999999999"],
        .string: [
            "''", "'x'", "'users'", "'it''s -- /* $$'", #"'a\'"#, #"E'tab\tx'"#, #"E'q\''"#, "$$dollar $ body$$",
            "$v$ -- /* ' $v$", "' FROM users '",
        ],
        .unicodeString: ["U&'x'", #"U&'\0041\+01F600'"#, #"U&'d\\e'"#],
        .bitString: ["B'1'", "B'0101'", "b''"],
        .hexString: ["X'1F'", "x'abcdef'", "X''"],
    ]

    /// `sql` with every literal `LiteralScanner` replaces swapped for another, picked by `seed`; `nil` when `sql`
    /// has no such literal or every pick is the same text.
    static func variant(of sql: [UInt8], seed: Int) -> [UInt8]? {
        guard let shape = sql.withUnsafeBytes({ LiteralScanner.shape(of: $0) }) else {
            return nil
        }
        var result: [UInt8] = []
        var copied = 0
        for (index, literal) in shape.literals.enumerated() {
            result += sql[copied..<literal.start]
            let options = replacements[literal.kind]!
            let length = literal.end - literal.start
            let first = (seed &+ index) % options.count
            let pick = (0..<options.count).lazy.map { options[(first + $0) % options.count] }
                .first { $0.utf8.count != length } ?? options[first]
            result += Array(pick.utf8)
            copied = literal.end
        }
        result += sql[copied...]
        return result == sql ? nil : result
    }
}
