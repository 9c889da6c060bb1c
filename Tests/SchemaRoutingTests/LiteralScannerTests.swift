import Testing
@testable import SchemaRouting

@Suite("LiteralScanner")
struct LiteralScannerTests {
    /// The shape of `sql` written readably: each replaced literal as `?` and a letter for its kind, or `nil`.
    static func describe(_ sql: String) -> String? {
        Array(sql.utf8).withUnsafeBytes { LiteralScanner.shape(of: $0) }.map { describe($0, sql: Array(sql.utf8)) }
    }

    static func describe(_ shape: StatementShape, sql: [UInt8]) -> String {
        var text: [UInt8] = []
        var copied = 0
        for literal in shape.literals {
            text += sql[copied..<literal.start] + Array("?".utf8)
            switch literal.kind {
            case .integer: text += Array("i".utf8)
            case .numeric: text += Array("n".utf8)
            case .string: text += Array("s".utf8)
            case .unicodeString: text += Array("u".utf8)
            case .bitString: text += Array("b".utf8)
            case .hexString: text += Array("x".utf8)
            }
            copied = literal.end
        }
        return String(decoding: text + sql[copied...], as: UTF8.self)
    }

    @Test("finds literals as PostgreSQL's lexer delimits them", arguments: [
        ("SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
         "SELECT abalance FROM pgbench_accounts WHERE aid = ?i;"),
        ("SELECT -5, - 5, 1e5, .5, 1., 1.e3, 2.5E-7, 1e+2", "SELECT -?i, - ?i, ?n, ?n, ?n, ?n, ?n, ?n"),
        ("SELECT 2147483647, 2147483648, 0000000002147483647, 99999999999", "SELECT ?i, ?n, ?i, ?n"),
        ("SELECT 1..5, 1.5..2, x.5", "SELECT ?i..?i, ?n..?i, x?n"),
        ("SELECT $1::int4 + 2, c2 FROM t1 WHERE a$1 = 3", "SELECT $1::int4 + ?i, c2 FROM t1 WHERE a$1 = ?i"),
        (#"SELECT "a""'b", 'c' FROM "t'1""#, #"SELECT "a""'b", ?s FROM "t'1""#),
        ("SELECT /* ' /* nested ' */ still ' */ 'x' -- 'y'", "SELECT /* ' /* nested ' */ still ' */ ?s -- 'y'"),
        ("SELECT 1 /*/ 'a' */, '/*', 2", "SELECT ?i /*/ 'a' */, ?s, ?i"),
        (#"SELECT 'a\', 'it''s'"#, "SELECT ?s, ?s"),
        (#"SELECT E'a\'b', e'\\', E'\n\t', E'x''y'"#, "SELECT ?s, ?s, ?s, ?s"),
        (#"SELECT E'\x41', E'\101', E'\u0041', E'\U00000041', E'\ä', 1"#,
         #"SELECT E'\x41', E'\101', E'\u0041', E'\U00000041', E'\ä', ?i"#),
        ("SELECT $$a'b$$, $q$ $$ ' $q$, $1, $a b", "SELECT ?s, ?s, $1, $a b"),
        (#"SELECT U&'\0041', U&'\+01F600', U&'a\\b', U&'\D800', U&'\0000', U&'\12', U&"c'""#,
         #"SELECT ?u, ?u, ?u, U&'\D800', U&'\0000', U&'\12', U&"c'""#),
        ("SELECT B'101', X'1F', b'', x'', N'abc', n'', E'x'", "SELECT ?b, ?x, ?b, ?x, N?s, n?s, ?s"),
        ("SELECT t1, abcE'x', é'y', _1", "SELECT t1, abcE?s, é?s, _1"),
        ("SELECT x::numeric(10, 2), '1 day'::interval, DATE '2024-01-01'",
         "SELECT x::numeric(?i, ?i), ?s::interval, DATE ?s"),
        ("SELECT 'a'/* c */\n'b'", "SELECT ?s/* c */\n?s"),
    ])
    func shapes(_ sql: String, _ expected: String) {
        #expect(Self.describe(sql) == expected)
    }

    @Test("gives up where its view could differ from the lexer's", arguments: [
        "SELECT 0x1F", "SELECT 123abc", "SELECT 1e", "SELECT 1e+", "SELECT 1.e", "SELECT 1_000", "SELECT $1a",
        "SELECT 5é",
        "SELECT 'a'\n'b'", "SELECT 'a' 'b'", "SELECT 'a' -- c\n 'b'", "SELECT B'10''01'", "SELECT E'x'\r\n'y'",
        "SELECT U&'d!0061t' UESCAPE '!'", #"SELECT U&"d!0061t" uescape '!'"#,
        "SELECT 'open", "SELECT E'open\\'", #"SELECT "open"#, "SELECT /* open /* */", "SELECT $$ open", "SELECT $q$ $$",
        "SELECT B'open", "SELECT U&'open",
        // No literal at all: the exact text is the key.
        "SELECT * FROM users WHERE id = $1", "", "   ", "SELECT t1.c2::int4 FROM t1", "-- 'x'",
    ])
    func unshaped(_ sql: String) {
        #expect(Self.describe(sql) == nil)
    }

    @Test("a text holding a NUL is never shaped")
    func nul() {
        let sql: [UInt8] = Array("SELECT 'a".utf8) + [0] + Array("b' FROM users".utf8)
        #expect(sql.withUnsafeBytes { LiteralScanner.shape(of: $0) } == nil)
    }

    @Test("the key keeps every byte outside the literals and marks each literal with NUL and its kind")
    func key() throws {
        let sql = Array("SELECT 'a', 12 FROM t WHERE x = -1.5".utf8)
        let shape = try #require(sql.withUnsafeBytes { LiteralScanner.shape(of: $0) })
        let expected = Array("SELECT ".utf8) + [0, LiteralKind.string.rawValue] + Array(", ".utf8)
            + [0, LiteralKind.integer.rawValue] + Array(" FROM t WHERE x = -".utf8) + [0, LiteralKind.numeric.rawValue]
        #expect(shape.key == expected)
        #expect(shape.literals.map(\.start) == [7, 12, 33])
        #expect(shape.gapStart(0) == 0 && shape.gapStart(1) == 10 && shape.gapStart(3) == 36)
    }

    @Test("the sign run before a literal reaches back over whitespace and comments, not over other operators")
    func signs() throws {
        let sql = "SELECT x - 5, - /* c */ -3, a=-2, a@-7, +4, 8"
        let bytes = Array(sql.utf8)
        let shape = try #require(bytes.withUnsafeBytes { LiteralScanner.shape(of: $0) })
        let offset = { (needle: String) in bytes.firstRange(of: Array(needle.utf8))!.lowerBound }
        #expect(shape.literals.map(\.signStart) == [
            offset("- 5"), offset("- /*"), offset("-2"), offset("-7"), offset("+4"), offset("8"),
        ])
    }

    /// libpg_query's token numbers for the literal constants.
    static let constantTokens: [Int: LiteralKind] = [
        266: .integer, 260: .numeric, 261: .string, 262: .unicodeString, 263: .bitString, 264: .hexString,
    ]

    struct Comparison: CorpusTally {
        var statements = 0
        var shaped = 0
        var literals = 0
        var unshapedWithConstants = 0
        var failures: [String] = []

        mutating func add(_ other: Comparison) {
            statements += other.statements
            shaped += other.shaped
            literals += other.literals
            unshapedWithConstants += other.unshapedWithConstants
            failures += other.failures
        }
    }

    /// Compares the scanner with PostgreSQL's lexer (`pg_query_scan`) on one statement: every replaced literal is a
    /// constant token of the same kind and extent, and every constant token the scanner left in place is an `E'...'`
    /// or `U&'...'` string it judged unsafe.
    static func compare(_ sql: [UInt8]) -> Comparison {
        var result = Comparison(statements: 1)
        guard let tokens = sql.withUnsafeBytes({ PgQuery.scan($0) }) else {
            return result
        }
        let constants = tokens.filter { constantTokens[$0.kind] != nil }
        guard let shape = sql.withUnsafeBytes({ LiteralScanner.shape(of: $0) }) else {
            if !constants.isEmpty {
                result.unshapedWithConstants += 1
            }
            return result
        }
        result.shaped += 1
        result.literals += shape.literals.count
        let text = String(decoding: sql, as: UTF8.self)
        var remaining = shape.literals[...]
        for token in constants {
            let kind = constantTokens[token.kind]!
            // libpg_query reports `U&'...'` tokens with a wrong end; compare their start only.
            let matches = remaining.first.map { literal in
                literal.start == token.start && literal.kind == kind
                    && (kind == .unicodeString || literal.end == token.end)
            } ?? false
            if matches {
                remaining = remaining.dropFirst()
                continue
            }
            let first = sql[token.start] | 0x20
            let keptInPlace = (kind == .string && first == UInt8(ascii: "e")) || kind == .unicodeString
            if !keptInPlace || remaining.first.map({ $0.start <= token.start }) == true {
                result.failures.append("token \(token.start)..<\(token.end) kind \(kind) not matched in:\n\(text)")
                return result
            }
        }
        if !remaining.isEmpty {
            result.failures.append("literal at \(remaining.first!.start) is no constant token in:\n\(text)")
        }
        return result
    }

    @Test("agrees with PostgreSQL's lexer on every statement of the rewrite table")
    func tableAgreesWithLexer() {
        var total = Comparison()
        for testCase in RewriteCase.all {
            total.add(Self.compare(Array(testCase.sql.utf8)))
        }
        #expect(total.failures.isEmpty, "\(total.failures.prefix(10).joined(separator: "\n\n"))")
        #expect(total.literals > 100)
    }

    @Test(
        "agrees with PostgreSQL's lexer on every statement of the regression corpus",
        .enabled(if: CorpusStatements.shouldRun, CorpusStatements.skipReason)
    )
    func corpusAgreesWithLexer() async throws {
        let (_, total) = try await CorpusStatements.tally { _, statements in
            var result = Comparison()
            for statement in statements {
                result.add(Self.compare(statement))
            }
            return result
        }
        print(
            "LiteralScanner corpus: \(total.statements) statements, \(total.shaped) shaped with \(total.literals) "
                + "literals, \(total.unshapedWithConstants) with constants left unshaped, "
                + "\(total.failures.count) disagreements"
        )
        #expect(total.failures.isEmpty, "\(total.failures.prefix(10).joined(separator: "\n\n"))")
        #expect(total.shaped > 10_000)
        // Giving up is safe but costs the cache; it should stay the exception.
        #expect(total.unshapedWithConstants * 20 < total.shaped)
    }
}
