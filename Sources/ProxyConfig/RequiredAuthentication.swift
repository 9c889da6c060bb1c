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

    public init(allowed: Set<String>, text: String) {
        self.allowed = allowed
        self.text = text
    }

    /// Parses `require_auth` as written (for tools that take a URL of their own).
    public init(parsing text: String) throws(ConfigError) {
        do {
            self = try Self.parse(text)
        } catch {
            throw ConfigError(key: "require_auth", message: error.message)
        }
    }

    /// The method (libpq's name) of the server's authentication request `code`, with words for messages; nil for the
    /// messages inside an exchange (SASL continue and final) and codes libpq does not know.
    public static func method(ofRequest code: UInt32) -> (name: String, words: String)? {
        switch code {
        case 0: return ("none", "no authentication")
        case 3: return ("password", "a cleartext password")
        case 5: return ("md5", "an md5 password")
        case 10: return ("scram-sha-256", "SASL (SCRAM-SHA-256)")
        case 7, 8: return ("gss", "GSSAPI")
        case 9: return ("sspi", "SSPI")
        default: return nil
        }
    }
}
