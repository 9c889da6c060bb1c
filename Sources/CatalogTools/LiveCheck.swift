/// `schemaproxy check --live`: one service's mapping compared with its backend's catalog, as seen by the backend
/// user.
///
/// Errors (the mapping cannot work as written): a mapped schema that is missing or lacks USAGE, a mapped name
/// missing from its schema or of a kind a mapping cannot route (an index, a composite type), a mapped relation the
/// user has no privilege on. Warnings (it works, but the migration is not done): tables in mapped schemas that the
/// mapping leaves out, and mapped names that the backend's own search_path resolves to another schema — unqualified
/// references the rewriter never sees (dynamic SQL in functions, for one) would read that copy.
public struct LiveCheck: Sendable {
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public enum Severity: String, Sendable { case error = "ERROR", warning = "WARNING" }

        public var severity: Severity
        public var message: String

        public var description: String { "\(severity.rawValue): \(message)" }
    }

    /// A mapped schema: whether it exists and whether the backend user has USAGE on it.
    public struct SchemaState: Sendable, Equatable {
        public var name: String
        public var exists: Bool
        public var usage: Bool

        public init(name: String, exists: Bool, usage: Bool) {
            self.name = name
            self.exists = exists
            self.usage = usage
        }
    }

    /// A relation in a mapped schema, of any kind, with whether the backend user has any privilege on it.
    public struct Relation: Sendable, Equatable {
        public var schema: String
        public var name: String
        /// `pg_class.relkind`.
        public var relkind: String
        public var privileged: Bool

        public init(schema: String, name: String, relkind: String, privileged: Bool) {
            self.schema = schema
            self.name = name
            self.relkind = relkind
            self.privileged = privileged
        }
    }

    /// Folded name -> folded schema, as `SchemaMapping.schemaByTable`.
    public var mapping: [String: String]
    public var schemas: [SchemaState]
    public var relations: [Relation]
    /// Mapped name -> the schema the backend's search_path resolves it to (absent when it resolves to nothing).
    public var resolved: [String: String]
    /// The backend's search_path, for messages.
    public var searchPath: String

    public init(
        mapping: [String: String], schemas: [SchemaState], relations: [Relation], resolved: [String: String],
        searchPath: String
    ) {
        self.mapping = mapping
        self.schemas = schemas
        self.relations = relations
        self.resolved = resolved
        self.searchPath = searchPath
    }

    /// The findings, errors first, each group in a stable order.
    public var findings: [Finding] {
        var errors: [Finding] = []
        var warnings: [Finding] = []
        let unusableSchemas = Set(schemas.filter { !$0.exists || !$0.usage }.map(\.name))
        for schema in schemas.sorted(by: { $0.name < $1.name }) {
            if !schema.exists {
                errors.append(Finding(severity: .error, message: "schema \(Self.show(schema.name)) does not exist"))
            } else if !schema.usage {
                errors.append(Finding(
                    severity: .error,
                    message: "the backend user has no USAGE on schema \(Self.show(schema.name)): "
                        + "nothing in it can be read"
                ))
            }
        }
        let byQualifiedName = Dictionary(
            relations.map { ("\($0.schema).\($0.name)", $0) }, uniquingKeysWith: { first, _ in first }
        )
        for (name, schema) in mapping.sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) })
        where !unusableSchemas.contains(schema) {
            let qualified = "\(Self.show(schema)).\(Self.show(name))"
            guard let relation = byQualifiedName["\(schema).\(name)"] else {
                errors.append(Finding(severity: .error, message: "\(qualified) does not exist"))
                continue
            }
            guard let kind = CatalogObject.Kind(relkind: relation.relkind) else {
                errors.append(Finding(
                    severity: .error,
                    message: "\(qualified) is \(Self.kindName(relation.relkind)), not a table, view or sequence"
                ))
                continue
            }
            if !relation.privileged {
                errors.append(Finding(
                    severity: .error, message: "the backend user has no privilege on \(kind.rawValue) \(qualified)"
                ))
            }
        }
        for relation in relations.sorted(by: { ($0.schema, $0.name) < ($1.schema, $1.name) })
        where CatalogObject.Kind(relkind: relation.relkind)?.isTable == true
            && mapping[relation.name] != relation.schema
        {
            let qualified = "\(Self.show(relation.schema)).\(Self.show(relation.name))"
            if let other = mapping[relation.name] {
                warnings.append(Finding(
                    severity: .warning,
                    message: "\(qualified) is left out: the mapping routes \(Self.show(relation.name)) to "
                        + Self.show(other)
                ))
            } else {
                warnings.append(Finding(
                    severity: .warning, message: "table \(qualified) is in a mapped schema but not in the mapping"
                ))
            }
        }
        for (name, schema) in mapping.sorted(by: { $0.key < $1.key }) {
            guard let found = resolved[name], found != schema else {
                continue
            }
            warnings.append(Finding(
                severity: .warning,
                message: "\(Self.show(name)) resolves to \(Self.show(found)).\(Self.show(name)) through the backend's "
                    + "search_path (\(searchPath)), but the mapping routes it to \(Self.show(schema)): unqualified "
                    + "references the proxy does not rewrite (dynamic SQL in functions) read the copy in "
                    + "\(Self.show(found))"
            ))
        }
        return errors + warnings
    }

    static func show(_ name: String) -> String {
        SchemaRoutingName.quoted(name)
    }

    static func kindName(_ relkind: String) -> String {
        switch relkind {
        case "i", "I": return "an index"
        case "c": return "a composite type"
        case "t": return "a TOAST table"
        default: return "a relation of kind '\(relkind)'"
        }
    }

    // MARK: - Queries

    /// Each mapped schema: exists, USAGE. `$1`: the schema names as a text array.
    public static let schemasQuery = """
        SELECT s, n.oid IS NOT NULL, COALESCE(has_schema_privilege(n.oid, 'USAGE'), false)
          FROM unnest($1::text[]) AS s LEFT JOIN pg_namespace n ON n.nspname = s
         ORDER BY s
        """

    /// Every relation of the mapped schemas that have USAGE, with whether the user holds any privilege on it.
    public static let relationsQuery = """
        SELECT n.nspname, c.relname, c.relkind::text,
               CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'USAGE,SELECT,UPDATE')
                    WHEN c.relkind IN ('r', 'p', 'v', 'm', 'f')
                    THEN has_table_privilege(c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER')
                    ELSE false END
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'i', 'I', 'c')
         ORDER BY 1, 2
        """

    /// The schema each name resolves to through the session's search_path. `$1`: the names as a text array.
    public static let resolutionQuery = """
        SELECT x, n.nspname
          FROM unnest($1::text[]) AS x
          LEFT JOIN pg_class c ON c.oid = to_regclass(quote_ident(x))
          LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
        """

    /// Runs the queries on `connection` (whose search_path must be the one server connections get).
    public static func run(
        mapping: [String: String], on connection: CatalogConnection
    ) throws(CatalogError) -> LiveCheck {
        let schemaNames = Array(Set(mapping.values)).sorted()
        let schemaRows = try connection.query(schemasQuery, [CatalogObject.arrayLiteral(schemaNames)])
        let schemas = schemaRows.compactMap { row -> SchemaState? in
            guard row.count == 3, let name = row[0] else { return nil }
            return SchemaState(name: name, exists: row[1] == "t", usage: row[2] == "t")
        }
        let relationRows = try connection.query(relationsQuery, [CatalogObject.arrayLiteral(schemaNames)])
        let relations = relationRows.compactMap { row -> Relation? in
            guard row.count == 4, let schema = row[0], let name = row[1], let relkind = row[2] else { return nil }
            return Relation(schema: schema, name: name, relkind: relkind, privileged: row[3] == "t")
        }
        let resolutionRows = try connection.query(
            resolutionQuery, [CatalogObject.arrayLiteral(mapping.keys.sorted())]
        )
        var resolved: [String: String] = [:]
        for row in resolutionRows where row.count == 2 {
            if let name = row[0], let schema = row[1] {
                resolved[name] = schema
            }
        }
        let searchPath = try connection.query("SELECT current_setting('search_path')").first?.first ?? nil
        return LiveCheck(
            mapping: mapping, schemas: schemas, relations: relations, resolved: resolved,
            searchPath: searchPath ?? ""
        )
    }
}
