/// One edit of a rewrite: at byte `offset` of the statement text, put the schema number `schema` (an index into
/// `MappedNameTable.schemas`).
///
/// With `replacing == 0` the schema's prefix (`schema.`) is inserted in front of an unqualified table name. With
/// `replacing > 0` the `replacing` bytes at `offset` are a legacy schema's name token (`public`, `"PUBLIC"`), which is
/// replaced by the schema's name alone: the period and the table name after it stay as written.
struct Qualification: Hashable, Comparable {
    var offset: Int
    var schema: Int
    var replacing: Int = 0

    static func < (lhs: Qualification, rhs: Qualification) -> Bool {
        (lhs.offset, lhs.schema, lhs.replacing) < (rhs.offset, rhs.schema, rhs.replacing)
    }
}
