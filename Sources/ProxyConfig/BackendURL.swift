/// Where and as whom a service connects to PostgreSQL: a libpq-style URL,
/// `postgresql://user:password@host1:5432,host2:5433/database?target_session_attrs=read-write&application_name=x`.
///
/// - Scheme `postgresql://` or `postgres://`. Several hosts are failover candidates, tried in order; a host without
///   a port uses 5432; IPv6 addresses go in brackets (`[::1]:5432`).
/// - The user is required; the password is optional. Both are percent-decoded (`%40` is `@`). The user part ends at
///   the last `@`, so a password substituted from the environment may contain `@`, `:`, `/` or `?` unencoded; a `%`
///   that does not start a `%XX` escape is kept as is. A literal `%XX` in a password must be written `%25XX`.
/// - The database defaults to the user name, as in libpq.
/// - `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `sslnegotiation` set ``tls`` (see ``BackendTLSSettings``);
///   `channel_binding=disable` or `prefer` are accepted and change nothing; `channel_binding=require` sets
///   ``channelBindingRequired``. `require_auth` sets ``requireAuth``.
/// - `target_session_attrs` picks which host is acceptable; every other query parameter (`application_name`,
///   `options`, ...) is kept in ``parameters`` for the server connection's startup message, percent-decoded.
public struct BackendURL: Sendable, Equatable, CustomStringConvertible {
    public var hosts: [HostAndPort]
    public var user: String
    public var password: String?
    public var database: String
    public var targetSessionAttrs: TargetSessionAttrs
    public var parameters: [String: String]
    /// TLS towards the servers (`sslmode` and its files).
    public var tls = BackendTLSSettings()
    /// `require_auth`: the authentication requests accepted from the server; nil accepts any the proxy can answer.
    public var requireAuth: RequiredAuthentication?
    /// `channel_binding=require`: SCRAM-SHA-256-PLUS bound to the TLS connection (needs an sslmode other than disable).
    public var channelBindingRequired = false

    public init(
        hosts: [HostAndPort], user: String, password: String? = nil, database: String,
        targetSessionAttrs: TargetSessionAttrs = .any, parameters: [String: String] = [:]
    ) {
        self.hosts = hosts
        self.user = user
        self.password = password
        self.database = database
        self.targetSessionAttrs = targetSessionAttrs
        self.parameters = parameters
    }

    /// Parses a URL as described on the type.
    public init(parsing text: String) throws(ConfigError) {
        do {
            self = try BackendURL.parse(text)
        } catch {
            throw ConfigError(key: "", message: error.message)
        }
    }

    static func parse(_ text: String) throws(FieldError) -> BackendURL {
        var rest: Substring
        if text.hasPrefix("postgresql://") {
            rest = text.dropFirst("postgresql://".count)
        } else if text.hasPrefix("postgres://") {
            rest = text.dropFirst("postgres://".count)
        } else {
            throw FieldError("must be a URL starting with postgresql://, like postgresql://user:password@host:5432/db")
        }
        guard let at = rest.lastIndex(of: "@") else {
            throw FieldError("needs a user name: postgresql://user:password@host/db")
        }
        let userInfo = rest[..<at]
        rest = rest[rest.index(after: at)...]

        let user: String
        var password: String?
        if let colon = userInfo.firstIndex(of: ":") {
            user = percentDecode(userInfo[..<colon])
            password = percentDecode(userInfo[userInfo.index(after: colon)...])
        } else {
            user = percentDecode(userInfo)
        }
        guard !user.isEmpty else {
            throw FieldError("needs a user name: postgresql://user:password@host/db")
        }

        let query: Substring?
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        } else {
            query = nil
        }
        let hostList: Substring
        var database = user
        if let slash = rest.firstIndex(of: "/") {
            hostList = rest[..<slash]
            let path = percentDecode(rest[rest.index(after: slash)...])
            if !path.isEmpty { database = path }
        } else {
            hostList = rest
        }
        let hostGivenAsParameter = query?.split(separator: "&").contains { $0.hasPrefix("host=") } ?? false
        guard !hostList.isEmpty || hostGivenAsParameter else {
            throw FieldError("needs at least one host: postgresql://user:password@host:5432/db")
        }
        var hosts: [HostAndPort] = []
        for host in hostList.split(separator: ",", omittingEmptySubsequences: false) where !hostList.isEmpty {
            hosts.append(try HostAndPort.parse(percentDecode(host), defaultPort: 5432, allowPortZero: false))
        }

        var targetSessionAttrs = TargetSessionAttrs.any
        var parameters: [String: String] = [:]
        var tls = BackendTLSSettings()
        var seenTLSParameters: Set<String> = []
        var requireAuth: RequiredAuthentication?
        var channelBindingRequired = false
        // libpq's `host` and `port` parameters replace the URL's hosts (a socket directory is easier written so).
        var hostParameter: String?
        var portParameter: String?
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecode(parts[0])
            let value = parts.count == 2 ? percentDecode(parts[1]) : ""
            guard !name.isEmpty else { throw FieldError("has an empty query parameter name") }
            guard parameters[name] == nil, !(name == "target_session_attrs" && targetSessionAttrs != .any) else {
                throw FieldError("query parameter \(name) is given twice")
            }
            if BackendTLSSettings.parameterNames.contains(name) {
                guard seenTLSParameters.insert(name).inserted else { throw FieldError("query parameter \(name) is given twice") }
                _ = try tls.consume(name, value)
                continue
            }
            if name == "require_auth" {
                guard requireAuth == nil else { throw FieldError("query parameter require_auth is given twice") }
                requireAuth = try RequiredAuthentication.parse(value)
                continue
            }
            if name == "channel_binding", value == "require" {
                channelBindingRequired = true
                continue
            }
            if try Self.consumeUnsupportedAuthParameter(name, value) { continue }
            if name == "host" || name == "port" {
                guard (name == "host" ? hostParameter : portParameter) == nil else {
                    throw FieldError("query parameter \(name) is given twice")
                }
                if name == "host" { hostParameter = value } else { portParameter = value }
            } else if name == "target_session_attrs" {
                guard let attrs = TargetSessionAttrs(rawValue: value) else {
                    let choices = TargetSessionAttrs.allCases.map(\.rawValue).joined(separator: ", ")
                    throw FieldError("target_session_attrs \"\(value)\" is not one of \(choices)")
                }
                targetSessionAttrs = attrs
            } else {
                parameters[name] = value
            }
        }
        if hostParameter != nil || portParameter != nil {
            hosts = try Self.hostsFromParameters(host: hostParameter, port: portParameter, urlHosts: hosts)
        }
        try tls.validate()
        var url = BackendURL(
            hosts: hosts, user: user, password: password, database: database,
            targetSessionAttrs: targetSessionAttrs, parameters: parameters
        )
        url.tls = tls
        url.requireAuth = requireAuth
        url.channelBindingRequired = channelBindingRequired
        if channelBindingRequired, tls.mode == .disable {
            throw FieldError("channel_binding=require needs TLS: add sslmode=require (or prefer, verify-ca, verify-full)")
        }
        return url
    }

    /// libpq connection options that are not startup parameters: the harmless values are taken (and change
    /// nothing), the ones that would demand what the proxy cannot do yet are refused rather than ignored.
    private static func consumeUnsupportedAuthParameter(_ name: String, _ value: String) throws(FieldError) -> Bool {
        switch name {
        case "channel_binding":
            guard value == "disable" || value == "prefer" else {
                throw FieldError("channel_binding \"\(value)\" is not one of disable, prefer, require")
            }
            return true
        default:
            return false
        }
    }

    /// Decodes `%XX` escapes (UTF-8); a `%` not followed by two hex digits stays as it is.
    /// libpq: `host=a,b` and `port=p1,p2` (one port for all, or one per host); a missing one keeps the URL's.
    private static func hostsFromParameters(host: String?, port: String?, urlHosts: [HostAndPort]) throws(FieldError)
        -> [HostAndPort] {
        let names = host.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            ?? urlHosts.map(\.host)
        var ports: [Int] = []
        for text in (port ?? "").split(separator: ",", omittingEmptySubsequences: false) where port != nil {
            guard let value = Int(text), 1...65535 ~= value else { throw FieldError("port \"\(text)\" is not a port number") }
            ports.append(value)
        }
        guard ports.isEmpty || ports.count == 1 || ports.count == names.count else {
            throw FieldError("has \(ports.count) ports for \(names.count) hosts")
        }
        var hosts: [HostAndPort] = []
        for (index, name) in names.enumerated() {
            guard !name.isEmpty else { throw FieldError("has an empty host") }
            let port = ports.isEmpty ? (index < urlHosts.count ? urlHosts[index].port : 5432)
                : ports[ports.count == 1 ? 0 : index]
            var parsed = try HostAndPort.parse(name, defaultPort: port, allowPortZero: false)
            parsed.port = port
            hosts.append(parsed)
        }
        return hosts
    }

    static func percentDecode(_ text: Substring) -> String {
        guard text.contains("%") else { return String(text) }
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The URL with the password replaced by `********` (safe for logs and `SHOW CONFIG`).
    public var description: String { urlString(encodedPassword: password == nil ? nil : "********") }

    /// The URL in canonical form, with the real password (percent-encoded as needed).
    func urlString(password: String?) -> String {
        urlString(encodedPassword: password.map(percentEncode))
    }

    private func urlString(encodedPassword: String?) -> String {
        var text = "postgresql://" + percentEncode(user)
        if let encodedPassword { text += ":" + encodedPassword }
        // A socket directory's slashes are percent-encoded, as libpq reads them back.
        let hostList = hosts.map { $0.isSocketDirectory ? percentEncode($0.host) + ":\($0.port)" : $0.description }
        text += "@" + hostList.joined(separator: ",") + "/" + percentEncode(database)
        var query: [String] = []
        if targetSessionAttrs != .any { query.append("target_session_attrs=\(targetSessionAttrs.rawValue)") }
        let requireAuthItem = (requireAuth.map { [("require_auth", $0.text)] } ?? [])
            + (channelBindingRequired ? [("channel_binding", "require")] : [])
        for (name, value) in parameters.sorted(by: { $0.key < $1.key }) + tls.queryItems + requireAuthItem {
            query.append(percentEncode(name) + "=" + percentEncode(value))
        }
        if !query.isEmpty { text += "?" + query.joined(separator: "&") }
        return text
    }

    private func percentEncode(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            let unreserved = scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                || "-._~".unicodeScalars.contains(scalar)
            if scalar.isASCII, unreserved {
                output.unicodeScalars.append(scalar)
            } else {
                output += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return output
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
