import CPgQuery
import Foundation
import Testing
@testable import SchemaRouting

/// Runs every statement of PostgreSQL's regression suite through the rewriter and checks that the rewrite changes
/// exactly what it should: the rewritten text parses to the original's tree with schemas added where
/// `ExpectedTree` says (and nowhere else), and text the parser rejects comes back untouched.
@Suite("Corpus invariant")
struct CorpusInvariantTests {
    /// The corpus's most common table names (computed once from its parse trees; catalogs left out), spread over
    /// schemas that include one needing quotes and one that is a keyword. `t`, `x`, `y` and `foo` are also common
    /// CTE names and aliases there, which exercises scoping.
    static let mapping: SchemaMapping = {
        do {
            return try SchemaMapping(schemas: [
                "corpus_a": ["tenk1", "onek", "int4_tbl", "int8_tbl", "point_tbl", "num_data", "test_tsvector"],
                "\"Corpus B\"": ["t", "t1", "t2", "x", "y", "foo", "bar", "parent", "target"],
                "select": ["pktable", "fktable", "atacc1", "idxpart", "list_parted", "collate_test1"],
                "corpus_d": ["rw_view1", "base_tbl"],
            ])
        } catch {
            fatalError("corpus mapping rejected: \(error)")
        }
    }()

    static let names = MappedNameTable(mapping)
    static let prefilter = NamePrefilter(names: names.tableNames)

    struct FileResult: CorpusTally {
        var statements = 0
        var prefiltered = 0
        var parseErrors = 0
        var rewritten = 0
        var qualifications = 0
        var failures: [String] = []

        mutating func add(_ other: FileResult) {
            statements += other.statements
            prefiltered += other.prefiltered
            parseErrors += other.parseErrors
            rewritten += other.rewritten
            qualifications += other.qualifications
            failures += other.failures
        }
    }

    @Test(
        "every corpus statement is rewritten exactly as its parse tree says",
        .enabled(if: CorpusStatements.shouldRun, CorpusStatements.skipReason)
    )
    func corpus() async throws {
        let rewriter = SchemaRewriter(mapping: Self.mapping)
        let (files, total) = try await CorpusStatements.tally { file, statements in
            Self.check(file: file, statements: statements, rewriter: rewriter)
        }
        #expect(files > 100)
        print(
            "Corpus invariant: \(files) files, \(total.statements) statements, \(total.rewritten) rewritten "
                + "(\(total.qualifications) names qualified), \(total.parseErrors) parse errors, "
                + "\(total.prefiltered) ruled out by the prefilter, "
                + "\(total.failures.count) failures"
        )
        #expect(total.statements > 30_000)
        #expect(total.rewritten > 1_000)
        let firstFailures = total.failures.prefix(20).joined(separator: "\n\n")
        #expect(total.failures.count == 0, "first failures:\n\(firstFailures)")
    }

    static func check(file: String, statements: [[UInt8]], rewriter: SchemaRewriter) -> FileResult {
        var result = FileResult()
        for statement in statements {
            result.statements += 1
            let outcome = statement.withUnsafeBytes { rewriter.rewrite($0) }
            // The prefilter must never rule out a statement the full rewrite would change.
            if !statement.withUnsafeBytes({ prefilter.mayReference($0) }) {
                result.prefiltered += 1
                if case .rewritten = statement.withUnsafeBytes({ StatementRewriter.rewrite($0, names: names) }) {
                    result.failures.append("\(file): prefilter missed a reference:\n\(text(statement))")
                }
            }
            guard let original = parseTree(statement) else {
                result.parseErrors += 1
                // Forwarded byte for byte: reported as a parse error, or as unchanged when the prefilter ruled it out.
                if case .rewritten = outcome {
                    result.failures.append("\(file): rejected by the parser, yet rewritten:\n\(text(statement))")
                }
                continue
            }
            var expectation = ExpectedTree(mapping: mapping)
            let expected = expectation.expected(from: original)
            let actual: JSONValue
            switch outcome {
            case .parseError:
                result.failures.append("\(file): parses, but reported as a parse error:\n\(text(statement))")
                continue
            case .unchanged:
                actual = ExpectedTree.normalized(original)
            case .rewritten(let bytes):
                result.rewritten += 1
                guard let tree = parseTree(bytes) else {
                    result.failures.append("\(file): the rewrite does not parse:\n\(text(bytes))")
                    continue
                }
                actual = ExpectedTree.normalized(tree)
            }
            result.qualifications += expectation.qualified
            if actual != expected {
                let rewritten = if case .rewritten(let bytes) = outcome { text(bytes) } else { "(unchanged)" }
                result.failures.append(
                    "\(file): tree differs from the expected one:\n\(text(statement))\n=> \(rewritten)"
                )
            }
        }
        return result
    }

    static func parseTree(_ sql: [UInt8]) -> JSONValue? {
        sql.withUnsafeBytes { bytes in
            PgQuery.withParseTree(of: bytes) { tree in
                tree.flatMap { JSONValue.parse(UnsafeRawBufferPointer($0), maximumDepth: 10_000) }
            }
        }
    }

    static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}

/// What a corpus test counts per file, summed over the files.
protocol CorpusTally: Sendable {
    init()
    mutating func add(_ other: Self)
}

/// Turns a psql script into SQL statements: psql's own commands are not SQL and are dropped.
///
/// The corpus (PostgreSQL's regression scripts) lives outside the repository, in `../shared/corpus`, or where
/// `SCHEMAPROXY_CORPUS_DIR` says. Tests that need it carry `.enabled(if: CorpusStatements.shouldRun, ...)`: a clone
/// without it reports them as skipped, not passed. `SCHEMAPROXY_REQUIRE_CORPUS=1` (set by `scripts/test.sh` when
/// the corpus is there) runs them regardless, so a corpus that went missing fails them.
enum CorpusStatements {
    struct UnreadableFile: Error {
        var name: String
    }

    struct MissingCorpus: Error, CustomStringConvertible {
        var path: String
        var description: String { "SCHEMAPROXY_REQUIRE_CORPUS=1 but there is no corpus at \(path)" }
    }

    static var directory: URL {
        if let configured = ProcessInfo.processInfo.environment["SCHEMAPROXY_CORPUS_DIR"], !configured.isEmpty {
            return URL(fileURLWithPath: configured)
        }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("shared/corpus/postgres_regress")
    }

    static var isPresent: Bool {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory)
        return exists && isDirectory.boolValue
    }

    static var isRequired: Bool {
        ProcessInfo.processInfo.environment["SCHEMAPROXY_REQUIRE_CORPUS"] == "1"
    }

    /// Whether the corpus tests run: when the corpus is there, or when it must be (and its absence is a failure).
    static var shouldRun: Bool { isPresent || isRequired }

    static let skipReason: Comment =
        "no PostgreSQL regression corpus at ../shared/corpus/postgres_regress (or $SCHEMAPROXY_CORPUS_DIR)"

    /// `body` applied to the statements of every file of the regression corpus, in parallel, and the sum of its
    /// results with the number of files. Throws ``MissingCorpus`` when the corpus is not there.
    static func tally<Tally: CorpusTally>(
        _ body: @escaping @Sendable (_ file: String, _ statements: [[UInt8]]) -> Tally
    ) async throws -> (files: Int, total: Tally) {
        let directory = Self.directory
        guard isPresent else {
            throw MissingCorpus(path: directory.path)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        return try await withThrowingTaskGroup(of: Tally.self) { group in
            for file in files {
                group.addTask {
                    guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(file).path)
                    else {
                        throw UnreadableFile(name: file)
                    }
                    return body(file, split(Array(data)))
                }
            }
            var total = Tally()
            for try await result in group {
                total.add(result)
            }
            return (files.count, total)
        }
    }

    /// The statements of `script`, in order, as bytes. Lines starting with a backslash command are removed; a
    /// command at the end of a line (`SELECT ... \gset`) ends the statement there; `COPY ... FROM stdin` data up to
    /// the `\.` line is removed. The rest is split with libpg_query's scanner-based splitter.
    static func split(_ script: [UInt8]) -> [[UInt8]] {
        var kept: [UInt8] = []
        var inCopyData = false
        for line in script.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            if inCopyData {
                inCopyData = !trimmed.starts(with: Array(#"\."#.utf8))
                kept.append(UInt8(ascii: "\n"))
                continue
            }
            if trimmed.first == UInt8(ascii: "\\") {
                kept.append(UInt8(ascii: "\n"))
                continue
            }
            var sqlLine = Array(line)
            if let backslash = trailingCommand(in: sqlLine) {
                sqlLine = Array(sqlLine[..<backslash]) + [UInt8(ascii: ";")]
            }
            let lower = String(decoding: sqlLine, as: UTF8.self).lowercased()
            if lower.contains("copy "), lower.contains("from stdin"), lower.contains(";") {
                inCopyData = true
            }
            kept += sqlLine + [UInt8(ascii: "\n")]
        }
        let result = kept.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars -> [[UInt8]] in
                var terminated = Array(chars) + [0]
                return terminated.withUnsafeMutableBufferPointer { cString in
                    let split = pg_query_split_with_scanner(cString.baseAddress)
                    defer { pg_query_free_split_result(split) }
                    guard split.error == nil, let statements = split.stmts else {
                        return []
                    }
                    return (0..<Int(split.n_stmts)).compactMap { index -> [UInt8]? in
                        guard let statement = statements[index]?.pointee else { return nil }
                        let start = Int(statement.stmt_location)
                        let end = statement.stmt_len > 0 ? start + Int(statement.stmt_len) : kept.count
                        return Array(kept[start..<min(end, kept.count)])
                    }
                }
            }
        }
        return result.filter { statement in
            statement.contains { !($0 == 32 || $0 == 9 || $0 == 10 || $0 == 13) }
        }
    }

    /// The offset of a psql command such as `\gset`, `\gexec`, `\g`, `\gx` or `\crosstabview` ending `line`.
    private static func trailingCommand(in line: [UInt8]) -> Int? {
        let commands = ["gset", "gexec", "gx", "g", "gdesc", "crosstabview", "watch"].map { Array($0.utf8) }
        for index in line.indices.reversed() where index > 0 && line[index] == UInt8(ascii: "\\")
            && line[index - 1] == UInt8(ascii: " ")
        {
            let word = line[(index + 1)...].prefix { CharacterClass.isASCIILetter($0) }
            if commands.contains(Array(word)) {
                return index
            }
        }
        return nil
    }
}
