/// `${NAME}` substitution in config values, so secrets can stay out of the file.
///
/// - `${NAME}` is replaced by the variable's value; an unset variable is an error.
/// - `${NAME:-fallback}` uses `fallback` (taken literally) when `NAME` is unset or empty.
/// - `$${` writes a literal `${`. Any other `$` is literal, so SCRAM verifiers and passwords with `$` need no escape.
///
/// Names are `[A-Za-z_][A-Za-z0-9_]*`. Substitution happens in scalar values after YAML parsing, never in keys, and
/// the substituted text is not parsed as YAML again (a password with `:` or `#` is safe).
enum EnvironmentSubstitution {
    /// With `unsetPlaceholder`, an unset variable (without a fallback) becomes that text instead of an error.
    static func substitute(
        _ text: String, environment: [String: String], unsetPlaceholder: String? = nil
    ) throws(FieldError) -> String {
        guard text.contains("$") else { return text }
        var output = ""
        var rest = text[...]
        while let dollar = rest.firstIndex(of: "$") {
            output += rest[..<dollar]
            let afterDollar = rest[rest.index(after: dollar)...]
            if afterDollar.hasPrefix("${") {
                output += "${"
                rest = afterDollar.dropFirst(2)
            } else if afterDollar.hasPrefix("{") {
                guard let close = afterDollar.firstIndex(of: "}") else {
                    throw FieldError("\"${\" without a closing \"}\"")
                }
                let body = afterDollar[afterDollar.index(after: afterDollar.startIndex)..<close]
                output += try resolve(body, environment: environment, unsetPlaceholder: unsetPlaceholder)
                rest = afterDollar[afterDollar.index(after: close)...]
            } else {
                output += "$"
                rest = afterDollar
            }
        }
        output += rest
        return output
    }

    private static func resolve(
        _ body: Substring, environment: [String: String], unsetPlaceholder: String?
    ) throws(FieldError) -> String {
        let name: Substring
        let fallback: Substring?
        if let range = body.firstRange(of: ":-") {
            name = body[..<range.lowerBound]
            fallback = body[range.upperBound...]
        } else {
            name = body
            fallback = nil
        }
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter),
              name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
            throw FieldError("\"${\(body)}\" is not a valid variable reference (write ${NAME} or ${NAME:-default})")
        }
        if let value = environment[String(name)], !(fallback != nil && value.isEmpty) {
            return value
        }
        if let fallback {
            return String(fallback)
        }
        if let unsetPlaceholder {
            return unsetPlaceholder
        }
        throw FieldError("environment variable \(name) is not set")
    }
}
