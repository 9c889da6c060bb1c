import ProxyConfig

/// `require_auth` for the catalog tools' libpq connections: libpq 15 does not know the parameter, so the connection
/// loop shows this check every byte the server has sent before libpq reads it, and stops the login when an
/// authentication request is one `require_auth` does not allow (before libpq could answer it with the password).
public struct AuthenticationRequestCheck: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// Nothing refused so far; libpq may read the bytes.
        case allowed
        /// An authentication request is cut short: wait for the rest before libpq reads it.
        case needMoreBytes
        /// Stop: the reason.
        case refused(String)
    }

    public let required: RequiredAuthentication
    /// A request for a method came before: an AuthenticationOk now ends that exchange (it is not `none`).
    private var methodRequested = false

    public init(required: RequiredAuthentication) {
        self.required = required
    }

    /// The server's bytes not yet read by libpq, from the start of a message: every Authentication message in them
    /// is judged.
    public mutating func inspect(_ bytes: [UInt8]) -> Verdict {
        var index = 0
        while bytes.count - index >= 5 {
            let type = bytes[index]
            let length = Int(bytes[index + 1]) << 24 | Int(bytes[index + 2]) << 16 | Int(bytes[index + 3]) << 8
                | Int(bytes[index + 4])
            guard length >= 4 else { return .allowed }  // libpq reports the broken message itself
            if type == UInt8(ascii: "R") {
                guard bytes.count - index >= 9 else { return .needMoreBytes }
                let code = UInt32(bytes[index + 5]) << 24 | UInt32(bytes[index + 6]) << 16
                    | UInt32(bytes[index + 7]) << 8 | UInt32(bytes[index + 8])
                if let refusal = self.judge(code) { return .refused(refusal) }
            }
            index += 1 + length
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "R") { return .needMoreBytes }
        return .allowed
    }

    /// libpq started another connection attempt (the next host, or sslmode's second try): what the previous
    /// server asked for says nothing about this one, which must ask again before an AuthenticationOk passes.
    public mutating func connectionRestarted() {
        self.methodRequested = false
    }

    private mutating func judge(_ code: UInt32) -> String? {
        guard let (method, words) = RequiredAuthentication.method(ofRequest: code) else { return nil }
        if code == 0, self.methodRequested { return nil }
        guard self.required.allowed.contains(method) else {
            return "require_auth=\(self.required.text): the server asked for \(words) (\(method))"
        }
        if code != 0 { self.methodRequested = true }
        return nil
    }
}
