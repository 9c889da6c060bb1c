/// The uncached rewrite of one statement text: parse, find the table references to qualify, splice in the schemas.
///
/// Splicing, never deparsing: every byte of the original text is kept in order and only `schema.` is inserted in
/// front of table names, so comments, literals, whitespace and dollar-quoted bodies stay exactly as written.
enum StatementRewriter {
    static func rewrite(_ text: UnsafeRawBufferPointer, names: MappedNameTable) -> RewriteOutcome {
        // The protocol cannot carry a NUL inside a statement; the parser would stop there and miss the rest.
        if text.contains(0) {
            return .parseError
        }
        return PgQuery.withParseTree(of: text) { tree -> RewriteOutcome in
            guard let tree else {
                return .parseError
            }
            guard let collected = TableReferenceCollector.collect(tree: tree, text: text, names: names) else {
                return .unchanged
            }
            var qualifications = collected.qualifications
            for statement in collected.objectNameStatements {
                qualifications += ObjectNameLocator.qualifications(
                    for: statement, tree: tree, text: text, names: names
                )
            }
            guard !qualifications.isEmpty else {
                return .unchanged
            }
            return .rewritten(splice(text, qualifications, names: names))
        }
    }

    /// `text` with each qualification's schema prefix inserted at its offset (once per offset).
    static func splice(
        _ text: UnsafeRawBufferPointer,
        _ qualifications: [Qualification],
        names: MappedNameTable
    ) -> [UInt8] {
        let sorted = qualifications.sorted()
        var output: [UInt8] = []
        output.reserveCapacity(text.count + sorted.count * 16)
        var copied = 0
        var previousOffset = -1
        for qualification in sorted where qualification.offset != previousOffset && qualification.offset < text.count {
            previousOffset = qualification.offset
            output.append(contentsOf: text[copied..<qualification.offset])
            let schema = names.schemas[qualification.schema]
            let follows = qualification.offset > 0 && CharacterClass.isIdentifierPart(text[qualification.offset - 1])
            output.append(contentsOf: follows ? schema.quotedPrefix : schema.prefix)
            copied = qualification.offset
        }
        output.append(contentsOf: text[copied...])
        return output
    }
}
