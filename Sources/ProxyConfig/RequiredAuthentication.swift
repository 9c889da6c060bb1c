/// libpq's `require_auth` in a backend URL: which authentication requests the proxy accepts from a server.
/// `scram-sha-256,md5` allows those; `!password,!md5` allows all but those (a list is all one or all the other).
/// A server asking for something else (or for nothing, unless `none` is allowed) is refused before the password
/// leaves the proxy.
public struct RequiredAuthentication: Sendable, Hashable {
    public static let methods: [String] = ["password", "md5", "gss", "sspi", "scram-sha-256", "none"]

    /// The allowed methods, from `methods`.
    public var allowed: Set<String>
    /// As written, for messages.
    public var text: String

    static func parse(_ text: String) throws(FieldError) -> RequiredAuthentication {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let negated = items.first?.hasPrefix("!") ?? false
        var named: Set<String> = []
        for item in items {
            guard item.hasPrefix("!") == negated else {
                throw FieldError("require_auth cannot mix methods and negated (!) methods")
            }
            let name = negated ? String(item.dropFirst()) : item
            guard Self.methods.contains(name) else {
                throw FieldError("require_auth method \"\(name)\" is not one of \(Self.methods.joined(separator: ", "))")
            }
            named.insert(name)
        }
        return RequiredAuthentication(allowed: negated ? Set(Self.methods).subtracting(named) : named, text: text)
    }
}
