/// Finds the table names of `DROP TABLE a, b`, `COMMENT ON TABLE a`, `DROP TRIGGER t ON a` and their kin in the
/// statement text.
///
/// The parse tree gives these names as lists of strings without a location, so the statement is run through
/// PostgreSQL's own lexer and the grammar's token sequence is matched exactly: the keywords of the statement's
/// head, then each dotted name, checked part by part against the names in the tree. Anything that does not match
/// token for token is left alone rather than guessed at. These statements are rare, so the extra lexer pass does not
/// matter for throughput.
enum ObjectNameLocator {
    /// How the table name sits in the object's name list.
    private enum Shape {
        /// The object is the relation: `DROP TABLE a, s.b`; names `[a]`, `[s, b]`.
        case relation
        /// `COMMENT ON COLUMN a.c`: the last name part is the column.
        case column
        /// `DROP TRIGGER t ON a`: written `name ON table`, listed as `[table..., name]`.
        case onTable
    }

    /// The qualifications `statement` needs, as offsets into the whole text.
    static func qualifications(
        for statement: TableReferenceCollector.ObjectNameStatement,
        tree: UnsafeBufferPointer<UInt8>,
        text: UnsafeRawBufferPointer,
        names: MappedNameTable
    ) -> [Qualification] {
        let treeBytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tree)[statement.tree])
        guard let body = JSONValue.parse(treeBytes) else {
            return []
        }
        var head: [StaticString]
        let objects: [JSONValue]
        let kind: String
        if let removeType = body["removeType"]?.stringValue {
            kind = removeType
            head = ["DROP"]
            objects = body["objects"]?.arrayValue ?? []
        } else if let objtype = body["objtype"]?.stringValue, let object = body["object"] {
            kind = objtype
            head = ["COMMENT", "ON"]
            objects = [object]
        } else {
            return []
        }
        guard let (words, shape) = objectKind(kind) else {
            return []
        }
        head += words
        if body["concurrent"]?.isTrue == true {
            head.append("CONCURRENTLY")
        }
        if body["missing_ok"]?.isTrue == true {
            head += ["IF", "EXISTS"]
        }
        let nameLists = objects.map { object in
            object["List"]?["items"]?.arrayValue?.compactMap { $0["String"]?["sval"]?.stringBytes } ?? []
        }
        guard !nameLists.isEmpty, shape == .relation || nameLists.count == 1 else {
            return []
        }
        // Only unqualified (or legacy-qualified), mapped table names need work; most DROPs have none and skip the
        // lexer.
        let wanted = nameLists.map { parts in
            tableIndex(parts, shape, names).flatMap { schemaIndex(parts[$0], names) }
        }
        guard wanted.contains(where: { $0 != nil }) else {
            return []
        }
        let statementText = UnsafeRawBufferPointer(rebasing: text[statement.text])
        guard let scanned = PgQuery.scan(statementText) else {
            return []
        }
        var matcher = TokenMatcher(tokens: scanned.filter { !$0.isComment }, text: statementText)
        guard head.allSatisfy({ matcher.keyword($0) }) else {
            return []
        }
        var found: [Qualification] = []
        for (number, parts) in nameLists.enumerated() {
            if number > 0 && !matcher.punctuation(ScanToken.comma) {
                return []
            }
            var tableParts = parts
            if shape == .onTable {
                guard parts.count >= 2, matcher.name([parts[parts.count - 1]]) != nil, matcher.keyword("ON") else {
                    return []
                }
                tableParts.removeLast()
            }
            guard let (start, firstEnd) = matcher.name(tableParts) else {
                return []
            }
            if let schema = wanted[number] {
                let isLegacy = tableIndex(parts, shape, names) == 1
                if isLegacy {
                    // `public.users`: the schema token is replaced; a Unicode-escaped one is left alone.
                    let first = statementText[start]
                    if first | 0x20 == UInt8(ascii: "u") && statementText[start + 1] == UInt8(ascii: "&") {
                        continue
                    }
                }
                found.append(
                    Qualification(
                        offset: statement.text.lowerBound + start, schema: schema,
                        replacing: isLegacy ? firstEnd - start : 0
                    )
                )
            }
        }
        return found
    }

    /// The keywords naming the object type after DROP / COMMENT ON, and the shape of its names.
    private static func objectKind(_ kind: String) -> ([StaticString], Shape)? {
        switch kind {
        case "OBJECT_TABLE": return (["TABLE"], .relation)
        case "OBJECT_VIEW": return (["VIEW"], .relation)
        case "OBJECT_MATVIEW": return (["MATERIALIZED", "VIEW"], .relation)
        case "OBJECT_FOREIGN_TABLE": return (["FOREIGN", "TABLE"], .relation)
        case "OBJECT_SEQUENCE": return (["SEQUENCE"], .relation)
        case "OBJECT_INDEX": return (["INDEX"], .relation)
        case "OBJECT_COLUMN": return (["COLUMN"], .column)
        case "OBJECT_TRIGGER": return (["TRIGGER"], .onTable)
        case "OBJECT_RULE": return (["RULE"], .onTable)
        case "OBJECT_POLICY": return (["POLICY"], .onTable)
        case "OBJECT_TABCONSTRAINT": return (["CONSTRAINT"], .onTable)
        default: return nil
        }
    }

    /// The index of the table's name in `parts` when the table is written unqualified or qualified with a legacy
    /// schema, else `nil`.
    private static func tableIndex(_ parts: [[UInt8]], _ shape: Shape, _ names: MappedNameTable) -> Int? {
        let unqualifiedCount = shape == .relation ? 1 : 2
        if parts.count == unqualifiedCount {
            return 0
        }
        if parts.count == unqualifiedCount + 1, parts[0].withUnsafeBytes({ names.isLegacySchema($0) }) {
            return 1
        }
        return nil
    }

    private static func schemaIndex(_ name: [UInt8], _ names: MappedNameTable) -> Int? {
        name.withUnsafeBytes { names.schemaIndex(forName: $0) }
    }
}

/// Walks a statement's tokens (comments removed) and checks them against the grammar's expectations.
private struct TokenMatcher {
    let tokens: [ScanToken]
    let text: UnsafeRawBufferPointer
    var position = 0

    /// Consumes the keyword `word` (compared case-insensitively).
    mutating func keyword(_ word: StaticString) -> Bool {
        guard position < tokens.count, tokens[position].isKeyword else {
            return false
        }
        let token = tokens[position]
        let written = text[token.start..<min(token.end, text.count)]
        guard written.count == word.utf8CodeUnitCount,
              zip(written, UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount))
                  .allSatisfy({ CharacterClass.asciiLowercased($0) == CharacterClass.asciiLowercased($1) })
        else {
            return false
        }
        position += 1
        return true
    }

    mutating func punctuation(_ kind: Int) -> Bool {
        guard position < tokens.count, tokens[position].kind == kind else {
            return false
        }
        position += 1
        return true
    }

    /// Consumes a dotted name whose parts, folded as PostgreSQL folds identifiers, equal `parts`, and returns the
    /// offset of its first byte and the end of its first token.
    mutating func name(_ parts: [[UInt8]]) -> (start: Int, firstEnd: Int)? {
        guard !parts.isEmpty else {
            return nil
        }
        let start = position < tokens.count ? tokens[position].start : 0
        let firstEnd = position < tokens.count ? min(tokens[position].end, text.count) : 0
        for (number, part) in parts.enumerated() {
            if number > 0 && !punctuation(ScanToken.period) {
                return nil
            }
            guard position < tokens.count else {
                return nil
            }
            let token = tokens[position]
            position += 1
            switch token.kind {
            case ScanToken.unicodeIdentifier:
                // U&"..." with escapes: the folded text is not worth re-deriving; the structure has matched.
                if position + 1 < tokens.count, tokens[position].isKeyword,
                   text[tokens[position].start..<tokens[position].end].elementsEqual("uescape".utf8, by: {
                       CharacterClass.asciiLowercased($0) == $1
                   })
                {
                    position += 2
                }
            case ScanToken.identifier:
                guard folded(token) == part else { return nil }
            default:
                guard token.isKeyword, folded(token) == part else { return nil }
            }
        }
        return (start, firstEnd)
    }

    /// The identifier a token stands for: a quoted one without its quotes (`""` as `"`), any other lower-cased
    /// (ASCII); both truncated to PostgreSQL's 63 bytes.
    private func folded(_ token: ScanToken) -> [UInt8] {
        let written = text[token.start..<min(token.end, text.count)]
        var result: [UInt8] = []
        if written.first == UInt8(ascii: "\"") && written.count >= 2 {
            var previousWasQuote = false
            for byte in written.dropFirst().dropLast() {
                if byte == UInt8(ascii: "\"") && previousWasQuote {
                    previousWasQuote = false
                    continue
                }
                previousWasQuote = byte == UInt8(ascii: "\"")
                result.append(byte)
            }
        } else {
            result = written.map(CharacterClass.asciiLowercased)
        }
        if result.count > SQLIdentifier.maximumLength {
            // Cut at a character boundary, as PostgreSQL's truncate_identifier does.
            var length = SQLIdentifier.maximumLength
            while length > 0 && result[length] & 0xC0 == 0x80 {
                length -= 1
            }
            result.removeSubrange(length...)
        }
        return result
    }
}
