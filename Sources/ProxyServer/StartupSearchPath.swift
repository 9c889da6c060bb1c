import ProxyConfig
import ProxySession
import SchemaRouting

/// The search_path a service's server connections are started with. It goes into the startup packet, not a SET,
/// because the resets between clients (DISCARD ALL, RESET ALL) go back to the startup values.
///
/// `search_path: auto` needs the server's own search_path, which PostgreSQL 15 does not report at login: the first
/// server connection learns it (`SHOW search_path`, without a search_path of the proxy's in its startup packet) and
/// makes way for connections that start with the full value.
public enum StartupSearchPath: Sendable, Equatable {
    /// No search_path parameter: the server's own applies.
    case serverDefault
    /// This value, in the startup packet.
    case value(String)
    /// `auto` before the server's own search_path is known: learn it first.
    case learnServerDefault

    /// How the server's own search_path is learnt.
    public static let learningQuery = ServerStartupStateMachine.searchPathQuery

    /// What `setting` asks for, given the mapped schemas in file order and the server's own search_path as `SHOW
    /// search_path` printed it (nil while unknown).
    public static func resolve(
        _ setting: SearchPathSetting, schemaOrder: [String], serverDefault: String?
    ) -> StartupSearchPath {
        switch setting {
        case .server:
            return .serverDefault
        case .schemas(let list):
            return .value(list.map(Self.quoted(written:)).joined(separator: ", "))
        case .auto where schemaOrder.isEmpty:
            return .serverDefault  // nothing to put before the server's own: no need to learn it
        case .auto:
            guard let serverDefault else { return .learnServerDefault }
            return .value(Self.auto(schemaOrder: schemaOrder, serverDefault: serverDefault))
        }
    }

    /// The mapped schemas in file order, then the server's own entries, each schema once (the first place it takes):
    /// `schemas: {shared_common: ..., saju_service: ...}` on a server with `"$user", public` gives
    /// `shared_common, saju_service, "$user", public`.
    public static func auto(schemaOrder: [String], serverDefault: String) -> String {
        var seen = Set<String>()
        var entries: [String] = []
        for written in schemaOrder {
            let name = ProxyConfig.SQLIdentifier.normalize(written) ?? written
            if seen.insert(name).inserted { entries.append(SchemaRouting.SQLIdentifier.quotedIfNeeded(name)) }
        }
        for entry in Self.entries(of: serverDefault) {
            // The server's own entries keep their spelling ("$user" stays quoted, as it must).
            let name = ProxyConfig.SQLIdentifier.normalize(entry) ?? entry
            if seen.insert(name).inserted { entries.append(entry) }
        }
        return entries.joined(separator: ", ")
    }

    /// A search_path value split into its entries as written: commas outside double quotes separate them, blanks
    /// around them do not count (PostgreSQL's SplitIdentifierString). An empty value (`""`, as SHOW prints an empty
    /// search_path) has none.
    static func entries(of value: String) -> [String] {
        var entries: [String] = []
        var current = ""
        var quoted = false
        for character in value {
            if character == "\"" { quoted.toggle() }
            if character == ",", !quoted {
                entries.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        entries.append(current)
        return entries.map { $0.trimmingBlanks }.filter { !$0.isEmpty && $0 != "\"\"" }
    }

    /// A schema of a `search_path` list as written in the config (a plain name folds to lower case, a quoted one is
    /// exact), quoted for the server exactly when PostgreSQL needs it.
    static func quoted(written: String) -> String {
        SchemaRouting.SQLIdentifier.quotedIfNeeded(ProxyConfig.SQLIdentifier.normalize(written) ?? written)
    }
}

private extension String {
    var trimmingBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(self.drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
