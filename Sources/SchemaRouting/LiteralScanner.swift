#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kind of token a literal constant is to PostgreSQL's grammar. Two literals of one kind are interchangeable to
/// the parser's state machine; only their values differ.
enum LiteralKind: UInt8, Sendable {
    /// `42`: digits only, value at most 2^31 - 1 (`ICONST`).
    case integer = 1
    /// `1.5`, `.5`, `1e5`, or digits too large for an `int4` (`FCONST`).
    case numeric
    /// `'...'`, `E'...'`, `$tag$...$tag$` (`SCONST`).
    case string
    /// `U&'...'` (`USCONST`, decoded by the parser before the grammar sees it).
    case unicodeString
    /// `B'...'` (`BCONST`).
    case bitString
    /// `X'...'` (`XCONST`).
    case hexString
}

/// One literal constant in a statement text.
struct LiteralSpan: Equatable, Sendable {
    /// Byte offset of the literal's first byte (the `E` of `E'...'`, the first digit of a number).
    var start: Int
    /// Byte offset one past the literal.
    var end: Int
    var kind: LiteralKind
    /// Where the run of `+` and `-` signs written right before the literal starts (only whitespace and comments
    /// between them), or `start` when there is none. The parser folds `-5` into one constant located at the sign.
    var signStart: Int
}

/// A statement text with its literal constants taken out: what stays the same when an application sends the same
/// statement with other values.
struct StatementShape: Sendable {
    /// The text with each literal replaced by a NUL byte and its kind. A text holding a NUL is never shaped, so the
    /// key is unambiguous: equal keys mean equal bytes outside the literals, and literals of equal kinds in the same
    /// places.
    var key: [UInt8]
    /// The replaced literals, in text order.
    var literals: [LiteralSpan]

    /// Where the text between literal `index - 1` and literal `index` starts (gap 0 starts the text).
    @inline(__always)
    func gapStart(_ index: Int) -> Int {
        index == 0 ? 0 : literals[index - 1].end
    }
}

/// Finds the literal constants of a statement text exactly as PostgreSQL 15's lexer (`scan.l`, with
/// `standard_conforming_strings` on) delimits them, without calling it: the hot path of the literal-insensitive cache.
///
/// It knows every construct that can hide a quote or a digit — comments (nested `/* */` too), quoted identifiers,
/// identifiers containing digits (`t1`), parameters (`$1`), dollar quotes — and the number forms of the PostgreSQL 15
/// grammar (`1`, `1.5`, `.5`, `1.`, `1e5`, `1..2`; `0x1F` and `123abc` are errors there). A literal is only replaced
/// when its value cannot make the lexer fail: `E'...'` with an escape that may produce an invalid byte (`\x`, octal,
/// `\u`) and `U&'...'` with an escape that may be rejected stay in the key as written. The scanner gives up (returns
/// `nil`, and the caller uses the exact text) where its view could differ from the lexer's: a NUL byte, an
/// unterminated quote or comment, a malformed number or parameter, a string directly followed by another quote (the
/// SQL continuation `'a'` newline `'b'` is one literal), and any `UESCAPE`, which changes how another token is read.
enum LiteralScanner {
    /// The shape of `text`, or `nil` when it has no literal to replace or cannot be shaped safely.
    static func shape(of text: UnsafeRawBufferPointer) -> StatementShape? {
        guard let base = text.baseAddress?.assumingMemoryBound(to: UInt8.self), !text.isEmpty,
              memchr(base, 0, text.count) == nil
        else {
            return nil
        }
        var literals: [LiteralSpan] = []
        // A literal is at least one byte and becomes two in the key, so the key is at most twice the text.
        let key = [UInt8](unsafeUninitializedCapacity: text.count * 2) { buffer, initialized in
            var scanner = Scanner(base: base, count: text.count, key: buffer.baseAddress!)
            guard scanner.run(), !scanner.literals.isEmpty else {
                initialized = 0
                return
            }
            scanner.copyToKey(upTo: text.count)
            initialized = scanner.keyLength
            literals = scanner.literals
        }
        return literals.isEmpty ? nil : StatementShape(key: key, literals: literals)
    }

    /// Whether `byte` may follow a backslash in an `E'...'` string without any risk of an error: the escapes that
    /// stand for one ASCII character (`\n`, `\'`, `\\`, `\q`, ...). Octal, `\x` and `\u` / `\U` escapes can produce
    /// a NUL, a byte that is not valid UTF-8, or an invalid code point.
    @inline(__always)
    static func isSafeEscape(_ byte: UInt8) -> Bool {
        byte != 0 && byte < 0x80 && !(byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "7"))
            && byte != UInt8(ascii: "x") && byte != UInt8(ascii: "u") && byte != UInt8(ascii: "U")
    }

    /// Whether the contents of a `U&'...'` literal (between the quotes, `''` not yet undoubled) decode without
    /// error under the default escape `\`: `\\`, `\XXXX` or `\+XXXXXX` naming a code point from U+0001 to U+10FFFF
    /// that is not a surrogate (pairs are refused too, though PostgreSQL accepts well-formed ones).
    static func isSafeUnicodeString(_ contents: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = contents.count
        while index < count {
            guard contents[index] == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            let digits: Int
            if index + 1 < count && contents[index + 1] == UInt8(ascii: "\\") {
                index += 2
                continue
            } else if index + 1 < count && contents[index + 1] == UInt8(ascii: "+") {
                digits = 6
                index += 2
            } else {
                digits = 4
                index += 1
            }
            guard index + digits <= count else {
                return false
            }
            var value: UInt32 = 0
            for offset in 0..<digits {
                guard let digit = CharacterClass.hexDigitValue(contents[index + offset]) else {
                    return false
                }
                value = value << 4 | UInt32(digit)
            }
            guard value >= 1 && value <= 0x10FFFF && !(0xD800...0xDFFF).contains(value) else {
                return false
            }
            index += digits
        }
        return true
    }
}

/// One pass of the lexer's `INITIAL` state over the text.
private struct Scanner {
    let base: UnsafePointer<UInt8>
    let count: Int
    var index = 0
    /// Start of the current run of signs before the next token, or -1.
    var signStart = -1
    /// Where the key is written; room for twice the text.
    let key: UnsafeMutablePointer<UInt8>
    var keyLength = 0
    /// How much of the text is already in the key.
    var keyCopied = 0
    var literals: [LiteralSpan] = []

    init(base: UnsafePointer<UInt8>, count: Int, key: UnsafeMutablePointer<UInt8>) {
        self.base = base
        self.count = count
        self.key = key
    }

    /// Appends the text from where the key left off up to `end`.
    mutating func copyToKey(upTo end: Int) {
        (key + keyLength).update(from: base + keyCopied, count: end - keyCopied)
        keyLength += end - keyCopied
        keyCopied = end
    }

    @inline(__always)
    private func byte(at offset: Int) -> UInt8 {
        offset < count ? base[offset] : 0
    }

    @inline(__always)
    private static func isNewline(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// Scans the whole text; `false` when it must not be shaped.
    mutating func run() -> Bool {
        while index < count {
            let current = base[index]
            switch current {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0x0C:
                index += 1
            case UInt8(ascii: "-"):
                if byte(at: index + 1) == UInt8(ascii: "-") {
                    skipLineComment()
                } else {
                    if signStart < 0 {
                        signStart = index
                    }
                    index += 1
                }
            case UInt8(ascii: "+"):
                if signStart < 0 {
                    signStart = index
                }
                index += 1
            case UInt8(ascii: "/") where byte(at: index + 1) == UInt8(ascii: "*"):
                guard skipBlockComment() else {
                    return false
                }
            case UInt8(ascii: "'"):
                guard let end = quotedEnd(contentStart: index + 1, quote: UInt8(ascii: "'")) else {
                    return false
                }
                guard literal(from: index, to: end, kind: .string, replace: true) else {
                    return false
                }
            case UInt8(ascii: "\""):
                guard let end = quotedEnd(contentStart: index + 1, quote: UInt8(ascii: "\"")) else {
                    return false
                }
                token(to: end)
            case UInt8(ascii: "$"):
                guard dollar() else {
                    return false
                }
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard number() else {
                    return false
                }
            case UInt8(ascii: "."):
                if byte(at: index + 1) == UInt8(ascii: ".") {
                    token(to: index + 2)
                } else if Self.isDigit(byte(at: index + 1)) {
                    guard number() else {
                        return false
                    }
                } else {
                    token(to: index + 1)
                }
            default:
                if CharacterClass.isIdentifierStart(current) {
                    guard word() else {
                        return false
                    }
                } else {
                    token(to: index + 1)
                }
            }
        }
        return true
    }

    /// A token that is not a literal, whitespace or a sign ends at `end`.
    @inline(__always)
    private mutating func token(to end: Int) {
        index = end
        signStart = -1
    }

    /// Records the literal `start..<end`, replaced in the key when `replace`; `false` when a quote follows it.
    private mutating func literal(from start: Int, to end: Int, kind: LiteralKind, replace: Bool) -> Bool {
        if kind != .integer && kind != .numeric && base[end - 1] == UInt8(ascii: "'") && quoteFollows(end) {
            return false
        }
        if replace {
            if literals.isEmpty {
                literals.reserveCapacity(8)
            }
            copyToKey(upTo: start)
            key[keyLength] = 0
            key[keyLength + 1] = kind.rawValue
            keyLength += 2
            keyCopied = end
            let signs = signStart < 0 ? start : signStart
            literals.append(LiteralSpan(start: start, end: end, kind: kind, signStart: signs))
        }
        token(to: end)
        return true
    }

    /// Whether another `'` comes after `end` with only whitespace and `--` comments between: the lexer may then
    /// continue the string literal across a newline, or start a second one.
    private func quoteFollows(_ end: Int) -> Bool {
        var position = end
        while position < count {
            switch base[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0x0B, 0x0C:
                position += 1
            case UInt8(ascii: "-") where byte(at: position + 1) == UInt8(ascii: "-"):
                while position < count && !Self.isNewline(base[position]) {
                    position += 1
                }
            case UInt8(ascii: "'"):
                return true
            default:
                return false
            }
        }
        return false
    }

    private mutating func skipLineComment() {
        while index < count && !Self.isNewline(base[index]) {
            index += 1
        }
    }

    /// Skips `/* ... */` with nesting; `false` when it is not closed.
    private mutating func skipBlockComment() -> Bool {
        var depth = 0
        var position = index
        while position + 1 < count {
            if base[position] == UInt8(ascii: "/") && base[position + 1] == UInt8(ascii: "*") {
                depth += 1
                position += 2
            } else if base[position] == UInt8(ascii: "*") && base[position + 1] == UInt8(ascii: "/") {
                depth -= 1
                position += 2
                if depth == 0 {
                    index = position
                    return true
                }
            } else {
                position += 1
            }
        }
        return false
    }

    /// End (past the closing quote) of a `'...'` string or a `"..."` identifier whose contents start at
    /// `contentStart`; a doubled `quote` stands for itself.
    private func quotedEnd(contentStart: Int, quote: UInt8) -> Int? {
        var position = contentStart
        while position < count {
            if base[position] == quote {
                if byte(at: position + 1) != quote {
                    return position + 1
                }
                position += 2
            } else {
                position += 1
            }
        }
        return nil
    }

    /// `E'...'`: backslash escapes the next byte, `''` is a quote. Returns the end and whether every escape is safe.
    private func escapeStringEnd(contentStart: Int) -> (end: Int, safe: Bool)? {
        var position = contentStart
        var safe = true
        while position < count {
            switch base[position] {
            case UInt8(ascii: "\\"):
                guard position + 1 < count else {
                    return nil
                }
                safe = safe && LiteralScanner.isSafeEscape(base[position + 1])
                position += 2
            case UInt8(ascii: "'"):
                if byte(at: position + 1) != UInt8(ascii: "'") {
                    return (position + 1, safe)
                }
                position += 2
            default:
                position += 1
            }
        }
        return nil
    }

    /// `$1` (a parameter), `$tag$...$tag$` (a string), or a lone `$`.
    private mutating func dollar() -> Bool {
        let start = index
        if Self.isDigit(byte(at: start + 1)) {
            var end = start + 1
            while end < count && Self.isDigit(base[end]) {
                end += 1
            }
            guard !CharacterClass.isIdentifierStart(byte(at: end)) else {
                return false
            }
            token(to: end)
            return true
        }
        // The delimiter: `$`, then optionally a letter and letters or digits (no `$`), then `$`.
        var tagEnd = start + 1
        if CharacterClass.isIdentifierStart(byte(at: tagEnd)) {
            tagEnd += 1
            while tagEnd < count && base[tagEnd] != UInt8(ascii: "$") && CharacterClass.isIdentifierPart(base[tagEnd]) {
                tagEnd += 1
            }
        }
        guard byte(at: tagEnd) == UInt8(ascii: "$") else {
            token(to: start + 1)
            return true
        }
        let delimiterLength = tagEnd + 1 - start
        var position = tagEnd + 1
        while position + delimiterLength <= count {
            if base[position] == UInt8(ascii: "$")
                && memcmp(base + position, base + start, delimiterLength) == 0
            {
                return literal(from: start, to: position + delimiterLength, kind: .string, replace: true)
            }
            position += 1
        }
        return false
    }

    /// A number as `scan.l` reads it; `false` for the forms it rejects (`1e`, `1e+`, `123abc`, `0x1F`).
    private mutating func number() -> Bool {
        let start = index
        var position = start
        var isInteger = true
        while position < count && Self.isDigit(base[position]) {
            position += 1
        }
        // `1..5` is an integer followed by `..`; otherwise a period continues the number.
        if byte(at: position) == UInt8(ascii: ".") && byte(at: position + 1) != UInt8(ascii: ".") {
            isInteger = false
            position += 1
            while position < count && Self.isDigit(base[position]) {
                position += 1
            }
        }
        if byte(at: position) | 0x20 == UInt8(ascii: "e") {
            var exponent = position + 1
            if byte(at: exponent) == UInt8(ascii: "+") || byte(at: exponent) == UInt8(ascii: "-") {
                exponent += 1
            }
            guard Self.isDigit(byte(at: exponent)) else {
                return false
            }
            isInteger = false
            position = exponent
            while position < count && Self.isDigit(base[position]) {
                position += 1
            }
        }
        guard !CharacterClass.isIdentifierStart(byte(at: position)) else {
            return false
        }
        let kind: LiteralKind = isInteger && fitsInt32(start..<position) ? .integer : .numeric
        return literal(from: start, to: position, kind: kind, replace: true)
    }

    /// Whether the decimal digits in `range` denote a value of at most 2^31 - 1 (leading zeros allowed).
    private func fitsInt32(_ range: Range<Int>) -> Bool {
        var value = 0
        for position in range {
            value = value * 10 + Int(base[position] - UInt8(ascii: "0"))
            if value > Int(Int32.max) {
                return false
            }
        }
        return true
    }

    /// An identifier or keyword, or a literal or identifier with a letter prefix: `B'`, `X'`, `E'`, `U&'`, `U&"`.
    private mutating func word() -> Bool {
        let start = index
        let first = base[start] | 0x20
        let second = byte(at: start + 1)
        if second == UInt8(ascii: "'") {
            switch first {
            case UInt8(ascii: "b"), UInt8(ascii: "x"):
                guard let close = memchr(base + start + 2, Int32(UInt8(ascii: "'")), count - start - 2) else {
                    return false
                }
                let end = UnsafeRawPointer(close) - UnsafeRawPointer(base) + 1
                let kind: LiteralKind = first == UInt8(ascii: "b") ? .bitString : .hexString
                return literal(from: start, to: end, kind: kind, replace: true)
            case UInt8(ascii: "e"):
                guard let (end, safe) = escapeStringEnd(contentStart: start + 2) else {
                    return false
                }
                return literal(from: start, to: end, kind: .string, replace: safe)
            default:
                break
            }
        }
        if first == UInt8(ascii: "u") && second == UInt8(ascii: "&") {
            switch byte(at: start + 2) {
            case UInt8(ascii: "'"):
                guard let end = quotedEnd(contentStart: start + 3, quote: UInt8(ascii: "'")) else {
                    return false
                }
                let contents = UnsafeBufferPointer(start: base + start + 3, count: end - 1 - (start + 3))
                return literal(
                    from: start, to: end, kind: .unicodeString,
                    replace: LiteralScanner.isSafeUnicodeString(contents)
                )
            case UInt8(ascii: "\""):
                guard let end = quotedEnd(contentStart: start + 3, quote: UInt8(ascii: "\"")) else {
                    return false
                }
                token(to: end)
                return true
            default:
                break
            }
        }
        var end = start + 1
        while end < count && CharacterClass.isIdentifierPart(base[end]) {
            end += 1
        }
        // `UESCAPE` changes the escape character of the `U&` token before it, so its string is not a plain value.
        if end - start == 7 && isUescape(start) {
            return false
        }
        token(to: end)
        return true
    }

    private func isUescape(_ start: Int) -> Bool {
        let word: StaticString = "uescape"
        for offset in 0..<7 where CharacterClass.asciiLowercased(base[start + offset]) != word.utf8Start[offset] {
            return false
        }
        return true
    }
}
