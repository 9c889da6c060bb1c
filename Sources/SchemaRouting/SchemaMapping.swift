/// The mapping table of one service: which schema each unqualified table name is routed to.
///
/// Names follow PostgreSQL's identifier rules as written in the config file: a plain name folds to lower case, a
/// double-quoted name (`"Users"`) is exact. The mapping is a value: equal mappings compare equal, so a reload can
/// tell whether a service's rewriter (and its cache) must be replaced.
public struct SchemaMapping: Sendable, Hashable {
    /// Folded table name -> folded schema name.
    public let schemaByTable: [String: String]
    /// Folded schema names whose qualifier is replaced like a missing one (`legacy_schemas`): `public.users` is
    /// routed like `users` when `users` is mapped. Sorted, so equal lists compare equal.
    public let legacySchemas: [String]

    /// Builds the mapping from `schema -> [table]` as written in the config file.
    /// Throws if a name is not a valid identifier, or if one table (after folding) is listed under two schemas;
    /// the message names the table and both schemas.
    public init(schemas: [String: [String]], legacySchemas: [String] = []) throws(SchemaMappingError) {
        var schemaByTable: [String: String] = [:]
        var writtenSchema: [String: String] = [:]
        // Sorted so that the error for a table listed three times is the same on every run.
        for (writtenSchemaName, tables) in schemas.sorted(by: { $0.key < $1.key }) {
            let schema = try SQLIdentifier.fold(configName: writtenSchemaName, role: "schema")
            for writtenTable in tables {
                let table = try SQLIdentifier.fold(configName: writtenTable, role: "table")
                if let existing = schemaByTable[table], existing != schema {
                    throw SchemaMappingError(
                        kind: .duplicateTable,
                        description: "table '\(table)' is listed under two schemas: "
                            + "'\(writtenSchema[table] ?? existing)' and '\(writtenSchemaName)'"
                    )
                }
                schemaByTable[table] = schema
                writtenSchema[table] = writtenSchemaName
            }
        }
        self.schemaByTable = schemaByTable
        var legacy: Set<String> = []
        for written in legacySchemas {
            legacy.insert(try SQLIdentifier.fold(configName: written, role: "legacy schema"))
        }
        self.legacySchemas = legacy.sorted()
    }

    private init(folded: [String: String]) {
        self.schemaByTable = folded
        self.legacySchemas = []
    }

    /// A mapping that routes nothing: the rewriter then returns `.unchanged` at once.
    public static let empty = SchemaMapping(folded: [:])

    public var isEmpty: Bool { schemaByTable.isEmpty }

    /// The schema for `name`, the table name as the parser reports it (already folded or unquoted), if mapped.
    public func schema(forTable name: String) -> String? {
        schemaByTable[name]
    }
}
