import Testing
@testable import SchemaRouting

@Suite("SchemaMapping")
struct SchemaMappingTests {
    @Test("plain names fold to lower case, quoted names are exact")
    func folding() throws {
        let mapping = try SchemaMapping(schemas: [
            "Shared_Common": ["Users", "\"Attachments\"", "\"odd\"\"name\"", "운세"],
            "\"Tenant A\"": ["\"MixedCase\""],
        ])
        #expect(mapping.schema(forTable: "users") == "shared_common")
        #expect(mapping.schema(forTable: "Users") == nil)
        #expect(mapping.schema(forTable: "Attachments") == "shared_common")
        #expect(mapping.schema(forTable: "attachments") == nil)
        #expect(mapping.schema(forTable: "odd\"name") == "shared_common")
        #expect(mapping.schema(forTable: "운세") == "shared_common")
        #expect(mapping.schema(forTable: "MixedCase") == "Tenant A")
        #expect(mapping.schema(forTable: "mixedcase") == nil)
        #expect(!mapping.isEmpty)
    }

    @Test("one table under two schemas is an error naming the table and both schemas")
    func duplicateTable() {
        #expect {
            try SchemaMapping(schemas: ["a": ["users"], "b": ["x", "USERS"]])
        } throws: { error in
            guard let error = error as? SchemaMappingError else { return false }
            return error.kind == .duplicateTable && error.description.contains("'users'")
                && error.description.contains("'a'") && error.description.contains("'b'")
        }
    }

    @Test("quoted and plain spellings that differ are different tables")
    func quotedIsNotDuplicate() throws {
        let mapping = try SchemaMapping(schemas: ["a": ["users"], "b": ["\"Users\""]])
        #expect(mapping.schema(forTable: "users") == "a")
        #expect(mapping.schema(forTable: "Users") == "b")
    }

    @Test("the same table twice under one schema is harmless")
    func repeatedUnderOneSchema() throws {
        let mapping = try SchemaMapping(schemas: ["a": ["users", "USERS", "\"users\""]])
        #expect(mapping.schemaByTable == ["users": "a"])
    }

    @Test("invalid names are rejected with the name in the message", arguments: [
        ["a": [""]], ["a": ["\"unterminated"]], ["a": ["public.users"]], ["a": ["1st"]], ["a": ["has space"]],
        ["a": ["\"\""]], ["a": ["\"a\"b\""]], ["": ["users"]], ["a": [String(repeating: "x", count: 64)]],
    ])
    func invalidNames(_ schemas: [String: [String]]) {
        #expect {
            try SchemaMapping(schemas: schemas)
        } throws: { error in
            (error as? SchemaMappingError)?.kind == .invalidName
        }
    }

    @Test("63-byte names are allowed")
    func longestName() throws {
        let name = String(repeating: "x", count: 63)
        #expect(try SchemaMapping(schemas: ["a": [name]]).schema(forTable: name) == "a")
    }

    @Test("equal mappings compare equal however they were spelled")
    func equality() throws {
        let first = try SchemaMapping(schemas: ["A": ["Users", "x"]])
        let second = try SchemaMapping(schemas: ["a": ["x", "\"users\""]])
        #expect(first == second)
        #expect(first != SchemaMapping.empty)
        #expect(SchemaMapping.empty.isEmpty)
        #expect(try SchemaMapping(schemas: [:]) == .empty)
    }

    @Test("schema names are quoted exactly when PostgreSQL needs it", arguments: [
        ("shared_common", "shared_common"), ("a$1", "a$1"), ("_x", "_x"),
        ("Analytics", "\"Analytics\""), ("order", "\"order\""), ("user", "\"user\""), ("select", "\"select\""),
        ("name", "\"name\""), ("1a", "\"1a\""), ("a b", "\"a b\""), ("a\"b", "\"a\"\"b\""), ("운세", "\"운세\""),
    ])
    func quoting(_ name: String, _ written: String) {
        #expect(SQLIdentifier.quotedIfNeeded(name) == written)
    }
}
