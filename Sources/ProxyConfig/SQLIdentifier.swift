/// PostgreSQL's rules for a table or schema name as written in `schemas` and `search_path`.
///
/// A plain name folds to lower case (`Users` is `users`); a name in double quotes is exact (`"Users"` stays
/// `Users`, `""` inside stands for one `"`). In YAML a double-quoted identifier must itself be quoted, e.g.
/// `['"Users"', orders]`, because YAML strips one level of double quotes.
public enum SQLIdentifier {
    /// The name PostgreSQL would look up for `written`, or `nil` if it is not a single valid identifier
    /// (empty, qualified with a dot, or containing characters a plain identifier cannot have).
    public static func normalize(_ written: String) -> String? {
        if written.hasPrefix("\"") {
            guard written.count >= 3, written.hasSuffix("\"") else { return nil }
            let inner = written.dropFirst().dropLast()
            // Every '"' inside must be doubled.
            var result = ""
            var iterator = inner.makeIterator()
            while let character = iterator.next() {
                if character == "\"" {
                    guard iterator.next() == "\"" else { return nil }
                }
                result.append(character)
            }
            return result.isEmpty ? nil : result
        }
        guard let first = written.unicodeScalars.first else { return nil }
        let isStart = { (scalar: Unicode.Scalar) in
            scalar == "_" || (scalar.isASCII && scalar.properties.isAlphabetic) || scalar.value >= 0x80
        }
        guard isStart(first),
              written.unicodeScalars.allSatisfy({ isStart($0) || ("0"..."9").contains($0) || $0 == "$" }) else {
            return nil
        }
        // PostgreSQL folds only ASCII letters in a multi-byte encoding such as UTF-8.
        return String(String.UnicodeScalarView(written.unicodeScalars.map { scalar in
            ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
        }))
    }
}
