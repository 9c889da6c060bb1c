/// A host (name, IPv4 or IPv6 address) and a TCP port, as `listen`, `metrics_listen` and backend URLs write them.
///
/// Written `host:port`, or `[v6 address]:port`; ``description`` gives the same form back. `host` holds an IPv6
/// address without brackets.
public struct HostAndPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[::1]:port`. Without a port, `defaultPort` is used (and the text is an error when it is
    /// `nil`). Ports must be in 1...65535, or 0 when `allowPortZero` (a listener: "pick a free port").
    public init(parsing text: String, defaultPort: Int? = nil, allowPortZero: Bool = false) throws(ConfigError) {
        do {
            self = try HostAndPort.parse(text, defaultPort: defaultPort, allowPortZero: allowPortZero)
        } catch {
            throw ConfigError(key: "", message: error.message)
        }
    }

    static func parse(_ text: String, defaultPort: Int?, allowPortZero: Bool) throws(FieldError) -> HostAndPort {
        let host: Substring
        let portText: Substring?
        if text.hasPrefix("/") {
            // libpq's convention: a host that starts with a slash is the directory of a Unix-domain socket.
            if let colon = text.lastIndex(of: ":"), text[text.index(after: colon)...].allSatisfy(\.isNumber) {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            } else {
                host = text[...]
                portText = nil
            }
        } else if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw FieldError("\"\(text)\" has \"[\" without \"]\" (IPv6 addresses are written [::1]:5432)")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                portText = nil
            } else if rest.hasPrefix(":") {
                portText = rest.dropFirst()
            } else {
                throw FieldError("\"\(text)\" has text after \"]\" that is not \":port\"")
            }
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." || $0 == "%" }) else {
                throw FieldError("\"\(host)\" is not an IPv6 address")
            }
        } else {
            let colons = text.filter { $0 == ":" }.count
            if colons > 1 {
                throw FieldError("\"\(text)\": write an IPv6 address in brackets, like [::1]:5432")
            }
            if let colon = text.firstIndex(of: ":") {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            } else {
                host = text[...]
                portText = nil
            }
            let allowed = host.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || "-._*".contains($0) }
            guard allowed else {
                throw FieldError("\"\(host)\" is not a host name or address")
            }
        }
        guard !host.isEmpty else {
            throw FieldError("\"\(text)\" has no host")
        }
        let port: Int
        if let portText {
            guard !portText.isEmpty, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
                  let value = Int(portText) else {
                throw FieldError("\"\(portText)\" is not a port number")
            }
            port = value
        } else if let defaultPort {
            port = defaultPort
        } else {
            throw FieldError("\"\(text)\" needs a port, like 127.0.0.1:6432")
        }
        guard (allowPortZero ? 0 : 1)...65535 ~= port else {
            throw FieldError("port \(port) is out of range (1-65535)")
        }
        return HostAndPort(host: String(host), port: port)
    }

    /// The host names a Unix-socket directory (it starts with `/`, as in libpq).
    public var isSocketDirectory: Bool { self.host.hasPrefix("/") }

    /// The socket file PostgreSQL listens on in that directory: `<directory>/.s.PGSQL.<port>`.
    public var socketPath: String { (self.host == "/" ? "" : self.host) + "/.s.PGSQL.\(self.port)" }

    /// `host:port`, with brackets around an IPv6 address.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
