/// The uncached rewrite of one statement text: parse, find the table references to qualify, splice in the schemas.
///
/// Splicing, never deparsing: every byte of the original text is kept in order and only `schema.` is inserted in
/// front of table names (or a legacy schema's name token is replaced), so comments, literals, whitespace and
/// dollar-quoted bodies stay exactly as written.
enum StatementRewriter {
    /// A rewrite and what it was made of, for the literal-insensitive cache.
    struct Analysis {
        var outcome: RewriteOutcome
        /// The edits `outcome` applied: ordered by offset, one per offset, each inside the text.
        var qualifications: [Qualification]
        /// Byte offsets of the parse tree's `A_Const` nodes, ascending; `nil` when the text did not parse.
        var constantLocations: [Int]?
        /// Unqualified table names left alone because they are not mapped, one per reference.
        var unmappedNames: [[UInt8]] = []
    }

    static func rewrite(_ text: UnsafeRawBufferPointer, names: MappedNameTable) -> RewriteOutcome {
        analyze(text, names: names).outcome
    }

    static func analyze(_ text: UnsafeRawBufferPointer, names: MappedNameTable) -> Analysis {
        // The protocol cannot carry a NUL inside a statement; the parser would stop there and miss the rest.
        if text.contains(0) {
            return Analysis(outcome: .parseError, qualifications: [], constantLocations: nil)
        }
        return PgQuery.withParseTree(of: text) { tree -> Analysis in
            guard let tree else {
                return Analysis(outcome: .parseError, qualifications: [], constantLocations: nil)
            }
            guard let collected = TableReferenceCollector.collect(tree: tree, text: text, names: names) else {
                return Analysis(outcome: .unchanged, qualifications: [], constantLocations: nil)
            }
            let unmappedNames = collected.unmappedNames
            var qualifications = collected.qualifications
            for statement in collected.objectNameStatements {
                qualifications += ObjectNameLocator.qualifications(
                    for: statement, tree: tree, text: text, names: names
                )
            }
            qualifications = ordered(qualifications, textLength: text.count)
            let constants = collected.constantLocations.sorted()
            guard !qualifications.isEmpty else {
                return Analysis(
                    outcome: .unchanged, qualifications: [], constantLocations: constants, unmappedNames: unmappedNames
                )
            }
            return Analysis(
                outcome: .rewritten(splice(text, qualifications, names: names)),
                qualifications: qualifications,
                constantLocations: constants,
                unmappedNames: unmappedNames
            )
        }
    }

    /// `qualifications` sorted by offset, keeping the first (lowest schema) of several at one offset and dropping
    /// any beyond the end of the text or overlapping the bytes an earlier one replaces.
    static func ordered(_ qualifications: [Qualification], textLength: Int) -> [Qualification] {
        var result: [Qualification] = []
        result.reserveCapacity(qualifications.count)
        for qualification in qualifications.sorted()
        where qualification.offset + qualification.replacing <= textLength && qualification.offset < textLength {
            if let last = result.last, qualification.offset < last.offset + max(last.replacing, 1) {
                continue
            }
            result.append(qualification)
        }
        return result
    }

    /// `text` with each qualification's schema prefix inserted at its offset. `qualifications` must be `ordered`.
    static func splice<Qualifications: Collection<Qualification>>(
        _ text: UnsafeRawBufferPointer,
        _ qualifications: Qualifications,
        names: MappedNameTable
    ) -> [UInt8] {
        // Typed, so that each run of text is appended with one copy rather than byte by byte.
        let bytes = text.assumingMemoryBound(to: UInt8.self)
        var output: [UInt8] = []
        output.reserveCapacity(text.count + qualifications.count * 24)
        var copied = 0
        for qualification in qualifications {
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied..<qualification.offset]))
            let schema = names.schemas[qualification.schema]
            let follows = qualification.offset > 0 && CharacterClass.isIdentifierPart(bytes[qualification.offset - 1])
            let prefix = follows ? schema.quotedPrefix : schema.prefix
            if qualification.replacing > 0 {
                output.append(contentsOf: prefix.dropLast())  // the name alone: the written period stays
            } else {
                output.append(contentsOf: prefix)
            }
            copied = qualification.offset + qualification.replacing
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied...]))
        return output
    }
}
