import CLibPQ
import Foundation
import ProxyConfig

/// A plain libpq connection for the command line's catalog tools (`mapping discover`, `check --live`): connect,
/// run a query, read its rows as text. Never used by the proxy itself.
///
/// libpq 15 (Debian's) knows neither `require_auth` nor `sslnegotiation`: when libpq does not, `require_auth` is
/// enforced here (`AuthenticationRequestCheck` sees each authentication request before libpq answers it),
/// `sslnegotiation=postgres` is dropped (it is what libpq does anyway) and `sslnegotiation=direct` is refused.
public final class CatalogConnection {
    private let connection: OpaquePointer

    /// Connects with a libpq URL (`postgresql://user:pw@host:5432/db?sslmode=require&require_auth=scram-sha-256`)
    /// or connection string.
    public convenience init(url: String) throws(CatalogError) {
        var (url, requireAuth, negotiation) = (url, nil as String?, nil as String?)
        let known = Self.knownKeywords()
        if !known.contains("require_auth") { requireAuth = Self.takeQueryParameter("require_auth", from: &url) }
        if !known.contains("sslnegotiation") { negotiation = Self.takeQueryParameter("sslnegotiation", from: &url) }
        var check: AuthenticationRequestCheck?
        if let requireAuth {
            do {
                check = AuthenticationRequestCheck(required: try RequiredAuthentication(parsing: requireAuth))
            } catch {
                throw CatalogError("\(error)")
            }
        }
        try Self.checkNegotiation(negotiation)
        var keywords = ["dbname"]
        var values = [url]
        if check != nil, !url.contains("gssencmode") {
            // GSSAPI encryption would hide the authentication requests from the check.
            keywords.append("gssencmode")
            values.append("disable")
        }
        try self.init(keywords: keywords, values: values, expandDatabase: true, check: check)
    }

    /// Connects to a service's backend: its hosts in order, user, password, database, its TLS settings
    /// (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `channel_binding`), `require_auth`, and the URL parameters
    /// libpq knows (`connect_timeout`, ...).
    public convenience init(backend: BackendURL) throws(CatalogError) {
        let known = Self.knownKeywords()
        var keywords = ["host", "port", "user", "dbname", "target_session_attrs", "sslmode"]
        var values = [
            backend.hosts.map(\.host).joined(separator: ","),
            backend.hosts.map { String($0.port) }.joined(separator: ","),
            backend.user,
            backend.database,
            backend.targetSessionAttrs.rawValue,
            backend.tls.mode.rawValue,
        ]
        if let password = backend.password {
            keywords.append("password")
            values.append(password)
        }
        let files = [("sslrootcert", backend.tls.rootCertificateFile), ("sslcert", backend.tls.certificateFile),
                     ("sslkey", backend.tls.keyFile), ("sslpassword", backend.tls.keyPassword),
                     ("sslcrl", backend.tls.crlFile), ("sslcrldir", backend.tls.crlDirectory)]
        for (keyword, value) in files where known.contains(keyword) {
            if let value {
                keywords.append(keyword)
                values.append(value)
            }
        }
        if backend.tls.directNegotiation {
            try Self.checkNegotiation(known.contains("sslnegotiation") ? nil : "direct")
            keywords.append("sslnegotiation")
            values.append("direct")
        }
        if backend.channelBindingRequired {
            keywords.append("channel_binding")
            values.append("require")
        }
        var check: AuthenticationRequestCheck?
        if let requireAuth = backend.requireAuth {
            if known.contains("require_auth") {
                keywords.append("require_auth")
                values.append(requireAuth.text)
            } else {
                check = AuthenticationRequestCheck(required: requireAuth)
                if backend.parameters["gssencmode"] == nil {
                    keywords.append("gssencmode")
                    values.append("disable")
                }
            }
        }
        for (key, value) in backend.parameters.sorted(by: { $0.key < $1.key }) where known.contains(key) {
            keywords.append(key)
            values.append(value)
        }
        try self.init(keywords: keywords, values: values, expandDatabase: false, check: check)
    }

    private init(keywords: [String], values: [String], expandDatabase: Bool,
                 check: AuthenticationRequestCheck?) throws(CatalogError) {
        let keywordPointers = keywords.map { strdup($0) } + [nil]
        let valuePointers = values.map { strdup($0) } + [nil]
        defer {
            keywordPointers.forEach { free($0) }
            valuePointers.forEach { free($0) }
        }
        let connection = keywordPointers.withUnsafeBufferPointer { keywords in
            valuePointers.withUnsafeBufferPointer { values in
                keywords.withMemoryRebound(to: UnsafePointer<CChar>?.self) { keywords in
                    values.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                        let expand: Int32 = expandDatabase ? 1 : 0
                        // With a check the login runs step by step (LibPQLogin); else libpq runs it to the end.
                        return check == nil ? PQconnectdbParams(keywords.baseAddress, values.baseAddress, expand)
                            : PQconnectStartParams(keywords.baseAddress, values.baseAddress, expand)
                    }
                }
            }
        }
        guard let connection else {
            throw CatalogError("cannot connect: out of memory")
        }
        if var check {
            do {
                try LibPQLogin(connection: connection).run(checking: &check)
            } catch {
                PQfinish(connection)
                throw error
            }
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw CatalogError("cannot connect: \(message)")
        }
        self.connection = connection
    }

    /// Removes `name=value` from a URL's query, or from a `key=value` connection string, and returns the value
    /// (percent-decoded, or unquoted); nil if absent.
    static func takeQueryParameter(_ name: String, from url: inout String) -> String? {
        guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") else {
            return Self.takeKeywordParameter(name, from: &url)
        }
        guard let question = url.firstIndex(of: "?") else { return nil }
        var found: String?
        var kept: [Substring] = []
        for pair in url[url.index(after: question)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts[0] == name {
                found = parts.count == 2 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            } else {
                kept.append(pair)
            }
        }
        guard found != nil else { return nil }
        url = String(url[..<question]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
        return found
    }

    /// libpq's `key = value` form: the value is a word, or single-quoted with `\'` and `\\` escapes.
    private static func takeKeywordParameter(_ name: String, from text: inout String) -> String? {
        let valuePattern = #"('(?:[^'\\]|\\.)*'|[^\s']+)"#
        let pattern = #"(^|\s)"# + NSRegularExpression.escapedPattern(for: name) + #"\s*=\s*"# + valuePattern
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
              let whole = Range(match.range, in: text), let valueRange = Range(match.range(at: 2), in: text) else {
            return nil
        }
        var value = String(text[valueRange])
        if value.hasPrefix("'") {
            value = String(value.dropFirst().dropLast())
            var unescaped = ""
            var escaping = false
            for character in value {
                if !escaping, character == "\\" { escaping = true; continue }
                unescaped.append(character)
                escaping = false
            }
            value = unescaped
        }
        text.replaceSubrange(whole, with: match.range(at: 1).length > 0 ? " " : "")
        return value
    }

    private static func checkNegotiation(_ value: String?) throws(CatalogError) {
        guard let value, value != "postgres" else { return }
        if value == "direct" {
            throw CatalogError("sslnegotiation=direct needs libpq 17; this libpq (\(PQlibVersion() / 10000)) only "
                               + "negotiates TLS with an SSLRequest (use sslnegotiation=postgres, or leave it out)")
        }
        throw CatalogError("sslnegotiation \"\(value)\" is not one of postgres, direct")
    }

    deinit {
        PQfinish(connection)
    }

    /// The rows of `sql` (run with `parameters` as text `$1`, `$2`, ...), each column as text or `nil` for NULL.
    public func query(_ sql: String, _ parameters: [String] = []) throws(CatalogError) -> [[String?]] {
        let parameterPointers = parameters.map { strdup($0) }
        defer { parameterPointers.forEach { free($0) } }
        let result = parameterPointers.withUnsafeBufferPointer { pointers in
            pointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { pointers in
                PQexecParams(connection, sql, Int32(parameters.count), nil, pointers.baseAddress, nil, nil, 0)
            }
        }
        guard let result else {
            throw CatalogError("query failed: \(Self.trimmed(PQerrorMessage(connection)))")
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK || PQresultStatus(result) == PGRES_COMMAND_OK else {
            throw CatalogError("query failed: \(Self.trimmed(PQresultErrorMessage(result)))")
        }
        var rows: [[String?]] = []
        let columns = PQnfields(result)
        for row in 0..<PQntuples(result) {
            var values: [String?] = []
            for column in 0..<columns {
                if PQgetisnull(result, row, column) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, row, column)))
                }
            }
            rows.append(values)
        }
        return rows
    }

    /// The connection keywords this libpq accepts, so URL parameters it does not know are not passed to it.
    private static func knownKeywords() -> Set<String> {
        guard let options = PQconndefaults() else {
            return []
        }
        defer { PQconninfoFree(options) }
        var known: Set<String> = []
        var option = options
        while let keyword = option.pointee.keyword {
            known.insert(String(cString: keyword))
            option += 1
        }
        return known
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else {
            return "unknown error"
        }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
