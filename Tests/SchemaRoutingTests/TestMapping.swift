@testable import SchemaRouting

/// The mapping the rewrite tests use: the product's example services, pgbench's tables, a quoted mixed-case
/// table under a schema that needs quoting, a schema that is a keyword, and a non-ASCII table name.
enum TestMapping {
    static let mapping: SchemaMapping = {
        do {
            return try SchemaMapping(schemas: [
                "shared_common": ["users", "attachments"],
                "saju_service": ["saju_charts", "kasi_cache", "운세"],
                "bench": ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"],
                "\"Analytics\"": ["\"MixedCase\"", "events"],
                "order": ["line_items"],
            ])
        } catch {
            fatalError("test mapping rejected: \(error)")
        }
    }()
}
