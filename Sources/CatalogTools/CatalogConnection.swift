import CLibPQ
import Foundation
import ProxyConfig

/// A plain libpq connection for the command line's catalog tools (`mapping discover`, `check --live`): connect,
/// run a query, read its rows as text. Never used by the proxy itself.
public final class CatalogConnection {
    private let connection: OpaquePointer

    /// Connects with a libpq connection string or URL (`postgresql://user:pw@host:5432/db`).
    public convenience init(url: String) throws(CatalogError) {
        try self.init(keywords: ["dbname"], values: [url], expandDatabase: true)
    }

    /// Connects to a service's backend: its hosts in order, user, password, database, and the URL parameters libpq
    /// knows (`sslmode`, `connect_timeout`, `target_session_attrs`, ...).
    public convenience init(backend: BackendURL) throws(CatalogError) {
        var keywords = ["host", "port", "user", "dbname", "target_session_attrs"]
        var values = [
            backend.hosts.map(\.host).joined(separator: ","),
            backend.hosts.map { String($0.port) }.joined(separator: ","),
            backend.user,
            backend.database,
            backend.targetSessionAttrs.rawValue,
        ]
        if let password = backend.password {
            keywords.append("password")
            values.append(password)
        }
        let known = Self.knownKeywords()
        for (key, value) in backend.parameters.sorted(by: { $0.key < $1.key }) where known.contains(key) {
            keywords.append(key)
            values.append(value)
        }
        try self.init(keywords: keywords, values: values, expandDatabase: false)
    }

    private init(keywords: [String], values: [String], expandDatabase: Bool) throws(CatalogError) {
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
                        PQconnectdbParams(keywords.baseAddress, values.baseAddress, expandDatabase ? 1 : 0)
                    }
                }
            }
        }
        guard let connection else {
            throw CatalogError("cannot connect: out of memory")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw CatalogError("cannot connect: \(message)")
        }
        self.connection = connection
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
