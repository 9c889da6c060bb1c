import Testing
@testable import CatalogTools

@Suite("DiscoveredMapping")
struct DiscoveredMappingTests {
    static let order = ["shared_common", "saju_service", "dream_service"]
    static let objects = [
        CatalogObject(schema: "shared_common", name: "users", kind: .table),
        CatalogObject(schema: "shared_common", name: "users_id_seq", kind: .sequence, ownedBy: "users"),
        CatalogObject(schema: "shared_common", name: "attachments", kind: .table),
        CatalogObject(schema: "shared_common", name: "attachments_id_seq", kind: .sequence, ownedBy: "attachments"),
        CatalogObject(schema: "shared_common", name: "a_free_seq", kind: .sequence),
        CatalogObject(schema: "shared_common", name: "Mixed Case", kind: .view),
        CatalogObject(schema: "saju_service", name: "kasi_cache", kind: .materializedView),
        CatalogObject(schema: "saju_service", name: "events", kind: .partitionedTable),
        CatalogObject(schema: "dream_service", name: "events", kind: .table),
        CatalogObject(schema: "dream_service", name: "order", kind: .foreignTable),
    ]

    @Test("schemas in the order asked for, names sorted, owned sequences right after their table")
    func order() {
        let mapping = DiscoveredMapping(objects: Self.objects, schemaOrder: Self.order)
        #expect(mapping.schemas.map(\.schema) == ["shared_common", "saju_service", "dream_service"])
        #expect(mapping.schemas[0].names == [
            "Mixed Case", "a_free_seq", "attachments", "attachments_id_seq", "users", "users_id_seq",
        ])
        #expect(mapping.conflicts == [.init(name: "events", schemas: ["saju_service", "dream_service"])])
        // The same input in another order gives the same output.
        #expect(DiscoveredMapping(objects: Self.objects.reversed(), schemaOrder: Self.order) == mapping)
    }

    @Test("YAML: a conflict is a comment under each schema that has it, never an entry; names quoted as needed")
    func yaml() {
        let text = DiscoveredMapping(objects: Self.objects, schemaOrder: Self.order).yaml()
        #expect(text == """
            schemas:
              shared_common:
                - '"Mixed Case"'
                - a_free_seq
                - attachments
                - attachments_id_seq
                - users
                - users_id_seq
              saju_service:
                - kasi_cache
                # - events    # CONFLICT: also in dream_service; route it to one schema only
              dream_service:
                - '"order"'
                # - events    # CONFLICT: also in saju_service; route it to one schema only
            # 1 name(s) exist in several schemas and are left out above (commented):
            #   events: saju_service, dream_service

            """)
    }

    @Test("JSON lists routed names per schema and the conflicts")
    func json() {
        let text = DiscoveredMapping(objects: Self.objects, schemaOrder: ["saju_service", "dream_service"]).json()
        #expect(text.contains("\"conflicts\""))
        #expect(text.contains("\"kasi_cache\""))
        #expect(!text.contains("\"users\""))
    }

    @Test("relkinds a mapping cannot route are dropped")
    func rows() {
        let objects = CatalogObject.objects(fromRows: [
            ["s", "t", "r", nil], ["s", "i", "i", nil], ["s", "q", "S", "t"], ["s", "c", "c", nil],
        ])
        #expect(objects == [
            CatalogObject(schema: "s", name: "t", kind: .table),
            CatalogObject(schema: "s", name: "q", kind: .sequence, ownedBy: "t"),
        ])
        #expect(CatalogObject.arrayLiteral(["a", "b\"c", "d\\e"]) == #"{"a","b\"c","d\\e"}"#)
    }
}
