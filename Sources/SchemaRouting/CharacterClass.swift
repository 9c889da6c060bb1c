/// Byte classes of PostgreSQL's lexer for identifiers (`scan.l`): `ident_start` is `[A-Za-z\200-\377_]`,
/// `ident_cont` adds digits and `$`. Every byte of a multi-byte UTF-8 character counts as a letter.
///
/// The scanners call these for every byte of every statement, so the ASCII classes are bit masks (bit `n` of the
/// mask for bytes 64-127 is set when byte `64 + n` is in the class): a shift and a test, no chain of comparisons.
enum CharacterClass {
    /// `A-Z`, `_`, `a-z` among the bytes 64-127.
    private static let lettersAbove63: UInt64 = 0x07FF_FFFE_87FF_FFFE
    /// `$` and `0-9` among the bytes 0-63.
    private static let identifierPartsBelow64: UInt64 = 0x03FF_0010_0000_0000

    @inline(__always)
    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        byte >= 0x80 || (byte >= 64 && (lettersAbove63 >> UInt64(byte & 63)) & 1 != 0)
    }

    @inline(__always)
    static func isIdentifierPart(_ byte: UInt8) -> Bool {
        if byte >= 64 {
            return byte >= 0x80 || (lettersAbove63 >> UInt64(byte & 63)) & 1 != 0
        }
        return (identifierPartsBelow64 >> UInt64(byte)) & 1 != 0
    }

    @inline(__always)
    static func isASCIILetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }

    /// The value of a hexadecimal digit, or `nil`.
    @inline(__always)
    static func hexDigitValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// ASCII-only lower-casing, which is what PostgreSQL applies to unquoted identifiers in UTF-8 databases.
    @inline(__always)
    static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
