import Testing
@testable import SchemaRouting

/// Statistics, the cache as seen through the rewriter, unusual names, and concurrent use.
@Suite("SchemaRewriter behaviour")
struct SchemaRewriterBehaviourTests {
    @Test("every call counts once under its result; hits and misses only past the prefilter")
    func statistics() {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping)
        _ = rewriter.rewrite("SELECT * FROM users")
        _ = rewriter.rewrite("SELECT * FROM users")
        _ = rewriter.rewrite("SELECT * FROM accounts")
        _ = rewriter.rewrite("SELECT * FROM t WHERE users = 1")
        _ = rewriter.rewrite("SELEC * FROM users")
        let statistics = rewriter.statistics
        #expect(statistics.rewritten == 2)
        #expect(statistics.unchanged == 2)
        #expect(statistics.parseErrors == 1)
        #expect(statistics.cacheMisses == 3)
        #expect(statistics.cacheHits == 1)
    }

    @Test("an empty mapping changes nothing and never parses")
    func emptyMapping() {
        let rewriter = SchemaRewriter(mapping: .empty)
        #expect(rewriter.rewrite("SELECT * FROM users") == .unchanged)
        #expect(rewriter.rewrite("SELEC garbage") == .unchanged)
        #expect(rewriter.statistics.unchanged == 2)
        #expect(rewriter.statistics.cacheMisses == 0)
    }

    @Test("without a cache every statement is parsed again")
    func noCache() {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping, cacheCapacity: 0)
        for _ in 0..<3 {
            let expected = RewriteOutcome.rewritten(Array("SELECT * FROM shared_common.users".utf8))
            #expect(rewriter.rewrite("SELECT * FROM users") == expected)
        }
        #expect(rewriter.statistics.cacheMisses == 3)
        #expect(rewriter.statistics.cacheHits == 0)
    }

    @Test("table names with characters JSON escapes are matched", arguments: [
        (#"SELECT * FROM "a""b""#, #"SELECT * FROM s."a""b""#),
        (#"SELECT * FROM "x<y>&z""#, #"SELECT * FROM s."x<y>&z""#),
        (#"DROP TABLE "a""b", "x<y>&z""#, #"DROP TABLE s."a""b", s."x<y>&z""#),
        (#"WITH "a""b" AS (SELECT 1) SELECT * FROM "a""b""#, nil),
        ("SELECT * FROM \"tab\tname\"", "SELECT * FROM s.\"tab\tname\""),
    ])
    func escapedNames(_ sql: String, _ expected: String?) throws {
        let mapping = try SchemaMapping(schemas: ["s": [#""a""b""#, #""x<y>&z""#, "\"tab\tname\""]])
        let outcome = SchemaRewriter(mapping: mapping).rewrite(sql)
        #expect(outcome == (expected.map { .rewritten(Array($0.utf8)) } ?? .unchanged))
    }

    @Test("a statement holding a NUL byte is not parsed but forwarded")
    func embeddedNul() {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping)
        #expect(rewriter.rewrite("SELECT * FROM users\0; DROP TABLE users") == .parseError)
    }

    @Test("bytes that are not valid UTF-8 are kept as they are")
    func latin1() {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping)
        let sql: [UInt8] = Array("SELECT '".utf8) + [0xE4, 0x62] + Array("' FROM users".utf8)
        let expected: [UInt8] = Array("SELECT '".utf8) + [0xE4, 0x62] + Array("' FROM shared_common.users".utf8)
        #expect(sql.withUnsafeBytes { rewriter.rewrite($0) } == .rewritten(expected))
    }

    @Test("concurrent rewrites agree with sequential ones, through a cache that keeps evicting")
    func concurrentUse() async {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping, cacheCapacity: 16)
        let cases = RewriteCase.all
        let sequential = cases.map { SchemaRewriter(mapping: TestMapping.mapping).rewrite($0.sql) }
        let rounds = 8
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var mismatches = 0
                    for round in 0..<rounds {
                        for index in cases.indices {
                            let pick = (index * 7 + worker * 13 + round) % cases.count
                            if rewriter.rewrite(cases[pick].sql) != sequential[pick] {
                                mismatches += 1
                            }
                        }
                    }
                    return mismatches
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
        let statistics = rewriter.statistics
        #expect(statistics.rewritten + statistics.unchanged + statistics.parseErrors == 4 * rounds * cases.count)
    }
}
