/// The name inside a string constant that PostgreSQL reads as a `regclass` (`nextval('users_id_seq')`,
/// `'users'::regclass`), and the edit that routes it.
///
/// PostgreSQL splits such a string as `stringToQualifiedNameList` does: dot-separated parts, whitespace around them
/// skipped, a double-quoted part exact (`""` for `"`), any other lower-cased. A single mapped part gains its schema
/// right after the literal's opening quote; `legacy.name` with a mapped name has its first part replaced, which needs
/// the literal's bytes to be its value (no escapes or doubled quotes inside), so offsets in the value are offsets in
/// the text. Anything else is left alone.
enum RegclassLiteralName {
    private struct Part {
        var name: [UInt8]
        /// Where the part is written in the value, quotes included.
        var written: Range<Int>
    }

    /// The edit for the string constant at `location` of `text`, whose value is `value`, or `nil` when it names
    /// nothing mapped (or is written in a way this does not handle: `U&'...'`).
    static func qualification(
        value: UnsafeRawBufferPointer,
        at location: Int,
        text: UnsafeRawBufferPointer,
        names: MappedNameTable
    ) -> Qualification? {
        guard let parts = split(value), let contentStart = contentStart(of: text, at: location) else {
            return nil
        }
        let schema: Int?
        switch parts.count {
        case 1:
            schema = parts[0].name.withUnsafeBytes { names.schemaIndex(forName: $0) }
            guard let schema, isSafeInsideLiteral(names.schemas[schema].quotedPrefix) else {
                return nil
            }
            return Qualification(offset: contentStart, schema: schema)
        case 2:
            guard parts[0].name.withUnsafeBytes({ names.isLegacySchema($0) }) else {
                return nil
            }
            schema = parts[1].name.withUnsafeBytes { names.schemaIndex(forName: $0) }
            guard let schema, isSafeInsideLiteral(names.schemas[schema].quotedPrefix),
                  contentStart + value.count < text.count,
                  text[contentStart..<(contentStart + value.count)].elementsEqual(value)
            else {
                return nil
            }
            // The value must end where the literal closes, or the bytes matched by chance.
            let closing = text[contentStart + value.count]
            guard closing == UInt8(ascii: "'") || closing == UInt8(ascii: "$") else {
                return nil
            }
            return Qualification(
                offset: contentStart + parts[0].written.lowerBound, schema: schema, replacing: parts[0].written.count
            )
        default:
            return nil
        }
    }

    /// The offset of the first byte of the constant's value: after `'`, `E'` or `$tag$`.
    private static func contentStart(of text: UnsafeRawBufferPointer, at location: Int) -> Int? {
        guard location < text.count else {
            return nil
        }
        switch text[location] {
        case UInt8(ascii: "'"):
            return location + 1
        case UInt8(ascii: "E"), UInt8(ascii: "e"):
            return location + 1 < text.count && text[location + 1] == UInt8(ascii: "'") ? location + 2 : nil
        case UInt8(ascii: "$"):
            var index = location + 1
            while index < text.count && text[index] != UInt8(ascii: "$") {
                index += 1
            }
            return index < text.count ? index + 1 : nil
        default:
            return nil
        }
    }

    /// Schema text that means the same in every kind of string constant: no quote, backslash or dollar sign.
    private static func isSafeInsideLiteral(_ bytes: [UInt8]) -> Bool {
        !bytes.contains { $0 == UInt8(ascii: "'") || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "$") }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0B || byte == 0x0C
    }

    /// The parts of a qualified name as `SplitIdentifierString(value, '.')` finds them; `nil` when it would fail.
    private static func split(_ value: UnsafeRawBufferPointer) -> [Part]? {
        var parts: [Part] = []
        var index = 0
        while index < value.count && isSpace(value[index]) {
            index += 1
        }
        while true {
            let start = index
            var name: [UInt8] = []
            if index < value.count && value[index] == UInt8(ascii: "\"") {
                index += 1
                var closed = false
                while index < value.count {
                    if value[index] == UInt8(ascii: "\"") {
                        if index + 1 < value.count && value[index + 1] == UInt8(ascii: "\"") {
                            name.append(UInt8(ascii: "\""))
                            index += 2
                            continue
                        }
                        index += 1
                        closed = true
                        break
                    }
                    name.append(value[index])
                    index += 1
                }
                guard closed, !name.isEmpty else {
                    return nil
                }
            } else {
                while index < value.count && value[index] != UInt8(ascii: ".") && !isSpace(value[index]) {
                    name.append(CharacterClass.asciiLowercased(value[index]))
                    index += 1
                }
                guard !name.isEmpty else {
                    return nil
                }
            }
            if name.count > SQLIdentifier.maximumLength {
                return nil
            }
            parts.append(Part(name: name, written: start..<index))
            while index < value.count && isSpace(value[index]) {
                index += 1
            }
            if index == value.count {
                return parts
            }
            guard value[index] == UInt8(ascii: ".") else {
                return nil
            }
            index += 1
            while index < value.count && isSpace(value[index]) {
                index += 1
            }
        }
    }
}
