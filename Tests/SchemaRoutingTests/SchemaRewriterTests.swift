import Testing
@testable import SchemaRouting

/// The rewriter's promise, statement by statement: the exact text that reaches the server.
@Suite("SchemaRewriter")
struct SchemaRewriterTests {
    static let rewriter = SchemaRewriter(mapping: TestMapping.mapping)

    @Test("the table holds enough cases")
    func caseCount() {
        #expect(RewriteCase.all.count >= 150)
        #expect(Set(RewriteCase.all.map(\.sql)).count == RewriteCase.all.count, "duplicate cases")
    }

    @Test("rewrites exactly as expected", arguments: RewriteCase.all)
    func rewrite(_ testCase: RewriteCase) {
        let outcome = Self.rewriter.rewrite(testCase.sql)
        switch testCase.expected {
        case .same:
            #expect(Self.describe(outcome) == "unchanged")
        case .parseError:
            #expect(Self.describe(outcome) == "parse error")
        case .to(let expected):
            #expect(Self.describe(outcome) == "rewritten: " + expected)
            #expect(outcome == .rewritten(Array(expected.utf8)))
            // What we promise to send must itself be valid SQL.
            let parses = expected.utf8CString.withUnsafeBytes { bytes in
                PgQuery.withParseTree(of: UnsafeRawBufferPointer(rebasing: bytes.dropLast())) { $0 != nil }
            }
            #expect(parses, "expected text does not parse")
        }
    }

    @Test("a second rewrite of the same text comes from the cache and is identical", arguments: RewriteCase.all)
    func cachedRewrite(_ testCase: RewriteCase) {
        let rewriter = SchemaRewriter(mapping: TestMapping.mapping)
        let first = rewriter.rewrite(testCase.sql)
        let missesAfterFirst = rewriter.statistics.cacheMisses
        let second = rewriter.rewrite(testCase.sql)
        #expect(first == second)
        #expect(rewriter.statistics.cacheMisses == missesAfterFirst)
        #expect(rewriter.statistics.cacheHits == missesAfterFirst)
    }

    static func describe(_ outcome: RewriteOutcome) -> String {
        switch outcome {
        case .unchanged: return "unchanged"
        case .parseError: return "parse error"
        case .rewritten(let bytes): return "rewritten: " + String(decoding: bytes, as: UTF8.self)
        }
    }
}
