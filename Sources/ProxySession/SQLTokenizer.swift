/// Just enough of PostgreSQL's lexer to find statement boundaries and the leading words of a statement:
/// it knows strings ('', E'' with backslash escapes, dollar quotes), quoted identifiers and comments (line
/// and nested block), so a `;` or a keyword inside them is never mistaken for the real thing.
/// The full grammar lives in SchemaRouting (libpg_query); this is for the few session commands the
/// proxy must notice on every statement, where a parse would cost too much.
public struct SQLTokenizer {
    public enum Token: Equatable {
        /// A keyword or identifier: unquoted ones are folded to lower case, quoted ones are exact.
        case word(String, quoted: Bool)
        /// A string constant (its content is not kept).
        case string
        /// Any other character outside strings and comments (`;`, `=`, `.`, `(`, ...).
        case symbol(UInt8)
    }

    private let text: UnsafeRawBufferPointer
    public private(set) var position: Int

    public init(_ text: UnsafeRawBufferPointer, from start: Int = 0) {
        self.text = text
        self.position = start
    }

    /// The next token and where it starts, or nil at the end of the text.
    public mutating func next() -> (token: Token, start: Int)? {
        self.skipSpaceAndComments()
        guard self.position < self.text.count else { return nil }
        let start = self.position
        let byte = self.text[start]
        switch byte {
        case UInt8(ascii: "'"):
            self.skipQuoted(UInt8(ascii: "'"), backslashEscapes: false)
            return (.string, start)
        case UInt8(ascii: "\""):
            self.position += 1
            var name: [UInt8] = []
            while self.position < self.text.count {
                let c = self.text[self.position]
                self.position += 1
                if c == UInt8(ascii: "\"") {
                    if self.byte(at: self.position) == UInt8(ascii: "\"") { name.append(c); self.position += 1 } else { break }
                } else {
                    name.append(c)
                }
            }
            return (.word(String(decoding: name, as: UTF8.self), quoted: true), start)
        case UInt8(ascii: "$"):
            if let tagEnd = self.dollarQuoteTagEnd(from: start) {
                self.skipDollarQuoted(tag: start..<tagEnd)
                return (.string, start)
            }
            self.position += 1
            while self.position < self.text.count, Self.isIdentifierByte(self.text[self.position]) { self.position += 1 }
            return (.symbol(byte), start)
        default:
            if byte | 0x20 == UInt8(ascii: "e"), self.byte(at: start + 1) == UInt8(ascii: "'") {
                self.position += 1
                self.skipQuoted(UInt8(ascii: "'"), backslashEscapes: true)
                return (.string, start)
            }
            guard Self.isIdentifierByte(byte) else {
                self.position += 1
                return (.symbol(byte), start)
            }
            while self.position < self.text.count, Self.isIdentifierByte(self.text[self.position]) { self.position += 1 }
            let word = String(decoding: UnsafeRawBufferPointer(rebasing: self.text[start..<self.position]), as: UTF8.self)
            return (.word(word.lowercased(), quoted: false), start)
        }
    }

    /// Skips tokens up to the next `;` outside strings, quoted identifiers and comments and returns its
    /// index (consumed), or nil at the end of the text. Makes no Strings.
    public mutating func skipToSemicolon() -> Int? {
        while true {
            self.skipSpaceAndComments()
            guard self.position < self.text.count else { return nil }
            let start = self.position
            let byte = self.text[start]
            if byte == UInt8(ascii: ";") {
                self.position += 1
                return start
            }
            if self.nextUnquotedWordRange() != nil { continue }
            // Strings, quoted identifiers, dollar quotes and symbols: `next` skips them whole.
            _ = self.next()
        }
    }

    /// The range of the next token when it is an unquoted word (not consumed otherwise); no allocation.
    public mutating func nextUnquotedWordRange() -> Range<Int>? {
        self.skipSpaceAndComments()
        let start = self.position
        guard start < self.text.count, Self.isIdentifierByte(self.text[start]),
              !(self.text[start] | 0x20 == UInt8(ascii: "e") && self.byte(at: start + 1) == UInt8(ascii: "'")) else { return nil }
        var end = start
        while end < self.text.count, Self.isIdentifierByte(self.text[end]) { end += 1 }
        self.position = end
        return start..<end
    }

    static func isIdentifierByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c >= 0x80
    }

    private func byte(at index: Int) -> UInt8? {
        index < self.text.count ? self.text[index] : nil
    }

    private mutating func skipSpaceAndComments() {
        while self.position < self.text.count {
            let c = self.text[self.position]
            if c == 0x20 || (c >= 0x09 && c <= 0x0D) {
                self.position += 1
            } else if c == UInt8(ascii: "-"), self.byte(at: self.position + 1) == UInt8(ascii: "-") {
                while self.position < self.text.count, self.text[self.position] != 0x0A { self.position += 1 }
            } else if c == UInt8(ascii: "/"), self.byte(at: self.position + 1) == UInt8(ascii: "*") {
                self.position += 2
                var depth = 1
                while self.position < self.text.count, depth > 0 {
                    if self.text[self.position] == UInt8(ascii: "*"), self.byte(at: self.position + 1) == UInt8(ascii: "/") {
                        depth -= 1
                        self.position += 2
                    } else if self.text[self.position] == UInt8(ascii: "/"), self.byte(at: self.position + 1) == UInt8(ascii: "*") {
                        depth += 1
                        self.position += 2
                    } else {
                        self.position += 1
                    }
                }
            } else {
                return
            }
        }
    }

    /// From the opening quote at `position`.
    private mutating func skipQuoted(_ quote: UInt8, backslashEscapes: Bool) {
        self.position += 1
        while self.position < self.text.count {
            let c = self.text[self.position]
            self.position += 1
            if backslashEscapes, c == UInt8(ascii: "\\") {
                self.position += 1
            } else if c == quote {
                if self.byte(at: self.position) == quote { self.position += 1 } else { return }
            }
        }
    }

    /// `$tag$` starting at `start`: the index just past the second `$`, or nil when it is not a dollar quote
    /// (e.g. a parameter `$1`).
    private func dollarQuoteTagEnd(from start: Int) -> Int? {
        var index = start + 1
        if let first = self.byte(at: index), first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") { return nil }
        while let c = self.byte(at: index), c != UInt8(ascii: "$") {
            guard Self.isIdentifierByte(c) else { return nil }
            index += 1
        }
        return index < self.text.count ? index + 1 : nil
    }

    private mutating func skipDollarQuoted(tag: Range<Int>) {
        let tagLength = tag.count
        self.position = tag.upperBound
        while self.position + tagLength <= self.text.count {
            if self.text[self.position] == UInt8(ascii: "$"),
               self.text[self.position..<self.position + tagLength].elementsEqual(self.text[tag]) {
                self.position += tagLength
                return
            }
            self.position += 1
        }
        self.position = self.text.count
    }
}
