import SchemaRouting

/// Names in messages, written as SQL needs them (`shared_common`, `"Users"`).
enum SchemaRoutingName {
    static func quoted(_ name: String) -> String {
        SQLIdentifier.quotedIfNeeded(name)
    }
}
