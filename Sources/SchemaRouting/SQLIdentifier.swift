/// PostgreSQL's identifier rules, as far as the rewriter needs them.
///
/// The parser reports table names already folded (unquoted names lower-cased, quoted names exact), so names from
/// the config file are folded the same way before they are compared; and a schema name inserted into a statement
/// is quoted exactly when PostgreSQL would need the quotes.
public enum SQLIdentifier {
    /// PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated by the parser.
    static let maximumLength = 63

    /// Folds a name as written in the config file: `"Users"` is exact (quotes stripped, `""` becomes `"`), a plain
    /// name is lower-cased (ASCII letters only, as PostgreSQL does for UTF-8). `role` names the entry in messages.
    static func fold(configName written: String, role: String) throws(SchemaMappingError) -> String {
        let bytes = Array(written.utf8)
        func invalid(_ reason: String) -> SchemaMappingError {
            SchemaMappingError(kind: .invalidName, description: "invalid \(role) name '\(written)': \(reason)")
        }
        let folded: [UInt8]
        if bytes.first == UInt8(ascii: "\"") {
            guard bytes.count >= 2, bytes.last == UInt8(ascii: "\"") else {
                throw invalid("unterminated quoted identifier")
            }
            var inner: [UInt8] = []
            var index = 1
            while index < bytes.count - 1 {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    guard index + 1 < bytes.count - 1, bytes[index + 1] == UInt8(ascii: "\"") else {
                        throw invalid("a double quote inside a quoted identifier must be doubled")
                    }
                    index += 1
                }
                inner.append(byte)
                index += 1
            }
            folded = inner
        } else {
            guard let first = bytes.first else {
                throw invalid("empty")
            }
            guard CharacterClass.isIdentifierStart(first) else {
                throw invalid("a plain name must start with a letter or underscore (quote it otherwise)")
            }
            guard bytes.allSatisfy(CharacterClass.isIdentifierPart) else {
                throw invalid("a plain name may hold only letters, digits, '_' and '$' (quote it otherwise)")
            }
            folded = bytes.map(CharacterClass.asciiLowercased)
        }
        guard !folded.isEmpty else {
            throw invalid("empty")
        }
        guard !folded.contains(0) else {
            throw invalid("contains a NUL character")
        }
        guard folded.count <= maximumLength else {
            throw invalid("longer than \(maximumLength) bytes")
        }
        return String(decoding: folded, as: UTF8.self)
    }

    /// Whether `name` (an exact identifier) must be double-quoted to be read back as itself: it is not all
    /// lower-case `[a-z_][a-z0-9_$]*`, or it is one of PostgreSQL's keywords (of any category).
    static func needsQuoting(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first,
              first == UInt8(ascii: "_") || (first >= UInt8(ascii: "a") && first <= UInt8(ascii: "z")),
              bytes.allSatisfy({ byte in
                  byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$")
                      || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                      || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
              })
        else {
            return true
        }
        return isKeyword(bytes)
    }

    /// `name` as it must be written in SQL: bare when possible, otherwise in double quotes with `"` doubled.
    public static func quotedIfNeeded(_ name: String) -> String {
        needsQuoting(name) ? quoted(name) : name
    }

    /// `name` in double quotes with `"` doubled: always read back as exactly `name`.
    static func quoted(_ name: String) -> String {
        "\"" + name.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    /// Asks PostgreSQL's lexer whether the (plain, lower-case) `bytes` form a keyword, so no keyword list needs to
    /// be kept in sync with the grammar.
    private static func isKeyword(_ bytes: [UInt8]) -> Bool {
        let tokens = bytes.withUnsafeBytes { PgQuery.scan($0) }
        guard let tokens, tokens.count == 1 else {
            return true
        }
        return tokens[0].isKeyword
    }
}
