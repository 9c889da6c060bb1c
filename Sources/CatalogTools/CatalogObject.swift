/// One relation of the backend's catalog that a mapping can route: a table, partitioned table, view, materialized
/// view, foreign table or sequence.
public struct CatalogObject: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case table, partitionedTable = "partitioned table", view, materializedView = "materialized view"
        case foreignTable = "foreign table", sequence

        /// From `pg_class.relkind`; `nil` for kinds a mapping does not route (indexes, composite types, TOAST).
        public init?(relkind: String) {
            switch relkind {
            case "r": self = .table
            case "p": self = .partitionedTable
            case "v": self = .view
            case "m": self = .materializedView
            case "f": self = .foreignTable
            case "S": self = .sequence
            default: return nil
            }
        }

        /// Tables of any kind: what has privileges worth checking and what "left out of the mapping" means.
        public var isTable: Bool { self == .table || self == .partitionedTable || self == .foreignTable }
    }

    /// Exact (folded) names, as the catalog stores them.
    public var schema: String
    public var name: String
    public var kind: Kind
    /// For a sequence owned by a table column (`serial`, identity, `OWNED BY`): that table's name.
    public var ownedBy: String?

    public init(schema: String, name: String, kind: Kind, ownedBy: String? = nil) {
        self.schema = schema
        self.name = name
        self.kind = kind
        self.ownedBy = ownedBy
    }

    /// The relations of `schemas` that a mapping can route, owned sequences with the table they belong to.
    public static let catalogQuery = """
        SELECT n.nspname, c.relname, c.relkind::text,
               (SELECT t.relname FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                 WHERE c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                 ORDER BY t.relname LIMIT 1)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname = ANY($1::text[])
         ORDER BY n.nspname, c.relname
        """

    /// Every schema but the system ones and `public`: what `mapping discover` looks at by default.
    public static let defaultSchemasQuery = """
        SELECT nspname FROM pg_namespace
         WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' AND nspname <> 'public'
         ORDER BY nspname
        """

    /// `names` as a PostgreSQL text array literal, for `= ANY($1::text[])`.
    public static func arrayLiteral(_ names: [String]) -> String {
        let elements = names.map { name in
            "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return "{" + elements.joined(separator: ",") + "}"
    }

    /// The objects of a `catalogQuery` result.
    public static func objects(fromRows rows: [[String?]]) -> [CatalogObject] {
        rows.compactMap { row in
            guard row.count >= 4, let schema = row[0], let name = row[1], let relkind = row[2],
                  let kind = Kind(relkind: relkind)
            else {
                return nil
            }
            return CatalogObject(schema: schema, name: name, kind: kind, ownedBy: row[3])
        }
    }
}
