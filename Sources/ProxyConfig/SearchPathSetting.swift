/// `search_path` of a service (or of `defaults`): what server connections start with.
public enum SearchPathSetting: Sendable, Equatable {
    /// Absent (or null): the server's own search_path (postgresql.conf, ALTER ROLE / DATABASE ... SET).
    case server
    /// A list: exactly these schemas, as written (quotes kept).
    case schemas([String])
    /// `auto`: the mapped schemas in the order `schemas:` lists them, then the server's own search_path, so catalog
    /// tools that look tables up through `current_schemas()` (pgbench, psql `\d`, SQLAlchemy reflection) find them.
    case auto

    /// How it is written in the config file (for `SHOW CONFIG` and `SHOW SERVICES`).
    public var written: String {
        switch self {
        case .server: return ""
        case .schemas(let list): return list.joined(separator: ", ")
        case .auto: return "auto"
        }
    }
}
