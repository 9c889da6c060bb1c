import Testing
@testable import CatalogTools

@Suite("LiveCheck")
struct LiveCheckTests {
    static let mapping = ["users": "shared_common", "users_id_seq": "shared_common", "charts": "saju", "idx": "saju"]

    static func check(
        schemas: [LiveCheck.SchemaState] = [
            .init(name: "saju", exists: true, usage: true), .init(name: "shared_common", exists: true, usage: true),
        ],
        relations: [LiveCheck.Relation] = [
            .init(schema: "shared_common", name: "users", relkind: "r", privileged: true),
            .init(schema: "shared_common", name: "users_id_seq", relkind: "S", privileged: true),
            .init(schema: "saju", name: "charts", relkind: "p", privileged: true),
            .init(schema: "saju", name: "idx", relkind: "v", privileged: true),
        ],
        resolved: [String: String] = [:]
    ) -> [String] {
        LiveCheck(mapping: mapping, schemas: schemas, relations: relations, resolved: resolved, searchPath: "public")
            .findings.map(\.description)
    }

    @Test("a catalog that matches the mapping has nothing to say")
    func clean() {
        #expect(Self.check() == [])
        #expect(Self.check(resolved: ["users": "shared_common"]) == [])
    }

    @Test("each mistake is reported, errors before warnings")
    func mistakes() {
        let findings = Self.check(
            relations: [
                .init(schema: "shared_common", name: "users", relkind: "r", privileged: false),
                .init(schema: "saju", name: "charts", relkind: "r", privileged: true),
                .init(schema: "saju", name: "idx", relkind: "i", privileged: false),
                .init(schema: "saju", name: "forgotten", relkind: "r", privileged: true),
                .init(schema: "saju", name: "forgotten_idx", relkind: "i", privileged: false),
            ],
            resolved: ["users": "public", "charts": "saju"]
        )
        #expect(findings == [
            "ERROR: saju.idx is an index, not a table, view or sequence",
            "ERROR: the backend user has no privilege on table shared_common.users",
            "ERROR: shared_common.users_id_seq does not exist",
            "WARNING: table saju.forgotten is in a mapped schema but not in the mapping",
            "WARNING: users resolves to public.users through the backend's search_path (public), but the mapping "
                + "routes it to shared_common: unqualified references the proxy does not rewrite (dynamic SQL in "
                + "functions) read the copy in public",
        ])
    }

    @Test("a missing or inaccessible schema is one error, not one per name in it")
    func schemas() {
        let findings = Self.check(
            schemas: [
                .init(name: "saju", exists: false, usage: false),
                .init(name: "shared_common", exists: true, usage: false),
            ],
            relations: []
        )
        #expect(findings == [
            "ERROR: schema saju does not exist",
            "ERROR: the backend user has no USAGE on schema shared_common: nothing in it can be read",
        ])
    }
}
