/// A comma-separated SCRAM attribute list (`r=...,s=...,i=...`) split into (name, value) pairs, in order.
///
/// SCRAM values never contain a comma (usernames escape it as `=2C`), so a plain split is exact.
struct SCRAMAttributes {
    var pairs: [(name: Character, value: Substring)]

    /// Parses `text`; every element must be a single ASCII letter, `=`, then the value.
    init(parsing text: Substring, what: String) throws(AuthError) {
        pairs = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let name = part.first, name.isASCII, name.isLetter,
                  part[part.index(after: part.startIndex)] == "=" else {
                throw .malformed("malformed SCRAM \(what): expected attribute=value, got \"\(part.prefix(20))\"")
            }
            pairs.append((name, part.dropFirst(2)))
        }
    }

    /// The value of the attribute at `position`, which must be `name`.
    func require(_ name: Character, at position: Int, in what: String) throws(AuthError) -> Substring {
        guard position < pairs.count, pairs[position].name == name else {
            throw .malformed("malformed SCRAM \(what): expected attribute \"\(name)\" at position \(position + 1)")
        }
        return pairs[position].value
    }
}

extension [UInt8] {
    /// The bytes as UTF-8 text, or an `AuthError` if they are not valid UTF-8.
    func scramText(_ what: String) throws(AuthError) -> String {
        guard let text = String(validating: self, as: UTF8.self) else {
            throw .malformed("SCRAM \(what) is not valid UTF-8")
        }
        return text
    }
}
