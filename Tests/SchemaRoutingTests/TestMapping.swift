@testable import SchemaRouting

/// The mapping the rewrite tests use: the product's example services, pgbench's tables, a quoted mixed-case
/// table under a schema that needs quoting, a schema that is a keyword, and a non-ASCII table name; a sequence and a
/// view; and the legacy schemas `public` and `"Legacy"` (names qualified with them are routed like unqualified ones).
enum TestMapping {
    static let mapping: SchemaMapping = {
        do {
            return try SchemaMapping(schemas: [
                "shared_common": ["users", "attachments", "attachments_id_seq", "user_summary"],
                "saju_service": ["saju_charts", "kasi_cache", "운세"],
                "bench": ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"],
                "\"Analytics\"": ["\"MixedCase\"", "events"],
                "order": ["line_items"],
            ], legacySchemas: ["public", "\"Legacy\""])
        } catch {
            fatalError("test mapping rejected: \(error)")
        }
    }()
}
