/// Byte classes of PostgreSQL's lexer for identifiers (`scan.l`): `ident_start` is `[A-Za-z\200-\377_]`,
/// `ident_cont` adds digits and `$`. Every byte of a multi-byte UTF-8 character counts as a letter.
enum CharacterClass {
    @inline(__always)
    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        byte >= 0x80 || byte == UInt8(ascii: "_") || isASCIILetter(byte)
    }

    @inline(__always)
    static func isIdentifierPart(_ byte: UInt8) -> Bool {
        isIdentifierStart(byte) || byte == UInt8(ascii: "$") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    @inline(__always)
    static func isASCIILetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }

    /// ASCII-only lower-casing, which is what PostgreSQL applies to unquoted identifiers in UTF-8 databases.
    @inline(__always)
    static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
