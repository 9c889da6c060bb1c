/// A cheap, conservative test of whether a statement can reference a mapped table at all, run before the parser.
///
/// It looks for each mapped name as a whole identifier-like word, ignoring ASCII case (so `USERS`, `users` and
/// `"Users"` all count). It may say yes for text that has no such reference (a column, a string, a comment that
/// holds the name): the parser then decides. It must never say no when the parser would find a reference, so it
/// also says yes when the text holds a Unicode-escaped identifier (`U&"..."`, whose name is not spelled out), or an
/// identifier longer than PostgreSQL's 63 bytes (which the parser truncates).
struct NamePrefilter: Sendable {
    /// Bit `n` is set when some plain name is `n` bytes long.
    private let lengthMask: UInt64
    /// Plain names (identifier-shaped, ASCII lower-cased) indexed by length.
    private let namesByLength: [[[UInt8]]]
    /// Names that are not identifier-shaped (`"my table"`, `"2fa"`): searched for as written inside quotes, with
    /// `"` doubled.
    private let quotedOnlyNames: [[UInt8]]

    init(names: [[UInt8]]) {
        var mask: UInt64 = 0
        var byLength = [[[UInt8]]](repeating: [], count: SQLIdentifier.maximumLength + 1)
        var quotedOnly: [[UInt8]] = []
        for name in names {
            let isPlain = name.first.map(CharacterClass.isIdentifierStart) == true
                && name.allSatisfy(CharacterClass.isIdentifierPart)
            if isPlain && name.count <= SQLIdentifier.maximumLength {
                mask |= 1 << UInt64(name.count)
                byLength[name.count].append(name.map(CharacterClass.asciiLowercased))
            } else {
                quotedOnly.append(name.flatMap { $0 == UInt8(ascii: "\"") ? [$0, $0] : [$0] })
            }
        }
        lengthMask = mask
        namesByLength = byLength
        quotedOnlyNames = quotedOnly
    }

    /// `false` only when `text` certainly names no mapped table.
    func mayReference(_ text: UnsafeRawBufferPointer) -> Bool {
        let count = text.count
        guard count > 0, let base = text.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return false
        }
        var previousIsLetter = false
        var index = 0
        while index < count {
            let byte = base[index]
            let isLetter = CharacterClass.isIdentifierStart(byte)
            if isLetter && !previousIsLetter {
                // A word starts here (or after digits or '$', where it may be a new token: counted too).
                var end = index + 1
                while end < count && CharacterClass.isIdentifierPart(base[end]) {
                    end += 1
                }
                let length = end - index
                if length > SQLIdentifier.maximumLength {
                    return true
                }
                if lengthMask & (1 << UInt64(length)) != 0 && matches(base + index, length) {
                    return true
                }
            } else if byte == UInt8(ascii: "&") && index > 0 && index + 1 < count
                && base[index - 1] | 0x20 == UInt8(ascii: "u") && base[index + 1] == UInt8(ascii: "\"")
            {
                return true
            }
            previousIsLetter = isLetter
            index += 1
        }
        for name in quotedOnlyNames where contains(base, count, name) {
            return true
        }
        return false
    }

    @inline(__always)
    private func matches(_ word: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        for name in namesByLength[length] {
            var offset = 0
            while offset < length && CharacterClass.asciiLowercased(word[offset]) == name[offset] {
                offset += 1
            }
            if offset == length {
                return true
            }
        }
        return false
    }

    private func contains(_ base: UnsafePointer<UInt8>, _ count: Int, _ needle: [UInt8]) -> Bool {
        guard needle.count <= count else {
            return false
        }
        for start in 0...(count - needle.count) {
            var offset = 0
            while offset < needle.count && base[start + offset] == needle[offset] {
                offset += 1
            }
            if offset == needle.count {
                return true
            }
        }
        return false
    }
}
